"""Anthropic Messages streams, both ways: SSE to canonical events and back.

The decoder keeps text, thinking (with its signature), redacted thinking and tool-use
blocks, and drops what no other dialect can express (server-tool blocks and their
results, citations); dropped blocks leave no gap, because the canonical indexes are
renumbered to stay consecutive. The encoder always writes ``event: <type>`` lines:
the anthropic SDK drops data-only events and Claude Code falls back to a second,
non-streamed request without them (see shared/spec/client-requirements.md §5.0).
"""

from __future__ import annotations

from typing import Any

import orjson

from relaygate.relay.canonical import Usage, known_stop_reason
from relaygate.relay.canonical.stream import (
    BlockKind,
    BlockStart,
    BlockStop,
    MessageDelta,
    MessageStart,
    MessageStop,
    SignatureDelta,
    StreamError,
    StreamEvent,
    TextDelta,
    ThinkingDelta,
    ToolArgsDelta,
)
from relaygate.relay.dialects.anthropic_messages.request_from_canonical import (
    tool_id as safe_tool_id,
)
from relaygate.relay.dialects.anthropic_messages.usage import UsageCounts
from relaygate.relay.dialects.sse import event_object

__all__ = ["AnthropicStreamDecoder", "AnthropicStreamEncoder", "error_event"]

_KEPT_BLOCKS: dict[str, BlockKind] = {
    "text": "text",
    "thinking": "thinking",
    "redacted_thinking": "redacted_thinking",
    "tool_use": "tool_use",
}
ERROR_TYPES = frozenset(
    {
        "invalid_request_error",
        "authentication_error",
        "billing_error",
        "permission_error",
        "not_found_error",
        "rate_limit_error",
        "timeout_error",
        "api_error",
        "overloaded_error",
        "request_too_large",
    }
)
# OpenAI's error types (and the codes some servers put in ``type``) in Anthropic's words
_ERROR_TYPES_FROM_OPENAI = {
    "server_error": "api_error",
    "rate_limit_exceeded": "rate_limit_error",
    "requests": "rate_limit_error",
    "tokens": "rate_limit_error",
    "insufficient_quota": "billing_error",
}


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


class AnthropicStreamDecoder:
    """Anthropic SSE events (framed by :class:`~relaygate.relay.dialects.sse.SSEFramer`)
    to canonical events. ``finished`` is set by ``message_stop`` or ``error``."""

    __slots__ = ("_blocks", "_next", "_stopped", "content_events", "counts", "error", "finished")

    def __init__(self) -> None:
        self.counts = UsageCounts()
        self.content_events = 0
        self.finished = False
        self.error: str | None = None
        self._blocks: dict[Any, tuple[int, BlockKind]] = {}  # upstream index -> ours, kind
        self._next = 0
        self._stopped = False  # a message_delta with a stop reason went by

    @property
    def usage(self) -> Usage | None:
        return self.counts.usage

    def decode(self, data: bytes, out: list[StreamEvent]) -> None:
        event = event_object(data)
        if event is None:
            return
        kind = event.get("type")
        if kind == "content_block_delta":
            self._delta(event, out)
        elif kind == "content_block_start":
            self._block_start(event, out)
        elif kind == "content_block_stop":
            entry = self._blocks.pop(event.get("index"), None)
            if entry is not None:
                out.append(BlockStop(entry[0]))
        elif kind == "message_start":
            self._message_start(event, out)
        elif kind == "message_delta":
            self._message_delta(event, out)
        elif kind == "message_stop":
            self.finished = True
            out.append(MessageStop())
        elif kind == "error":
            self._error(event, out)
        # ``ping`` and unknown event types carry nothing to relay

    def close(self, out: list[StreamEvent]) -> bool:
        """The upstream ended without ``message_stop``: end the message if it had
        already said why it stopped (the answer is whole), else leave it unfinished."""
        if self.finished or not self._stopped:
            return False
        self.finished = True
        out.append(MessageStop())
        return True

    def limit(self, out: list[StreamEvent], usage: Usage) -> None:
        """End the message here, as ``max_tokens`` would (the gateway stopped the stream
        at its hold): the open blocks stopped, ``usage`` (what is billed) reported."""
        if self.finished:
            return
        for index, _ in sorted(self._blocks.values()):
            out.append(BlockStop(index))
        self._blocks.clear()
        self._stopped = self.finished = True
        out.append(MessageDelta("max_tokens", None, usage))
        out.append(MessageStop())

    def _message_start(self, event: dict[str, Any], out: list[StreamEvent]) -> None:
        message = event.get("message")
        if not isinstance(message, dict):
            message = {}
        self.counts.update(message.get("usage"))
        out.append(MessageStart(_text(message.get("id")), _text(message.get("model")), self.usage))

    def _block_start(self, event: dict[str, Any], out: list[StreamEvent]) -> None:
        block = event.get("content_block")
        if (
            not isinstance(block, dict)
            or (kind := _KEPT_BLOCKS.get(_text(block.get("type")))) is None
        ):
            return  # server tools, their results, unknown blocks: no other dialect has them
        index = self._next
        self._next += 1
        self._blocks[event.get("index")] = (index, kind)
        if kind == "tool_use":
            out.append(BlockStart(index, kind, _text(block.get("id")), _text(block.get("name"))))
            if tool_input := block.get("input"):  # normally {} with the input in deltas
                out.append(ToolArgsDelta(index, orjson.dumps(tool_input).decode()))
        elif kind == "redacted_thinking":
            out.append(BlockStart(index, kind, data=_text(block.get("data"))))
        else:
            out.append(BlockStart(index, kind))
            if text := _text(block.get(kind)):  # a block may start with some content
                out.append(TextDelta(index, text) if kind == "text" else ThinkingDelta(index, text))
            if signature := _text(block.get("signature")):
                out.append(SignatureDelta(index, signature))

    def _delta(self, event: dict[str, Any], out: list[StreamEvent]) -> None:
        entry = self._blocks.get(event.get("index"))
        delta = event.get("delta")
        if entry is None or not isinstance(delta, dict):
            return
        index, kind = entry
        dtype = delta.get("type")
        if dtype == "text_delta" and kind == "text":
            if text := _text(delta.get("text")):
                self.content_events += 1
                out.append(TextDelta(index, text))
        elif dtype == "input_json_delta" and kind == "tool_use":
            if partial := _text(delta.get("partial_json")):
                self.content_events += 1
                out.append(ToolArgsDelta(index, partial))
        elif dtype == "thinking_delta" and kind == "thinking":
            if thinking := _text(delta.get("thinking")):
                self.content_events += 1
                out.append(ThinkingDelta(index, thinking))
        elif dtype == "signature_delta" and kind == "thinking":
            out.append(SignatureDelta(index, _text(delta.get("signature"))))
        # citations_delta and beta deltas: dropped

    def _message_delta(self, event: dict[str, Any], out: list[StreamEvent]) -> None:
        self.counts.update(event.get("usage"))
        delta = event.get("delta")
        if not isinstance(delta, dict):
            delta = {}
        reason = delta.get("stop_reason")
        self._stopped = self._stopped or reason is not None
        stop = known_stop_reason(reason) or "end_turn"
        sequence = delta.get("stop_sequence")
        out.append(MessageDelta(stop, sequence if isinstance(sequence, str) else None, self.usage))

    def _error(self, event: dict[str, Any], out: list[StreamEvent]) -> None:
        error = event.get("error")
        if not isinstance(error, dict):
            error = {}
        message = _text(error.get("message")) or "The upstream stream failed"
        self.error = message
        self.finished = True
        out.append(StreamError(_text(error.get("type")) or "api_error", message))


def _frame(name: bytes, payload: object) -> bytes:
    return b"event: " + name + b"\ndata: " + orjson.dumps(payload) + b"\n\n"


def error_event(error_type: str, message: str) -> bytes:
    """An Anthropic ``event: error`` frame; OpenAI's error types are mapped."""
    if error_type not in ERROR_TYPES:
        error_type = _ERROR_TYPES_FROM_OPENAI.get(error_type, "api_error")
    return _frame(b"error", {"type": "error", "error": {"type": error_type, "message": message}})


_DELTA = b'event: content_block_delta\ndata: {"type":"content_block_delta","index":%d,"delta":'
_TEXT = b'{"type":"text_delta","text":'
_ARGS = b'{"type":"input_json_delta","partial_json":'
_THINKING = b'{"type":"thinking_delta","thinking":'
_SIGNATURE = b'{"type":"signature_delta","signature":'
_END = b"}}\n\n"
_PING = b'event: ping\ndata: {"type":"ping"}\n\n'
_MESSAGE_STOP = b'event: message_stop\ndata: {"type":"message_stop"}\n\n'


def _usage_fields(usage: Usage) -> dict[str, int]:
    """Anthropic's ``input_tokens`` excludes the cached and cache-written tokens."""
    return {
        "input_tokens": max(
            usage.prompt_tokens - usage.cached_tokens - usage.cache_write_tokens, 0
        ),
        "cache_creation_input_tokens": usage.cache_write_tokens,
        "cache_read_input_tokens": usage.cached_tokens,
        "output_tokens": usage.completion_tokens,
    }


class AnthropicStreamEncoder:
    """Canonical events to Anthropic SSE for a client that asked for ``model``.

    ``input_estimate``: the local count of the request's input tokens. A native
    ``message_start`` always carries the input count (clients show it, and Claude Code
    sizes its context with it), but an OpenAI upstream reports usage only at the end, so
    the estimate stands in until the ``message_delta`` carries the upstream's count."""

    __slots__ = ("_input_estimate", "_model", "_request_id")

    def __init__(self, *, model: str, request_id: str, input_estimate: int = 0) -> None:
        self._model = model
        self._request_id = request_id
        self._input_estimate = input_estimate

    def encode(self, events: list[StreamEvent]) -> bytes:
        parts: list[bytes] = []
        add = parts.append
        for event in events:
            match event:
                case TextDelta(index, text):
                    add(_DELTA % index + _TEXT + orjson.dumps(text) + _END)
                case ToolArgsDelta(index, partial):
                    add(_DELTA % index + _ARGS + orjson.dumps(partial) + _END)
                case ThinkingDelta(index, thinking):
                    add(_DELTA % index + _THINKING + orjson.dumps(thinking) + _END)
                case SignatureDelta(index, signature):
                    add(_DELTA % index + _SIGNATURE + orjson.dumps(signature) + _END)
                case BlockStart():
                    add(self._block_start(event))
                case BlockStop(index):
                    add(b"event: content_block_stop\ndata: %s\n\n" % _stop_json(index))
                case MessageStart():
                    add(self._message_start(event))
                case MessageDelta():
                    add(_message_delta(event))
                case MessageStop():
                    add(_MESSAGE_STOP)
                case StreamError(error_type, message):
                    add(error_event(error_type, message))
        return b"".join(parts)

    def _message_start(self, event: MessageStart) -> bytes:
        message: dict[str, object] = {
            "id": self._message_id(event.id),
            "type": "message",
            "role": "assistant",
            "model": self._model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": _usage_fields(event.usage or Usage(prompt_tokens=self._input_estimate)),
        }
        return _frame(b"message_start", {"type": "message_start", "message": message}) + _PING

    def _message_id(self, upstream_id: str) -> str:
        """Anthropic ids start with ``msg_``; an OpenAI chunk id keeps its unique part."""
        if upstream_id.startswith("msg_"):
            return upstream_id
        unique = upstream_id.removeprefix("chatcmpl-") or self._request_id.removeprefix("req_")
        return "msg_" + unique

    def _block_start(self, event: BlockStart) -> bytes:
        block: dict[str, object]
        if event.kind == "text":
            block = {"type": "text", "text": ""}
        elif event.kind == "thinking":
            block = {"type": "thinking", "thinking": "", "signature": ""}
        elif event.kind == "redacted_thinking":
            block = {"type": "redacted_thinking", "data": event.data}
        else:
            # the id the whole answer's translation gives the call (Anthropic's charset)
            tool_id = (
                safe_tool_id(event.tool_id)
                if event.tool_id
                else f"toolu_{self._request_id.removeprefix('req_')}_{event.index}"
            )
            block = {"type": "tool_use", "id": tool_id, "name": event.tool_name, "input": {}}
        payload = {"type": "content_block_start", "index": event.index, "content_block": block}
        return _frame(b"content_block_start", payload)


def _stop_json(index: int) -> bytes:
    return b'{"type":"content_block_stop","index":%d}' % index


def _message_delta(event: MessageDelta) -> bytes:
    usage = _usage_fields(event.usage) if event.usage is not None else {"output_tokens": 0}
    delta = {"stop_reason": event.stop_reason, "stop_sequence": event.stop_sequence}
    return _frame(b"message_delta", {"type": "message_delta", "delta": delta, "usage": usage})
