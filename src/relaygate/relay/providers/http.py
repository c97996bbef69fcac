"""What every provider that speaks HTTP through the shared client has in common.

Two things must behave the same on every upstream, so they live here once: how a
transport failure becomes a client-safe :class:`~relaygate.core.errors.UpstreamFailure`
(the message never names the host, port or key, whichever provider hit it), and the
reply wrapper that raises that error while the body is being read.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from relaygate.core.errors import (
    UpstreamBadResponse,
    UpstreamFailure,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from relaygate.relay.providers.base import HeaderEdits
from relaygate.relay.transport import ConnectFailed, ReadTimedOut, Response, TransportError

__all__ = ["HTTPReply", "clean_header_line", "edit_headers", "upstream_failure"]

# What a rule may never set or remove, whatever its document says (the schema refuses
# them too): the channel's credentials and the HTTP framing are not the caller's.
_PROTECTED = frozenset(
    {
        b"authorization",
        b"proxy-authorization",
        b"x-api-key",
        b"api-key",
        b"x-goog-api-key",
        b"cookie",
        b"host",
        b"content-length",
        b"content-type",
        b"transfer-encoding",
        b"connection",
        b"te",
        b"upgrade",
    }
)


def upstream_failure(exc: TransportError) -> UpstreamFailure:
    """Map a transport failure to a clean error: no host, port or key in the message."""
    if isinstance(exc, ReadTimedOut):
        return UpstreamTimeout("The upstream did not answer in time.")
    if isinstance(exc, ConnectFailed):
        return UpstreamUnavailable("The upstream could not be reached.")
    return UpstreamBadResponse("The upstream closed the connection unexpectedly.")


def clean_header_line(name: str, value: str) -> bytes:
    """One ``Name: value`` request line with CR/LF removed, so no value can inject a header."""
    line = f"{name}: {value}".replace("\r", "").replace("\n", "")
    return line.encode("latin-1", errors="replace") + b"\r\n"


def edit_headers(lines: bytes, edits: HeaderEdits) -> bytes:
    """``lines`` (``Name: value\\r\\n`` each) with the rules' edits applied: a set header
    replaces any line of that name, a removed one is dropped; protected headers stay as
    the provider wrote them."""
    gone = {name.encode() for name in edits.remove}
    gone.update(name.encode() for name, _ in edits.set)
    gone -= _PROTECTED
    kept = [
        line + b"\r\n"
        for line in lines.split(b"\r\n")
        if line and line.partition(b":")[0].strip().lower() not in gone
    ]
    kept.extend(
        clean_header_line(name, value)
        for name, value in edits.set
        if name.encode() not in _PROTECTED
    )
    return b"".join(kept)


class HTTPReply:
    """An :class:`~relaygate.relay.providers.base.UpstreamReply` over a transport response."""

    __slots__ = ("_response", "content_type", "status")

    def __init__(self, response: Response) -> None:
        self._response = response
        self.status = response.status
        self.content_type = response.content_type

    def header(self, name: bytes) -> bytes | None:
        """A response header (lower-case name), e.g. ``retry-after`` on a 429."""
        return self._response.headers.get(name)

    async def read(self) -> bytes:
        try:
            return await self._response.read()
        except TransportError as exc:
            raise upstream_failure(exc) from exc

    async def chunks(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._response.iter_chunks():
                yield chunk
        except TransportError as exc:
            raise upstream_failure(exc) from exc

    def close(self) -> None:
        self._response.close()
