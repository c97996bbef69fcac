"""Reading token usage out of Anthropic message bodies and stream events.

Anthropic's ``input_tokens`` excludes cache reads and cache writes; the canonical
:class:`~relaygate.relay.canonical.Usage` counts all input in ``prompt_tokens`` (see
``relay/canonical``), so the three are summed here, once, and the two cache counts are
kept apart for pricing. Thinking tokens are reported only with the thinking-token-count
beta (``usage.output_tokens_details.thinking_tokens``); they are part of
``output_tokens`` either way.
"""

from __future__ import annotations

from typing import Any

from relaygate.relay.canonical import Usage

__all__ = ["UsageCounts", "read_usage"]


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _thinking_tokens(usage: dict[str, Any]) -> int:
    details = usage.get("output_tokens_details")
    return _int(details.get("thinking_tokens")) if isinstance(details, dict) else 0


def _to_usage(usage: dict[str, Any]) -> Usage:
    fresh = _int(usage.get("input_tokens"))
    cache_write = _int(usage.get("cache_creation_input_tokens"))
    cache_read = _int(usage.get("cache_read_input_tokens"))
    return Usage(
        prompt_tokens=fresh + cache_write + cache_read,
        completion_tokens=_int(usage.get("output_tokens")),
        cached_tokens=cache_read,
        cache_write_tokens=cache_write,
        reasoning_tokens=_thinking_tokens(usage),
    )


def read_usage(payload: Any) -> Usage | None:
    """The usage of a ``message`` body, or None when it carries none."""
    if not isinstance(payload, dict):
        return None
    usage = payload.get("usage")
    return _to_usage(usage) if isinstance(usage, dict) else None


def _later(current: int, value: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    return current


class UsageCounts:
    """Anthropic's usage fields as the stream reports them: ``message_start`` sends the
    input side, each ``message_delta`` the cumulative output and sometimes the input
    side again. A later value replaces an earlier one, except that a missing, null or
    zero value never erases an earlier count (some proxies send 0 in ``message_delta``
    for input counts they reported in ``message_start``)."""

    __slots__ = ("cache_read", "cache_write", "input", "output", "thinking", "usage")

    def __init__(self) -> None:
        self.input = self.output = self.cache_read = self.cache_write = self.thinking = 0
        self.usage: Usage | None = None  # None until an event carried usage

    def update(self, usage: Any) -> None:
        """Take an event's ``usage``; the canonical :attr:`usage` is rebuilt here, at
        most twice a stream, so reading it per chunk costs nothing."""
        if not isinstance(usage, dict):
            return
        self.input = _later(self.input, usage.get("input_tokens"))
        self.output = _later(self.output, usage.get("output_tokens"))
        self.cache_read = _later(self.cache_read, usage.get("cache_read_input_tokens"))
        self.cache_write = _later(self.cache_write, usage.get("cache_creation_input_tokens"))
        details = usage.get("output_tokens_details")  # the thinking-token-count beta
        if isinstance(details, dict):
            self.thinking = _later(self.thinking, details.get("thinking_tokens"))
        self.usage = Usage(  # canonical: prompt tokens include cache reads and writes
            prompt_tokens=self.input + self.cache_read + self.cache_write,
            completion_tokens=self.output,
            cached_tokens=self.cache_read,
            cache_write_tokens=self.cache_write,
            reasoning_tokens=self.thinking,
        )

    def feed(self, event: Any) -> None:
        """Take one parsed stream event; only ``message_start`` and ``message_delta``
        carry usage."""
        if not isinstance(event, dict):
            return
        kind = event.get("type")
        if kind == "message_delta":
            self.update(event.get("usage"))
        elif kind == "message_start":
            message = event.get("message")
            if isinstance(message, dict):
                self.update(message.get("usage"))
