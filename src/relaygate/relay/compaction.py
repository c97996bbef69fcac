"""Compaction on channels that cannot compact: the model summarises, Relaygate keeps it.

Codex compacts a long session remotely (``POST /v1/responses/compact``, or a
``compaction_trigger`` as the last input item of a turn) and has no fallback when that
fails. OpenAI answers with a ``compaction`` item whose ``encrypted_content`` only
OpenAI can read. An Anthropic, chat-completions or local channel has no such call, so
Relaygate compacts with the model itself: the history is written out as a transcript
and the model is asked to summarise it (:func:`summary_request`); the summary is
stored for the user (state/compactions.py) and the client receives a ``compaction``
item whose ``encrypted_content`` is a sealed reference to it (:func:`seal`). When the
item comes back in a later turn, it is opened and replaced by the summary
(:func:`summary_message`) before the call goes to any channel.

The reference is not encrypted: it names the summary and its owner, and an HMAC-SHA256
over both (the server secret ``compaction_seal``) makes it tamper-evident. The summary
text itself never leaves the gateway inside the item. Pure functions; docs/state.md.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any

import orjson

from relaygate.core.errors import InvalidRequest
from relaygate.relay.dialects.openai_responses.request import TRIGGER

__all__ = [
    "SEAL_PREFIX",
    "SUMMARY_INSTRUCTIONS",
    "compact_resource",
    "compaction_item",
    "is_sealed",
    "output_text",
    "seal",
    "stream_events",
    "summary_message",
    "summary_request",
    "transcript",
    "unseal",
]

SEAL_PREFIX = "rgcmp1."  # Relaygate's references; OpenAI's encrypted content never starts so
SUMMARY_INSTRUCTIONS = (
    "You compact conversations so that work can go on in a fresh context. Write a summary "
    "of the conversation below for the assistant who will continue it: the user's goals "
    "and every request they made (quote instructions that must be followed exactly), the "
    "decisions taken, what has been done and what is left to do, the files, commands, "
    "tool results and errors that still matter, and any names, values or facts the next "
    "step needs. Write plain text. Do not answer the user and do not continue the task."
)
_SUMMARY_HEADER = (
    "This is a summary of the earlier part of this conversation, which was compacted "
    "to save context:\n\n"
)
_TEXT_PARTS = ("input_text", "output_text", "text", "summary_text", "refusal")
_MAX_OTHER = 4000  # characters of an item of another kind written into the transcript


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def seal(key: bytes, summary_id: str, user_id: int) -> str:
    """The ``encrypted_content`` of a compaction item: a tamper-evident reference."""
    body = SEAL_PREFIX + _b64(orjson.dumps({"s": summary_id, "u": user_id}))
    mac = hmac.new(key, body.encode(), hashlib.sha256).digest()
    return f"{body}.{_b64(mac)}"


def is_sealed(item: Any) -> bool:
    """Whether ``item`` is a compaction item Relaygate made (not OpenAI's own)."""
    if not isinstance(item, dict) or item.get("type") != "compaction":
        return False
    content = item.get("encrypted_content")
    return isinstance(content, str) and content.startswith(SEAL_PREFIX)


def unseal(key: bytes, sealed: str, user_id: int) -> str:
    """The summary id a reference names, for its owner only (400 otherwise: a changed
    reference and another user's are refused alike, saying nothing of whose it is)."""
    body, _, mac = sealed.rpartition(".")
    refused = InvalidRequest(
        "Invalid 'input': the compaction item is not valid for this API key "
        "(it was changed, or made for another account).",
        param="input",
        code="invalid_compaction",
    )
    try:
        expected = hmac.new(key, body.encode(), hashlib.sha256).digest()
        if not hmac.compare_digest(expected, _unb64(mac)):
            raise refused
        claims = orjson.loads(_unb64(body.removeprefix(SEAL_PREFIX)))
    except (ValueError, orjson.JSONDecodeError) as exc:
        raise refused from exc
    if not isinstance(claims, dict) or claims.get("u") != user_id:
        raise refused
    summary_id = claims.get("s")
    if not isinstance(summary_id, str):
        raise refused
    return summary_id


def compaction_item(item_id: str, sealed: str) -> dict[str, Any]:
    return {"type": "compaction", "id": item_id, "encrypted_content": sealed}


def summary_message(summary: str) -> dict[str, Any]:
    """What a compaction item becomes for the upstream: a user message saying it is a
    summary (a user message, because every dialect accepts one anywhere)."""
    return {
        "type": "message",
        "role": "user",
        "content": [{"type": "input_text", "text": _SUMMARY_HEADER + summary}],
    }


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        return ""
    parts = []
    for part in content:
        if not isinstance(part, dict):
            continue
        kind = part.get("type")
        if kind in _TEXT_PARTS and isinstance(part.get("text") or part.get("refusal"), str):
            parts.append(str(part.get("text") or part.get("refusal")))
        elif isinstance(kind, str):
            parts.append(f"[{kind.removeprefix('input_')}]")
    return "\n".join(parts)


def _line(item: dict[str, Any]) -> str | None:
    kind = item.get("type", "message" if "role" in item else None)
    if kind == "message":
        return f"{item.get('role', 'user')}: {_text(item.get('content'))}"
    if kind in ("function_call", "custom_tool_call"):
        arguments = item.get("arguments", item.get("input", ""))
        return f"assistant called tool {item.get('name')} ({item.get('call_id')}): {arguments}"
    if kind in ("function_call_output", "custom_tool_call_output"):
        output = item.get("output")
        text = output if isinstance(output, str) else _text(output)
        return f"tool result ({item.get('call_id')}): {text}"
    if kind == "reasoning":
        summary = _text(item.get("summary"))
        return f"assistant (thinking): {summary}" if summary else None
    if kind == TRIGGER:
        return None
    return f"[{kind}]: {orjson.dumps(item).decode()[:_MAX_OTHER]}"


def transcript(items: list[dict[str, Any]]) -> str:
    """The history as plain text: tool calls and results included, with no tool
    declarations needed (Anthropic refuses tool blocks in a call that declares none)."""
    lines = [line for item in items if isinstance(item, dict) if (line := _line(item))]
    return "\n\n".join(lines)


def summary_request(payload: dict[str, Any], history: list[dict[str, Any]]) -> dict[str, Any]:
    """The Responses body that asks the model for the summary of ``history`` and the
    request's own input (a trigger turn's input, or a compact call's)."""
    current = payload.get("input")
    items = [{"role": "user", "content": current}] if isinstance(current, str) else current
    everything = [*history, *(items if isinstance(items, list) else [])]
    instructions = payload.get("instructions")
    if isinstance(instructions, str) and instructions:
        everything.insert(0, {"role": "system", "content": instructions})
    request = (
        "Summarise the following conversation as instructed.\n\n<conversation>\n"
        f"{transcript(everything)}\n</conversation>"
    )
    return {
        "model": payload.get("model"),
        "instructions": SUMMARY_INSTRUCTIONS,
        "input": [{"role": "user", "content": request}],
        "stream": False,
        "store": False,
    }


def output_text(response: dict[str, Any]) -> str:
    """The text of a Response's message items (the model's summary)."""
    texts = [
        _text(item.get("content"))
        for item in response.get("output") or []
        if isinstance(item, dict) and item.get("type") == "message"
    ]
    return "\n".join(text for text in texts if text)


def compact_resource(response: dict[str, Any], item: dict[str, Any]) -> dict[str, Any]:
    """``POST /v1/responses/compact``'s answer (``CompactResource``) for a compaction
    made from ``response``, the summarisation call's Response."""
    return {
        "id": response.get("id"),
        "object": "response.compaction",
        "output": [item],
        "created_at": response.get("created_at"),
        "usage": response.get("usage")
        or {"input_tokens": 0, "output_tokens": 0, "total_tokens": 0},
    }


def _event(kind: str, number: int, **fields: Any) -> bytes:
    data = orjson.dumps({"type": kind, "sequence_number": number, **fields})
    return b"event: " + kind.encode() + b"\ndata: " + data + b"\n\n"


def stream_events(response: dict[str, Any]) -> bytes:
    """A finished Response as the stream a native upstream sends for it: created,
    in_progress, each output item added and done, completed."""
    started = {k: v for k, v in response.items() if k != "usage"}
    started.update(status="in_progress", output=[])
    events = [
        _event("response.created", 0, response=started),
        _event("response.in_progress", 1, response=started),
    ]
    number = 2
    for index, item in enumerate(response.get("output") or []):
        events.append(_event("response.output_item.added", number, output_index=index, item=item))
        events.append(
            _event("response.output_item.done", number + 1, output_index=index, item=item)
        )
        number += 2
    events.append(_event("response.completed", number, response=response))
    return b"".join(events)
