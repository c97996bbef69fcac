"""Metering of Anthropic streams relayed to an Anthropic client as they came.

The bytes go out untouched (no re-encoding, so nothing the client relies on can be
lost); the scanner only holds back an incomplete last event, so the client never sees
half an event, and reads each complete event once to meter it.
"""

from __future__ import annotations

from typing import Any

import orjson

from relaygate.relay.canonical import Usage
from relaygate.relay.dialects.anthropic_messages.usage import UsageCounts
from relaygate.relay.dialects.sse import SSEFramer

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

    __slots__ = ("_counts", "_frames", "_held", "content_events", "error", "finished", "usage")

    def __init__(self) -> None:
        self._frames = SSEFramer()
        self._held = b""  # the bytes of the incomplete last event
        self._counts = UsageCounts()
        self.usage: Usage | None = None
        self.content_events = 0
        self.finished = False
        self.error: str | None = None

    def feed(self, chunk: bytes) -> bytes:
        """Take upstream bytes; return the complete events in them, unchanged."""
        for _, data in self._frames.feed(chunk):
            self._meter(data)
        data = self._held + chunk if self._held else chunk
        cut = len(data) - self._frames.held
        if cut <= 0:
            self._held = data
            return b""
        self._held = data[cut:]
        return data[:cut] if self._held else data

    def flush(self) -> bytes:
        """What is left when the upstream ends: an event without its blank line."""
        for _, data in self._frames.close():
            self._meter(data)
        tail, self._held = self._held, b""
        return tail

    def _meter(self, data: bytes) -> None:
        try:
            event = orjson.loads(data)
        except orjson.JSONDecodeError:
            return
        if not isinstance(event, dict):
            return
        kind = event.get("type")
        if kind == "content_block_delta":
            self._count(event.get("delta"))
        elif kind == "message_start":
            message = event.get("message")
            if isinstance(message, dict):
                self._counts.update(message.get("usage"))
                self.usage = self._counts.usage
        elif kind == "message_delta":
            self._counts.update(event.get("usage"))
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
