"""Stored files in a Messages call (relay/dialects/file_inputs.py says why):

* ``{"type": "image", "source": {"type": "file", "file_id": "<id>"}}`` becomes a
  ``base64`` image source;
* ``{"type": "document", "source": {"type": "file", "file_id": "<id>"}}`` becomes a
  ``base64`` PDF source, a ``text`` source for a plain-text file, or an image block when
  the file is an image.

A ``url`` source of ``relaygate-file://<id>`` is read the same way. The blocks are
looked for in the messages and in the content of their ``tool_result`` blocks; the
``file`` source is the SDK's own type (Anthropic's Files API), whose ids never have our
ids' shape, so an Anthropic file id passes through to the upstream untouched.
"""

from __future__ import annotations

from typing import Any

from relaygate.relay.dialects.anthropic_messages.request import COUNT_TOKENS, MESSAGES
from relaygate.relay.dialects.file_inputs import (
    FileBytes,
    FileInput,
    replace_part,
    stored_id,
    url_id,
)

__all__ = ["file_inputs"]


def file_inputs(endpoint: str, payload: dict[str, Any]) -> list[FileInput]:
    messages = payload.get("messages")
    if endpoint not in (MESSAGES, COUNT_TOKENS) or not isinstance(messages, list):
        return []
    found: list[FileInput] = []
    for i, message in enumerate(messages):
        content = message.get("content") if isinstance(message, dict) else None
        _blocks(content, f"messages[{i}].content", found)
    return found


def _blocks(content: Any, where: str, found: list[FileInput]) -> None:
    if not isinstance(content, list):
        return
    for j, block in enumerate(content):
        if not isinstance(block, dict):
            continue
        here = f"{where}[{j}]"
        if block.get("type") == "tool_result":
            _blocks(block.get("content"), f"{here}.content", found)
            continue
        ref = _block_input(block, here)
        if ref is not None:
            found.append(ref)


def _block_input(block: dict[str, Any], where: str) -> FileInput | None:
    kind, source = block.get("type"), block.get("source")
    if kind not in ("image", "document") or not isinstance(source, dict):
        return None
    if source.get("type") == "file":
        uid, param = stored_id(source.get("file_id")), f"{where}.source.file_id"
    elif source.get("type") == "url":
        uid, param = url_id(source.get("url")), f"{where}.source.url"
    else:
        return None
    if uid is None:
        return None
    if kind == "image":
        return FileInput(uid, param, lambda file: _fill_image(block, file, param))
    return FileInput(uid, param, lambda file: _fill_document(block, file, param))


def _base64(file: FileBytes) -> dict[str, Any]:
    return {"type": "base64", "media_type": file.media_type, "data": file.base64()}


def _fill_image(block: dict[str, Any], file: FileBytes, param: str) -> None:
    file.must_be_image(param)
    block["source"] = _base64(file)


def _fill_document(block: dict[str, Any], file: FileBytes, param: str) -> None:
    if file.is_image:  # an image block keeps only what images take
        kept = {k: v for k, v in block.items() if k == "cache_control"}
        replace_part(block, {"type": "image", "source": _base64(file), **kept})
    elif file.is_text:
        text = file.text(param)
        block["source"] = {"type": "text", "media_type": "text/plain", "data": text}
    else:
        block["source"] = _base64(file)
