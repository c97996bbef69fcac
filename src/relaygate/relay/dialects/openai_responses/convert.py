"""OpenAI Responses bodies to and from the canonical request and response.

The public face of the dialect's non-streaming translation: the request side is in
``input.py`` (items) and ``tools.py``, the Response object and its items in
``output.py``; here the canonical answer becomes output items, and a request's input
becomes the items the gateway stores for it. Ids are made by an injectable
:data:`~relaygate.relay.dialects.openai_responses.output.IdFactory` (a prefix in, an id
out) so that golden tests can pin them. Decisions are listed in docs/compatibility.md.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import orjson

from relaygate.relay.canonical.messages import RedactedThinking, Response, Text, Thinking, ToolCall
from relaygate.relay.dialects.openai_responses.input import parse_request
from relaygate.relay.dialects.openai_responses.output import (
    TRUNCATED,
    IdFactory,
    finished_response,
    function_call_item,
    message_item,
    new_id,
    output_text,
    read_usage,
    reasoning_item,
    response_template,
    seal_redacted,
    seal_thinking,
)
from relaygate.relay.dialects.openai_responses.tools import ToolNames

__all__ = [
    "build_response",
    "input_items",
    "new_id",
    "output_items",
    "parse_request",
    "read_usage",
    "render_response",
    "response_template",
]

Clock = Callable[[], float]


def output_items(response: Response, names: ToolNames, ids: IdFactory) -> list[dict[str, Any]]:
    """The canonical answer's blocks as output items, in order. Consecutive text blocks
    (Anthropic splits an answer around citations and dropped server-tool blocks) are one
    ``message`` with a part each: Codex takes a turn's last message as its answer. In
    an answer cut short, the last message or call is ``incomplete``, as in the stream
    (where a reasoning item is finished with its block, before the cut is known)."""
    items: list[dict[str, Any]] = []
    texts: list[str] = []

    def close_message() -> None:
        if texts:
            items.append(message_item(ids("msg"), list(texts), "completed"))
            texts.clear()

    for block in response.content:
        if isinstance(block, Text):
            if block.text:
                texts.append(block.text)
            continue
        close_message()
        if isinstance(block, Thinking):
            sealed = seal_thinking(block.signature) if block.signature else None
            items.append(reasoning_item(ids("rs"), block.text, sealed, "completed"))
        elif isinstance(block, RedactedThinking):
            items.append(reasoning_item(ids("rs"), None, seal_redacted(block.data), "completed"))
        elif isinstance(block, ToolCall):
            arguments = orjson.dumps(block.input).decode()
            call_id = block.id or ids("call")
            items.append(
                function_call_item(ids("fc"), call_id, block.name, arguments, names, "completed")
            )
    close_message()
    if response.stop_reason in TRUNCATED and items and items[-1]["type"] != "reasoning":
        items[-1]["status"] = "incomplete"
    return items


def build_response(
    template: dict[str, Any], response: Response, *, ids: IdFactory, clock: Clock = time.time
) -> dict[str, Any]:
    """The client's Response for the upstream's complete answer, from the ``template``
    of :func:`response_template` (which keeps the client's model name and ids)."""
    names = ToolNames.of(template.get("tools"))
    return finished_response(
        template,
        output_items(response, names, ids),
        stop_reason=response.stop_reason,
        usage=response.usage,
        completed_at=int(clock()),
    )


def render_response(
    response: Response,
    *,
    response_id: str,
    model: str,
    created_at: int,
    request: dict[str, Any],
    previous_response_id: str | None,
    conversation_id: str | None,
    ids: IdFactory = new_id,
    clock: Clock = time.time,
) -> dict[str, Any]:
    """The full ``Response`` object for ``response``, answering the Responses body
    ``request`` (whose parameters it echoes)."""
    template = response_template(
        request,
        response_id=response_id,
        model=model,
        created_at=created_at,
        previous_response_id=previous_response_id,
        conversation_id=conversation_id,
    )
    return build_response(template, response, ids=ids, clock=clock)


# --- the stored input -------------------------------------------------------------------

_ID_PREFIXES = {"message": "msg", "function_call": "fc", "function_call_output": "fco"}
_STATUS_REQUIRED = ("function_call", "function_call_output")


def input_items(body: dict[str, Any], *, ids: IdFactory = new_id) -> list[dict[str, Any]]:
    """The request's ``input`` as the items ``GET /v1/responses/{id}/input_items``
    returns: every message, call and call output has an id (the client's, else a new
    one), shorthand messages are spelled out (a string is one ``input_text`` part, or
    an ``output_text`` part for the assistant), calls and outputs have a status. Other
    items are kept as sent."""
    raw = body.get("input")
    if isinstance(raw, str):
        return [_message({"role": "user", "content": raw}, ids)]
    if not isinstance(raw, list):
        return []
    items = []
    for item in raw:
        if not isinstance(item, dict):
            continue
        kind = item.get("type", "message" if "role" in item else None)
        if kind == "message":
            items.append(_message(item, ids))
        elif kind in _ID_PREFIXES or kind == "reasoning":
            stored = {**item, "id": item.get("id") or ids(_ID_PREFIXES.get(kind, "rs"))}
            if kind in _STATUS_REQUIRED:
                stored["status"] = item.get("status") or "completed"
            items.append(stored)
        else:
            items.append(dict(item))
    return items


def _message(item: dict[str, Any], ids: IdFactory) -> dict[str, Any]:
    role, content = item.get("role"), item.get("content")
    if isinstance(content, str):
        part = output_text(content) if role == "assistant" else _input_text(content)
        content = [part]
    elif role == "assistant" and isinstance(content, list):
        content = [_output_part(part) for part in content]
    stored: dict[str, Any] = {"id": item.get("id") or ids("msg"), "type": "message", "role": role}
    stored["content"] = content
    if role == "assistant" or item.get("status") is not None:
        stored["status"] = item.get("status") or "completed"  # an output message needs one
    return stored


def _input_text(text: str) -> dict[str, Any]:
    return {"type": "input_text", "text": text}


def _output_part(part: Any) -> Any:
    """An assistant part as an output message holds it (annotations and logprobs)."""
    if not isinstance(part, dict) or part.get("type") != "output_text":
        return part
    stored = dict(part)
    stored.setdefault("annotations", [])
    stored.setdefault("logprobs", [])
    return stored
