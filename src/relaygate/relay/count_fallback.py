"""count_tokens on an Anthropic-dialect channel whose upstream does not serve it.

Many Anthropic-compatible upstreams (other gateways, local servers, some clouds) serve
``/v1/messages`` but not ``/v1/messages/count_tokens``. Clients such as Claude Code ask
for a count to decide when to compact a conversation, and treat an error there as a
failed turn; the local estimate (dialects/anthropic_messages/count.py) serves them
better, as it already does on channels of other dialects. So an upstream's answer that
says the *route* is missing (a 404 that does not speak of the model, a 405 or 501, or an
error whose text says the URL or endpoint is unknown) is answered with the estimate,
and the channel is remembered for a while so that later counts skip the round trip. A
404 that names the model is the caller's to see (the model does not exist upstream) and
passes through as before.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from typing import Any

import orjson

from relaygate.channels.spec import ChannelSpec

__all__ = ["MEMORY_SECONDS", "CountRouteMemory", "lacks_count_route"]

log = logging.getLogger(__name__)

MEMORY_SECONDS = 3600.0  # how long a channel is taken to lack count_tokens
_ROUTE_MISSING_STATUSES = frozenset({405, 501})  # method not allowed, not implemented
_WORDED_STATUSES = frozenset({400, 404, 422})  # may say so in words (never 401/403/429)
_MODEL = re.compile(r"\bmodel|模型")
_THING = r"(?:url|endpoint|route|path|count_tokens)"
_MISSING = (
    r"(?:not found|not exist|does not exist|unknown|not supported|unsupported"
    r"|not implemented|not available)"
)
_ROUTE = re.compile(
    rf"invalid url|no route|not implemented|method not allowed|unknown {_THING}"
    rf"|unsupported {_THING}|{_THING}\b[^.]{{0,60}}?\b{_MISSING}"
)
_TEXT_LIMIT = 2000  # an error page longer than this is read only this far


def _error_text(body: bytes) -> str:
    """An error answer's words, lower-cased: the strings of its error object (Anthropic's
    and OpenAI's shapes, a framework's ``detail``), or the raw text of a non-JSON page."""
    head = body[:_TEXT_LIMIT]
    try:
        data: Any = orjson.loads(body)
    except orjson.JSONDecodeError:
        return head.decode(errors="replace").lower()
    if not isinstance(data, dict):
        return str(data).lower()
    parts: list[str] = []
    for holder in (data, data.get("error")):
        if isinstance(holder, dict):
            for name in ("message", "type", "code", "detail", "msg", "error"):
                value = holder.get(name)
                if isinstance(value, str):
                    parts.append(value)
        elif isinstance(holder, str):
            parts.append(holder)
    return " ".join(parts).lower()


def lacks_count_route(status: int, body: bytes) -> bool:
    """Whether an upstream's error answer to count_tokens says it has no such route."""
    if status in _ROUTE_MISSING_STATUSES:
        return True
    if status not in _WORDED_STATUSES:
        return False
    text = _error_text(body)
    if _ROUTE.search(text):
        return True
    return status == 404 and not _MODEL.search(text)  # a bare 404: the route


class CountRouteMemory:
    """The channels known to lack count_tokens, each until its entry runs out. Keyed by
    the channel and its base URL, so pointing a channel elsewhere asks again."""

    def __init__(
        self, seconds: float = MEMORY_SECONDS, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.seconds = seconds
        self.clock = clock
        self._until: dict[tuple[int, str], float] = {}

    def lacks(self, channel: ChannelSpec) -> bool:
        key = (channel.id, channel.base_url)
        until = self._until.get(key)
        if until is None:
            return False
        if self.clock() < until:
            return True
        del self._until[key]
        return False

    def remember(self, channel: ChannelSpec) -> None:
        log.info(
            "channel %s (%s) does not serve count_tokens: counting locally for %ds",
            channel.id, channel.name, self.seconds,
        )  # fmt: skip
        self._until[(channel.id, channel.base_url)] = self.clock() + self.seconds
