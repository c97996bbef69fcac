"""Reaching an upstream through an HTTP forward proxy (a channel's ``proxy_url``).

Some operators can reach an upstream only through a proxy (a corporate egress, a region
hop). Two ways through one, as every HTTP client does them:

* an ``https`` upstream: ``CONNECT host:port`` opens a byte tunnel through the proxy and
  TLS is started over it, with the upstream's name checked as on a direct connection, so
  the proxy sees neither the request nor the channel's key;
* an ``http`` upstream: the request goes to the proxy itself with its target in
  absolute form (``POST http://host:port/path``), plus ``Proxy-Authorization``.

:class:`CallOptions` carries a channel's proxy to the transport, with its timeouts.
This module knows nothing of the transport's connections: :func:`open_tunnel` hands the
TLS transport to whatever protocol the caller passes. A proxy that cannot be reached or
refuses the tunnel raises :class:`TunnelRefused` (an ``OSError``), which the transport
treats as any failed connect, so failover and the circuit breaker apply unchanged.
"""

from __future__ import annotations

import asyncio
import base64
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar, cast
from urllib.parse import unquote, urlsplit

__all__ = ["CallOptions", "Proxy", "TunnelRefused", "open_connection", "open_tunnel"]

P = TypeVar("P", bound=asyncio.Protocol)

_MAX_HEAD = 16 * 1024  # a CONNECT answer longer than this is not a proxy speaking HTTP


class TunnelRefused(ConnectionError):
    """The proxy answered the CONNECT with anything but a 2xx, or not in HTTP."""


@dataclass(frozen=True, slots=True)
class Proxy:
    """A parsed ``proxy_url``; hashable, so pooled connections can be keyed by it."""

    host: str
    port: int
    authorization: bytes  # a ready ``Proxy-Authorization: Basic …\r\n`` line, or b""

    @classmethod
    def from_url(cls, url: str) -> Proxy:
        """Parse ``http://[user:pass@]host:port`` (the form ChannelOptions accepts)."""
        parts = urlsplit(url)
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError("a proxy URL is http://[user:pass@]host:port")
        port = parts.port  # raises ValueError when out of range
        if port is None:
            raise ValueError("a proxy URL needs a port")
        line = b""
        if parts.username is not None:
            pair = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
            token = base64.b64encode(pair.encode()).decode("ascii")
            line = f"Proxy-Authorization: Basic {token}\r\n".encode("ascii")
        return cls(parts.hostname, port, line)

    def __repr__(self) -> str:  # never the credentials, whatever logs the object
        return f"Proxy({self.host!r}, {self.port})"


@dataclass(frozen=True, slots=True)
class CallOptions:
    """One channel's overrides of the client's timeouts (seconds; None: the client's
    default) and the proxy to go through. Built once per channel version, not per call."""

    connect_timeout: float | None = None
    first_byte_timeout: float | None = None
    idle_timeout: float | None = None
    proxy: Proxy | None = None


def connect_request(proxy: Proxy, host: str, port: int) -> bytes:
    """The ``CONNECT`` request asking ``proxy`` for a tunnel to ``host:port``."""
    authority = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    return b"CONNECT %s HTTP/1.1\r\nHost: %s\r\n%s\r\n" % (
        authority.encode(),
        authority.encode(),
        proxy.authorization,
    )


class _TunnelHead(asyncio.Protocol):
    """Reads the proxy's answer to CONNECT, up to the blank line that ends its head."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.status: asyncio.Future[int] = loop.create_future()
        self._buffer = b""

    def data_received(self, data: bytes) -> None:
        if self.status.done():
            return
        self._buffer += data
        end = self._buffer.find(b"\r\n\r\n")
        if end < 0:
            if len(self._buffer) > _MAX_HEAD:
                self.status.set_exception(TunnelRefused("proxy answer too long"))
            return
        parts = self._buffer[:end].split(b" ", 2)
        if len(parts) < 2 or not parts[0].startswith(b"HTTP/1.") or not parts[1].isdigit():
            self.status.set_exception(TunnelRefused("proxy did not answer in HTTP"))
        elif end + 4 != len(self._buffer):  # bytes of the tunnel before TLS began
            self.status.set_exception(TunnelRefused("proxy sent data after its answer"))
        else:
            self.status.set_result(int(parts[1]))

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.status.done():
            self.status.set_exception(TunnelRefused("proxy closed the connection"))


async def open_tunnel(
    proxy: Proxy,
    host: str,
    port: int,
    protocol: asyncio.Protocol,
    context: ssl.SSLContext,
) -> None:
    """Open a TLS connection to ``host:port`` through ``proxy`` and give it to ``protocol``.

    The caller bounds the whole exchange with its connect timeout; on any failure or
    cancellation the connection to the proxy is aborted here.
    """
    loop = asyncio.get_running_loop()
    raw, head = await loop.create_connection(lambda: _TunnelHead(loop), proxy.host, proxy.port)
    try:
        raw.write(connect_request(proxy, host, port))
        status = await head.status
        if not 200 <= status < 300:
            raise TunnelRefused(f"proxy refused the tunnel ({status})")
        tls = await loop.start_tls(raw, protocol, context, server_hostname=host)
    except BaseException:
        raw.abort()
        raise
    if tls is None:  # the proxy closed the tunnel during the handshake
        raise TunnelRefused("proxy closed the tunnel")
    protocol.connection_made(cast(asyncio.BaseTransport, tls))


async def open_connection(
    factory: Callable[[], P],
    host: str,
    port: int,
    context: ssl.SSLContext | None,
    proxy: Proxy | None,
) -> P:
    """A connection to the upstream ``host:port`` (TLS when ``context`` is given), made
    directly, through a CONNECT tunnel, or (plain http through a proxy) to the proxy."""
    if proxy is not None and context is not None:
        protocol = factory()
        await open_tunnel(proxy, host, port, protocol, context)
        return protocol
    if proxy is not None:
        host, port = proxy.host, proxy.port
    loop = asyncio.get_running_loop()
    _, protocol = await loop.create_connection(
        factory, host, port, ssl=context, server_hostname=host if context else None
    )
    return protocol
