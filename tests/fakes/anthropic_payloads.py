"""Bodies and stream events of the fake Anthropic upstream, in Anthropic's wire format.

Shapes follow the ``anthropic`` SDK's types (``Message``, ``Usage``, the raw stream
events, ``MessageTokensCount``, ``ModelInfo``) and the legacy Text Completions docs.
A stream is built as a list of :class:`Event` so the server can cut it, or inject an
``error`` event, after any number of content deltas.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "Behaviour",
    "Event",
    "completion_body",
    "completion_events",
    "content_blocks",
    "dumps",
    "error_envelope",
    "message_body",
    "message_events",
    "model_info",
    "sse",
    "usage_body",
]

SIGNATURE = "RmFrZVNpZ25hdHVyZQ=="


@dataclass
class Behaviour:
    """What the fake does for one request. Defaults give a quick, successful text answer.

    Content: ``thinking`` adds a thinking block (with ``signature``) before the text;
    ``text`` (split into words, or ``chunks``) is the text block, left out when empty;
    ``tool_uses`` (``{"name", "input", "id"?}``) add tool_use blocks, each streamed as
    ``json_fragments`` input_json_delta pieces. ``stop_reason=None`` means ``tool_use``
    with tools, else ``end_turn``. ``output_tokens=None`` means one per content delta;
    ``thinking_tokens`` is reported in ``usage.output_tokens_details`` when set.
    ``count_tokens`` answers ``/v1/messages/count_tokens`` (None: ``input_tokens``).

    Failures: ``status`` != 200 answers with Anthropic's error envelope (``error_type``
    and ``error_message`` default per status; ``error_body`` is sent verbatim);
    ``break_after`` cuts the TCP connection after that many content deltas (``abort``:
    RST instead of FIN); ``error_after`` sends an ``event: error`` of
    ``stream_error_type`` there and ends the stream. Pacing: ``latency`` before the
    answer, ``chunk_delay`` before each event, ``extra_pings`` between deltas,
    ``fragment`` writes events in pieces of that many bytes. ``data_only`` leaves out
    the ``event:`` lines (a degraded upstream). ``reply`` computes the text from the
    request body. ``raw_body`` answers 200 with exactly those bytes instead (an event
    stream when the request streams, else JSON; ``raw_content_type`` overrides), to
    script a broken upstream.
    """

    text: str = "Hello from the fake Anthropic upstream."
    chunks: list[str] | None = None
    thinking: str | None = None
    signature: str = SIGNATURE
    tool_uses: list[dict[str, Any]] | None = None
    json_fragments: int = 3
    stop_reason: str | None = None
    stop_sequence: str | None = None
    input_tokens: int = 11
    output_tokens: int | None = None
    cache_creation_input_tokens: int = 0
    cache_read_input_tokens: int = 0
    thinking_tokens: int | None = None
    count_tokens: int | None = None
    status: int = 200
    error_type: str | None = None
    error_message: str | None = None
    error_body: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    latency: float = 0.0
    chunk_delay: float = 0.0
    break_after: int | None = None
    abort: bool = False
    error_after: int | None = None
    stream_error_type: str = "overloaded_error"
    extra_pings: bool = False
    fragment: int | None = None
    data_only: bool = False
    reply: Callable[[dict[str, Any]], str] | None = None
    echo_secrets: bool = False  # errors quote the request's key and the fake's host:port
    raw_body: bytes | None = None
    raw_content_type: str | None = None

    def pieces(self) -> list[str]:
        if self.chunks is not None:
            return list(self.chunks)
        return _words(self.text)

    def thinking_pieces(self) -> list[str]:
        return _words(self.thinking or "")

    def final_stop_reason(self) -> str:
        return self.stop_reason or ("tool_use" if self.tool_uses else "end_turn")

    def content_delta_count(self) -> int:
        count = len(self.pieces()) if self.text or self.chunks else 0
        count += len(self.thinking_pieces()) + (1 if self.thinking is not None else 0)
        return count + sum(len(_fragments(t, self.json_fragments)) for t in self.tools())

    def output_count(self) -> int:
        if self.output_tokens is not None:
            return self.output_tokens
        return max(1, self.content_delta_count())

    def tools(self) -> list[dict[str, Any]]:
        return [
            {"id": t.get("id") or f"toolu_fake{k}", "name": t["name"], "input": t.get("input", {})}
            for k, t in enumerate(self.tool_uses or [])
        ]


@dataclass(frozen=True)
class Event:
    """One SSE event; ``content`` marks the deltas that ``break_after`` counts."""

    name: str
    payload: dict[str, Any]
    content: bool = False


def dumps(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()


def sse(event: Event, data_only: bool = False) -> bytes:
    data = b"data: " + dumps(event.payload) + b"\n\n"
    return data if data_only else b"event: " + event.name.encode() + b"\n" + data


def _words(text: str) -> list[str]:
    if not text:
        return []
    words = text.split(" ")
    return [w if i == 0 else " " + w for i, w in enumerate(words)]


def _fragments(tool: dict[str, Any], count: int) -> list[str]:
    encoded = json.dumps(tool["input"], separators=(",", ":"))
    size = max(1, -(-len(encoded) // max(1, count)))
    return [encoded[i : i + size] for i in range(0, len(encoded), size)] or [""]


def error_envelope(error_type: str, message: str, request_id: str | None) -> dict[str, Any]:
    body: dict[str, Any] = {"type": "error", "error": {"type": error_type, "message": message}}
    if request_id:
        body["request_id"] = request_id
    return body


def usage_body(b: Behaviour, *, final: bool = True) -> dict[str, Any]:
    """``final=False`` is ``message_start``'s: the input counts and a first output token."""
    usage: dict[str, Any] = {
        "input_tokens": b.input_tokens,
        "cache_creation_input_tokens": b.cache_creation_input_tokens,
        "cache_read_input_tokens": b.cache_read_input_tokens,
        "output_tokens": b.output_count() if final else 1,
    }
    if final and b.thinking_tokens is not None:
        usage["output_tokens_details"] = {"thinking_tokens": b.thinking_tokens}
    return usage


def _full_usage(b: Behaviour, *, final: bool) -> dict[str, Any]:
    return {
        **usage_body(b, final=final),
        "cache_creation": {
            "ephemeral_5m_input_tokens": b.cache_creation_input_tokens,
            "ephemeral_1h_input_tokens": 0,
        },
        "service_tier": "standard",
    }


def content_blocks(b: Behaviour) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    if b.thinking is not None:
        blocks.append({"type": "thinking", "thinking": b.thinking, "signature": b.signature})
    if b.text or b.chunks:
        blocks.append({"type": "text", "text": "".join(b.pieces())})
    blocks.extend({"type": "tool_use", **tool} for tool in b.tools())
    return blocks


def message_body(b: Behaviour, mid: str, model: str) -> dict[str, Any]:
    return {
        "id": mid,
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content_blocks(b),
        "stop_reason": b.final_stop_reason(),
        "stop_sequence": b.stop_sequence,
        "usage": _full_usage(b, final=True),
    }


def _block_events(index: int, start: dict[str, Any], deltas: list[dict[str, Any]]) -> list[Event]:
    events = [
        Event(
            "content_block_start",
            {"type": "content_block_start", "index": index, "content_block": start},
        )
    ]
    for delta in deltas:
        payload = {"type": "content_block_delta", "index": index, "delta": delta}
        events.append(Event("content_block_delta", payload, content=True))
    events.append(Event("content_block_stop", {"type": "content_block_stop", "index": index}))
    return events


def _content_events(b: Behaviour) -> list[Event]:
    blocks: list[tuple[dict[str, Any], list[dict[str, Any]]]] = []
    if b.thinking is not None:
        deltas = [{"type": "thinking_delta", "thinking": p} for p in b.thinking_pieces()]
        deltas.append({"type": "signature_delta", "signature": b.signature})
        blocks.append(({"type": "thinking", "thinking": "", "signature": ""}, deltas))
    if b.text or b.chunks:
        deltas = [{"type": "text_delta", "text": p} for p in b.pieces()]
        blocks.append(({"type": "text", "text": ""}, deltas))
    for tool in b.tools():
        parts = _fragments(tool, b.json_fragments)
        deltas = [{"type": "input_json_delta", "partial_json": p} for p in parts]
        blocks.append(
            ({"type": "tool_use", "id": tool["id"], "name": tool["name"], "input": {}}, deltas)
        )
    events: list[Event] = []
    for index, (start, deltas) in enumerate(blocks):
        events.extend(_block_events(index, start, deltas))
    return events


def message_events(b: Behaviour, mid: str, model: str) -> list[Event]:
    """The whole stream, in Anthropic's order: message_start, ping, the blocks,
    message_delta (stop reason and cumulative usage), message_stop."""
    start = {**message_body(b, mid, model), "content": [], "stop_reason": None}
    start["stop_sequence"] = None
    start["usage"] = _full_usage(b, final=False)
    delta = {
        "type": "message_delta",
        "delta": {"stop_reason": b.final_stop_reason(), "stop_sequence": b.stop_sequence},
        "usage": usage_body(b),
    }
    return [
        Event("message_start", {"type": "message_start", "message": start}),
        Event("ping", {"type": "ping"}),
        *_content_events(b),
        Event("message_delta", delta),
        Event("message_stop", {"type": "message_stop"}),
    ]


def _legacy_stop(b: Behaviour) -> str:
    return "max_tokens" if b.final_stop_reason() == "max_tokens" else "stop_sequence"


def completion_body(b: Behaviour, cid: str, model: str) -> dict[str, Any]:
    text = "".join(b.pieces())
    return {
        "type": "completion",
        "id": cid,
        "completion": text,
        "stop_reason": _legacy_stop(b),
        "model": model,
    }


def completion_events(b: Behaviour, cid: str, model: str) -> list[Event]:
    """Legacy Text Completions stream: text pieces, a ping, the last with the reason."""

    def piece(text: str, stop: str | None) -> dict[str, Any]:
        return {
            "type": "completion",
            "id": cid,
            "completion": text,
            "stop_reason": stop,
            "model": model,
        }

    events = [Event("completion", piece(p, None), content=True) for p in b.pieces()]
    events.insert(min(1, len(events)), Event("ping", {"type": "ping"}))
    events.append(Event("completion", piece("", _legacy_stop(b))))
    return events


def model_info(model: str) -> dict[str, Any]:
    return {
        "type": "model",
        "id": model,
        "display_name": model.replace("-", " ").title(),
        "created_at": "2025-01-01T00:00:00Z",
        "lifecycle": "active",
    }
