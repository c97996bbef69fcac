"""A stream is held back until its first event has arrived and proved genuine.

Why: the failover rule (DESIGN.md §2) is "retry while nothing has reached the client".
For a stream that moment used to be the upstream's response headers, so a channel that
answered 200 and then a garbage line, an HTML page or an error object had its garbage
relayed and the call lost. Reading up to the first complete event first moves the
moment to where it belongs: a first event that is not what the channel's dialect
starts a stream with (:mod:`relaygate.relay.dialects.openings`) is a failed attempt the
next channel can take. The bytes read meanwhile are kept and replayed unchanged in
front of the rest of the stream, so the readers downstream see the upstream's stream
exactly as it came.

The wait is bounded by what is left of the channel's first-byte timeout: an upstream
that sends its headers at once and then nothing is a slow first byte, not a stream.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from relaygate.core.errors import UpstreamBadResponse, UpstreamTimeout
from relaygate.relay.dialects.openings import INVALID, VALID, OpeningTest
from relaygate.relay.dialects.sse import SSEFramer
from relaygate.relay.providers.base import UpstreamReply

__all__ = ["MAX_OPENING_BYTES", "first_event"]

# The most a stream may send before its first event is complete. A Responses stream's
# ``response.created`` repeats the request's instructions and tools (tens of kB for
# Codex); anything past this is not a stream in any dialect.
MAX_OPENING_BYTES = 4 << 20


def _not_a_stream() -> UpstreamBadResponse:
    return UpstreamBadResponse("The upstream answered with a stream that is not valid.")


async def _opening(chunks: AsyncIterator[bytes], test: OpeningTest) -> list[bytes]:
    """The chunks up to and including the first event ``test`` decides on; raises
    :class:`UpstreamBadResponse` when that event is not a genuine start."""
    framer, read, size = SSEFramer(), [], 0
    async for chunk in chunks:
        read.append(chunk)
        size += len(chunk)
        for name, data in framer.feed(chunk):
            verdict = test(name, data)
            if verdict is VALID:
                return read
            if verdict is INVALID:
                raise _not_a_stream()
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
