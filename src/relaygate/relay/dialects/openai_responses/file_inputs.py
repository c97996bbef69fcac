"""Stored files in a Responses call (relay/dialects/file_inputs.py says why):

* ``{"type": "input_image", "file_id": "<id>"}`` (or ``"image_url":
  "relaygate-file://<id>"``) becomes ``input_image`` with a base64 data URL, its
  ``detail`` kept;
* ``{"type": "input_file", "file_id": "<id>"}`` (or ``"file_url":
  "relaygate-file://<id>"``) becomes ``input_file`` with ``file_data`` (a data URL) and
  the file's name, or ``input_image`` when the file is an image.

Parts are looked for where the API takes them: the content of the ``input`` messages and
the output of ``function_call_output`` items. Both shapes are the SDK's own types.
"""

from __future__ import annotations

from typing import Any

from relaygate.relay.dialects.file_inputs import (
    FileBytes,
    FileInput,
    replace_part,
    stored_id,
    url_id,
)
from relaygate.relay.dialects.openai_responses.request import COMPACT, RESPONSES

__all__ = ["file_inputs"]

_DROPPED = ("file_id", "file_url", "file_data", "image_url")


def file_inputs(endpoint: str, payload: dict[str, Any]) -> list[FileInput]:
    items = payload.get("input")
    if endpoint not in (RESPONSES, COMPACT) or not isinstance(items, list):
        return []
    found: list[FileInput] = []
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            continue
        if item.get("type") == "function_call_output":
            parts, where = item.get("output"), f"input[{i}].output"
        else:
            parts, where = item.get("content"), f"input[{i}].content"
        if not isinstance(parts, list):
            continue
        for j, part in enumerate(parts):
            if isinstance(part, dict):
                ref = _part_input(part, f"{where}[{j}]")
                if ref is not None:
                    found.append(ref)
    return found


def _part_input(part: dict[str, Any], where: str) -> FileInput | None:
    kind = part.get("type")
    if kind not in ("input_image", "input_file"):
        return None
    uid, param = stored_id(part.get("file_id")), f"{where}.file_id"
    if uid is None:
        url_field = "image_url" if kind == "input_image" else "file_url"
        uid, param = url_id(part.get(url_field)), f"{where}.{url_field}"
    if uid is None:
        return None
    if kind == "input_image":
        return FileInput(uid, param, lambda file: _fill_image(part, file, param))
    return FileInput(uid, param, lambda file: _fill_file(part, file))


def _kept(part: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in part.items() if k not in ("type", "filename", *_DROPPED)}


def _fill_image(part: dict[str, Any], file: FileBytes, param: str) -> None:
    file.must_be_image(param)
    image = {"type": "input_image", "image_url": file.data_url(), "detail": "auto"}
    replace_part(part, {**image, **_kept(part)})


def _fill_file(part: dict[str, Any], file: FileBytes) -> None:
    if file.is_image:
        image = {"type": "input_image", "image_url": file.data_url(), "detail": "auto"}
        replace_part(part, {**image, **{k: v for k, v in _kept(part).items() if k != "detail"}})
        return
    name = part.get("filename")
    document = {
        "type": "input_file",
        "filename": name if isinstance(name, str) and name else file.name,
        "file_data": file.data_url(),
    }
    replace_part(part, {**document, **_kept(part)})
