"""Metering of Anthropic streams relayed to an Anthropic client as they came.

The bytes go out untouched (no re-encoding, so nothing the client relies on can be
lost); the scanner only holds back an incomplete last event, so the client never sees
half an event, and reads each complete event once to meter it.
"""

from __future__ import annotations

from typing import Any

import orjson

from relaygate.core.tokens import estimate_tokens
from relaygate.relay.canonical import Usage
from relaygate.relay.dialects.anthropic_messages.usage import UsageCounts
from relaygate.relay.dialects.sse import SSEPassthrough, event_object

__all__ = ["AnthropicScanner"]

_DELTA_FIELDS = {
    "text_delta": "text",
    "thinking_delta": "thinking",
    "input_json_delta": "partial_json",
}


class AnthropicScanner:
    """Same duck type as :class:`relaygate.relay.streaming.SSEScanner`: ``feed`` and
    ``flush`` return the bytes to forward; ``usage``, ``content_events``, ``finished``
    (``message_stop`` or ``error`` went by) and ``error`` describe what went through."""

    __slots__ = (
        "_counts",
        "_open",
        "_relay",
        "_text",
        "content_events",
        "delivered",
        "error",
        "finished",
        "usage",
    )

    def __init__(self) -> None:
        self._relay = SSEPassthrough()
        self._counts = UsageCounts()
        self._open: list[Any] = []  # indexes of the content blocks started, not stopped
        self._text: list[str] = []  # the text of the events being read
        self.usage: Usage | None = None
        self.content_events = 0
        self.delivered = 0  # estimated output tokens of the text forwarded
        self.finished = False
        self.error: str | None = None

    def feed(self, chunk: bytes) -> bytes:
        """Take upstream bytes; return the complete events in them, unchanged."""
        frames, out = self._relay.feed(chunk)
        for _, data in frames:
            self._meter(data)
        if self._text:
            self._delivered()
        return out

    @property
    def response(self) -> dict[str, Any] | None:
        return None  # a Messages stream: nothing is stored as a Response

    @property
    def final_usage(self) -> bool:
        return False  # a Messages stream ends with ``message_stop``, not a usage chunk

    def fail(self, message: str) -> bytes | None:
        return None  # no terminal failure event in this dialect: an error frame ends it

    def flush(self) -> bytes:
        """What is left when the upstream ends: an event without its blank line."""
        frames, tail = self._relay.close()
        for _, data in frames:
            self._meter(data)
        if self._text:
            self._delivered()
        return tail

    def stop_at_limit(self, usage: Usage) -> bytes:
        """End the message as ``max_tokens`` would: the open blocks stopped, a
        ``message_delta`` with ``stop_reason: "max_tokens"`` and the output billed, then
        ``message_stop``. What the upstream sent after is dropped."""
        if self.finished:
            return b""
        self.finished = True
        frames = [_event(b"content_block_stop", {"type": "content_block_stop", "index": i})
                  for i in self._open]  # fmt: skip
        self._open = []
        delta = {"stop_reason": "max_tokens", "stop_sequence": None}
        tally = {"output_tokens": usage.completion_tokens}
        frames.append(
            _event(b"message_delta", {"type": "message_delta", "delta": delta, "usage": tally})
        )
        frames.append(_event(b"message_stop", {"type": "message_stop"}))
        return b"".join(frames)

    def _delivered(self) -> None:
        self.delivered += estimate_tokens("".join(self._text))
        self._text = []

    def _meter(self, data: bytes) -> None:
        event = event_object(data)
        if event is None:
            return
        kind = event.get("type")
        if kind == "content_block_delta":
            self._count(event.get("delta"))
        elif kind == "content_block_start":
            self._open.append(event.get("index"))
        elif kind == "content_block_stop":
            if event.get("index") in self._open:
                self._open.remove(event.get("index"))
        elif kind in ("message_start", "message_delta"):
            self._counts.feed(event)
            self.usage = self._counts.usage
        elif kind == "message_stop":
            self.finished = True
        elif kind == "error":
            error = event.get("error")
            message = error.get("message") if isinstance(error, dict) else None
            self.error = message if isinstance(message, str) else "The upstream stream failed"
            self.finished = True

    def _count(self, delta: Any) -> None:
        if isinstance(delta, dict):
            field = _DELTA_FIELDS.get(str(delta.get("type")))
            text = delta.get(field) if field is not None else None
            if text and isinstance(text, str):
                self.content_events += 1
                self._text.append(text)


def _event(name: bytes, payload: dict[str, Any]) -> bytes:
    return b"event: " + name + b"\ndata: " + orjson.dumps(payload) + b"\n\n"
