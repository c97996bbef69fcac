"""Stored files in a Chat Completions call (relay/dialects/file_inputs.py says why):

* ``{"type": "image_url", "image_url": {"url": "relaygate-file://<id>"}}`` becomes the
  same part with a base64 data URL (its ``detail`` kept);
* ``{"type": "file", "file": {"file_id": "<id>"}}`` becomes ``file_data`` (a data URL)
  with the file's name, or an ``image_url`` part when the file is an image (OpenAI's
  file parts take documents, its image parts images).

Both shapes are the SDK's own types, so a typed client sends them as they are.
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
from relaygate.relay.dialects.openai_chat.request import CHAT

__all__ = ["file_inputs"]


def file_inputs(endpoint: str, payload: dict[str, Any]) -> list[FileInput]:
    messages = payload.get("messages")
    if endpoint != CHAT or not isinstance(messages, list):
        return []
    found: list[FileInput] = []
    for i, message in enumerate(messages):
        content = message.get("content") if isinstance(message, dict) else None
        if not isinstance(content, list):
            continue
        for j, part in enumerate(content):
            if isinstance(part, dict):
                ref = _part_input(part, f"messages[{i}].content[{j}]")
                if ref is not None:
                    found.append(ref)
    return found


def _part_input(part: dict[str, Any], where: str) -> FileInput | None:
    kind = part.get("type")
    if kind == "image_url":
        image = part.get("image_url")
        uid = url_id(image.get("url") if isinstance(image, dict) else image)
        if uid is None:
            return None
        param = f"{where}.image_url.url"
        return FileInput(uid, param, lambda file: _fill_image(part, file, param))
    if kind == "file":
        inner = part.get("file")
        uid = stored_id(inner.get("file_id")) if isinstance(inner, dict) else None
        if uid is None:
            return None
        param = f"{where}.file.file_id"
        return FileInput(uid, param, lambda file: _fill_file(part, file))
    return None


def _fill_image(part: dict[str, Any], file: FileBytes, param: str) -> None:
    file.must_be_image(param)
    image = part.get("image_url")
    kept = {k: v for k, v in image.items() if k != "url"} if isinstance(image, dict) else {}
    part["image_url"] = {"url": file.data_url(), **kept}


def _fill_file(part: dict[str, Any], file: FileBytes) -> None:
    inner = part["file"]
    if file.is_image:
        extra = {k: v for k, v in part.items() if k not in ("type", "file")}
        replace_part(part, {"type": "image_url", "image_url": {"url": file.data_url()}, **extra})
        return
    name = inner.get("filename")
    part["file"] = {
        "filename": name if isinstance(name, str) and name else file.name,
        "file_data": file.data_url(),
    }
