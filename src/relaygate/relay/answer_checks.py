"""An upstream's 2xx answer is checked before the client sees any of it.

Why: the failover rule (DESIGN.md §2) is "retry while nothing has reached the client".
An answer that is broken is then a failed attempt the next channel can take, instead
of a 502 or, worse, garbage relayed to the client and the call lost.

A whole answer is read and parsed anyway; one that is not a JSON object (an HTML error
page, a truncated body) is refused by :func:`whole_answer`, which hands on the parsed
object so it is not parsed twice (a 3 MB embeddings answer costs ~60 ms to parse).

A stream used to be handed on at its response headers, so a channel that answered 200
and then a garbage line, an HTML page or an error object had its garbage relayed.
:func:`first_event` reads up to the first complete event first: one that is not what
the channel's dialect starts a stream with (:mod:`relaygate.relay.dialects.openings`)
is a failed attempt. The bytes read meanwhile are kept and replayed unchanged in front
of the rest of the stream, so the readers downstream see the upstream's stream exactly
as it came. The wait is bounded by what is left of the channel's first-byte timeout: an
upstream that sends its headers at once and then nothing is a slow first byte, not a
stream.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import orjson

from relaygate.core.errors import UpstreamBadResponse, UpstreamTimeout
from relaygate.relay.dialects.anthropic_messages.request import COUNT_TOKENS, MESSAGES
from relaygate.relay.dialects.openai_chat.request import (
    CHAT,
    COMPLETIONS,
    EMBEDDINGS,
    MODERATIONS,
)
from relaygate.relay.dialects.openai_responses.request import RESPONSES
from relaygate.relay.dialects.openings import INVALID, VALID, OpeningTest
from relaygate.relay.dialects.sse import SSEFramer
from relaygate.relay.providers.base import UpstreamReply

__all__ = ["CHECKED_ENDPOINTS", "MAX_OPENING_BYTES", "Replayed", "first_event", "whole_answer"]

# Upstream calls whose answer is always a JSON object or, streamed, the dialect's own
# events. The media calls are not here: their answers may be audio or plain text.
CHECKED_ENDPOINTS = frozenset(
    {CHAT, COMPLETIONS, EMBEDDINGS, MODERATIONS, MESSAGES, COUNT_TOKENS, RESPONSES}
)

# The most a stream may send before its first event is complete. A Responses stream's
# ``response.created`` repeats the request's instructions and tools (tens of kB for
# Codex); anything past this is not a stream in any dialect.
MAX_OPENING_BYTES = 4 << 20


def whole_answer(endpoint: str, data: bytes) -> dict[str, Any] | None:
    """The JSON object a whole answer of ``endpoint`` must be; None for an endpoint not
    checked (media), whose answer is relayed as it came. :class:`UpstreamBadResponse`
    for a body that is not a JSON object, or is an error object sent with a 200 (some
    OpenAI-compatible relays do: ``{"error": {...}}``, Anthropic's envelope). A failed
    Response (``"object": "response"`` with its ``error``) is an answer, not one of these."""
    if endpoint not in CHECKED_ENDPOINTS:
        return None
    try:
        parsed = orjson.loads(data)
    except orjson.JSONDecodeError:
        parsed = None
    if not isinstance(parsed, dict):
        raise UpstreamBadResponse("The upstream returned a body that is not valid JSON.")
    if isinstance(parsed.get("error"), dict) and parsed.get("object") != "response":
        raise UpstreamBadResponse("The upstream returned an error instead of an answer.")
    return parsed


def _not_a_stream() -> UpstreamBadResponse:
    return UpstreamBadResponse("The upstream answered with a stream that is not valid.")


def _event_end(data: bytes, start: int) -> int:
    """Just past the first blank line at or after ``start`` (the end of an event), or
    the end of ``data``."""
    ends = [
        at + size
        for at, size in ((data.find(b"\n\n", start), 2), (data.find(b"\r\n\r\n", start), 4))
        if at >= 0
    ]
    return min(ends) if ends else len(data)


async def _opening(chunks: AsyncIterator[bytes], test: OpeningTest) -> list[bytes]:
    """The chunks up to and including the first event ``test`` decides on; raises
    :class:`UpstreamBadResponse` when that event is not a genuine start."""
    framer, read, size = SSEFramer(), [], 0
    async for chunk in chunks:
        read.append(chunk)
        size += len(chunk)
        start = 0
        while start < len(chunk):  # an event at a time: a whole answer in one read is
            end = _event_end(chunk, start)  # decided on its first event, not framed whole
            for name, data in framer.feed(chunk[start:end]):
                verdict = test(name, data)
                if verdict is VALID:
                    return read
                if verdict is INVALID:
                    raise _not_a_stream()
            start = end
        if size > MAX_OPENING_BYTES:
            raise _not_a_stream()
    for name, data in framer.close():  # the upstream ended: a last event without its blank line
        if test(name, data) is VALID:
            return read
    raise _not_a_stream()  # ended before any genuine event


async def first_event(reply: UpstreamReply, test: OpeningTest, timeout: float) -> UpstreamReply:
    """``reply`` once its first event passed ``test``, as a reply that yields everything
    from the first byte; within ``timeout`` seconds, else :class:`UpstreamTimeout`.

    On any failure (and on cancellation, a client that left) the upstream connection is
    closed here; the caller only hears the error.
    """
    chunks = aiter(reply.chunks())
    try:
        async with asyncio.timeout(max(timeout, 0.0)):
            read = await _opening(chunks, test)
    except TimeoutError as exc:
        reply.close()
        raise UpstreamTimeout("The upstream did not answer in time.") from exc
    except BaseException:
        reply.close()
        raise
    return Replayed(reply, b"".join(read), chunks)


class Replayed:
    """An :class:`UpstreamReply` whose first bytes were already read: they come first."""

    __slots__ = ("_head", "_reply", "_rest", "content_type", "status")

    def __init__(self, reply: UpstreamReply, head: bytes, rest: AsyncIterator[bytes]) -> None:
        self._reply, self._head, self._rest = reply, head, rest
        self.status = reply.status
        self.content_type = reply.content_type

    async def read(self) -> bytes:
        parts = [chunk async for chunk in self.chunks()]
        self._reply.close()
        return b"".join(parts)

    async def chunks(self) -> AsyncIterator[bytes]:
        head, self._head = self._head, b""
        if head:
            yield head
        async for chunk in self._rest:
            yield chunk

    def close(self) -> None:
        self._reply.close()

    def header(self, name: bytes) -> bytes | None:
        return self._reply.header(name)
