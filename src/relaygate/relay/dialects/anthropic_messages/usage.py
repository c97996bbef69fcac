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

__all__ = ["StreamUsage", "read_usage"]

_FIELDS = (
    "input_tokens",
    "output_tokens",
    "cache_creation_input_tokens",
    "cache_read_input_tokens",
)


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


class StreamUsage:
    """The usage of a Messages stream, kept current event by event.

    ``message_start`` carries the input counts (and a first output count);
    ``message_delta`` carries cumulative counts, so each field it sends replaces the
    earlier value instead of adding to it (some proxies send a 0 there for the input
    counts they already reported, hence the larger value wins).
    """

    __slots__ = ("_counts",)

    def __init__(self) -> None:
        self._counts: dict[str, Any] = {}

    def feed(self, event: Any) -> None:
        """Take one parsed stream event; events without usage are ignored."""
        if not isinstance(event, dict):
            return
        kind = event.get("type")
        if kind == "message_start":
            message = event.get("message")
            usage = message.get("usage") if isinstance(message, dict) else None
        elif kind == "message_delta":
            usage = event.get("usage")
        else:
            return
        if not isinstance(usage, dict):
            return
        counts = self._counts
        for name in _FIELDS:  # cumulative counts never shrink: a stray 0 changes nothing
            counts[name] = max(_int(counts.get(name)), _int(usage.get(name)))
        if isinstance(usage.get("output_tokens_details"), dict):
            counts["output_tokens_details"] = usage["output_tokens_details"]

    @property
    def usage(self) -> Usage | None:
        """The counts so far, or None before any event carried usage."""
        return _to_usage(self._counts) if self._counts else None
