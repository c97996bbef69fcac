"""Metering of Anthropic streams relayed to an Anthropic client as they came.

The bytes go out untouched (no re-encoding, so nothing the client relies on can be
lost); the scanner only holds back an incomplete last event, so the client never sees
half an event, and reads each complete event once to meter it.
"""

from __future__ import annotations

from typing import Any

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

    __slots__ = ("_counts", "_relay", "content_events", "error", "finished", "usage")

    def __init__(self) -> None:
        self._relay = SSEPassthrough()
        self._counts = UsageCounts()
        self.usage: Usage | None = None
        self.content_events = 0
        self.finished = False
        self.error: str | None = None

    def feed(self, chunk: bytes) -> bytes:
        """Take upstream bytes; return the complete events in them, unchanged."""
        frames, out = self._relay.feed(chunk)
        for _, data in frames:
            self._meter(data)
        return out

    def flush(self) -> bytes:
        """What is left when the upstream ends: an event without its blank line."""
        frames, tail = self._relay.close()
        for _, data in frames:
            self._meter(data)
        return tail

    def _meter(self, data: bytes) -> None:
        event = event_object(data)
        if event is None:
            return
        kind = event.get("type")
        if kind == "content_block_delta":
            self._count(event.get("delta"))
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
            if field is not None and delta.get(field):
                self.content_events += 1
