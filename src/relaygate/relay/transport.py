"""The one HTTP/1.1 client the relay uses to reach upstreams.

Why not aiohttp or httpx: on the relay's hot path the client is most of the CPU spent
per call. This client does only what a relay needs (a POST with a prepared body, a
pooled keep-alive connection, the answer as it arrives) on top of the event loop's
transports and the llhttp parser (httptools) that uvicorn already uses, and costs a
fraction of either per call; docs/benchmarks.md has the measurements.

Timeouts (per call with :class:`CallOptions`, a channel's own): connect covers opening a
connection (through a proxy, the tunnel and TLS too); first-byte runs from sending the
request until the response headers are complete (for a non-streamed answer, the whole
generation); idle is the longest silence between two body chunks after that. A request
that fails on a reused keep-alive connection before any byte came back is sent once more
on a fresh connection: the upstream closed the idle connection and never saw it.
Connections are pooled per (origin, proxy): proxied and direct calls never share one.
"""

from __future__ import annotations

import asyncio
import ssl
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import cast
from urllib.parse import urlsplit

import httptools

from relaygate.relay.proxy import CallOptions, Proxy, open_connection

__all__ = [
    "CallOptions",
    "ConnectFailed",
    "HTTPClient",
    "ProtocolFailed",
    "ReadTimedOut",
    "Response",
    "TransportError",
]

_HIGH_WATER = 1 << 20  # buffered response bytes before the socket is paused


class TransportError(Exception):
    """The upstream could not be reached or broke the exchange."""


class ConnectFailed(TransportError):
    pass


class ReadTimedOut(TransportError):
    pass


class ProtocolFailed(TransportError):
    """The connection closed or the upstream spoke invalid HTTP."""


@dataclass(frozen=True, slots=True)
class _Origin:
    scheme: str
    host: str
    port: int

    @property
    def host_header(self) -> bytes:
        default = 443 if self.scheme == "https" else 80
        return (self.host if self.port == default else f"{self.host}:{self.port}").encode()


class Response:
    """An upstream response: status and headers first, then the body as it arrives."""

    __slots__ = ("_chunks", "_conn", "_done", "_error", "_size", "_waiter", "headers", "status")

    def __init__(self, conn: _Connection) -> None:
        self._conn = conn
        self.status = 0
        self.headers: dict[bytes, bytes] = {}
        self._chunks: deque[bytes] = deque()
        self._size = 0
        self._done = False
        self._error: TransportError | None = None
        self._waiter: asyncio.Future[None] | None = None

    @property
    def content_type(self) -> str:
        return self.headers.get(b"content-type", b"application/json").decode("latin-1")

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _feed(self, data: bytes) -> None:
        self._chunks.append(data)
        self._size += len(data)
        if self._size > _HIGH_WATER:
            self._conn.pause()
        self._wake()

    def _finish(self, error: TransportError | None = None) -> None:
        self._done = True
        self._error = error
        self._wake()

    async def _next(self) -> bytes:
        while not self._chunks:
            if self._done:
                if self._error is not None:
                    raise self._error
                return b""
            self._waiter = self._conn.loop.create_future()
            await self._waiter
        chunk = self._chunks.popleft()
        self._size -= len(chunk)
        if self._size <= _HIGH_WATER // 2:
            self._conn.resume()
        return chunk

    async def read(self) -> bytes:
        parts = []
        while chunk := await self._next():
            parts.append(chunk)
        self.close()
        return b"".join(parts)

    async def iter_chunks(self) -> AsyncIterator[bytes]:
        while chunk := await self._next():
            yield chunk

    def close(self) -> None:
        """Return the connection to the pool if the exchange is complete, else abort it."""
        self._conn.release(reusable=self._done and self._error is None)


_PoolKey = _Origin | tuple[_Origin, Proxy]  # a proxied connection is keyed by both


class _Connection(asyncio.Protocol):
    __slots__ = (
        "_deadline", "_headers_done", "_idle_timeout", "_parser", "_paused", "_pool", "_timer",
        "idle", "keep_alive", "key", "last_activity", "loop", "received", "response", "transport",
    )  # fmt: skip

    def __init__(self, pool: HTTPClient, key: _PoolKey) -> None:
        self.loop = asyncio.get_running_loop()
        self._pool = pool
        self.key = key
        self.transport: asyncio.Transport | None = None
        self._parser = httptools.HttpResponseParser(self)
        self.response: Response | None = None
        self._headers_done: asyncio.Future[None] | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._paused = False
        self.idle = True
        self.received = False
        self.keep_alive = False
        self.last_activity = 0.0
        self._deadline = 0.0  # when the pending timer fires
        self._idle_timeout = 0.0

    # asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's are not subclasses

    def data_received(self, data: bytes) -> None:
        self.received = True
        self.last_activity = self.loop.time()
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError:
            self._fail(ProtocolFailed("invalid HTTP from upstream"))

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        response = self.response
        if response is None or response._done:
            return
        if exc is None and response.status and self._eof_delimited(response):
            self._complete()
        else:
            self._fail(ProtocolFailed("upstream closed the connection"))

    # httptools callbacks
    def on_header(self, name: bytes, value: bytes) -> None:
        if self.response is not None:
            self.response.headers[name.lower()] = value

    def on_headers_complete(self) -> None:
        # llhttp answers should_keep_alive() only until the message is complete.
        self.keep_alive = self._parser.should_keep_alive()
        if self.response is not None:
            self.response.status = self._parser.get_status_code()
        idle_deadline = self.last_activity + self._idle_timeout
        if idle_deadline < self._deadline:  # the first-byte timer would fire too late
            self._stop_timer()
            self._deadline = idle_deadline
            self._timer = self.loop.call_at(idle_deadline, self._check_idle)
        if self._headers_done is not None and not self._headers_done.done():
            self._headers_done.set_result(None)

    def on_body(self, body: bytes) -> None:
        if self.response is not None:
            self.response._feed(body)

    def on_message_complete(self) -> None:
        self._complete()

    # the exchange
    @staticmethod
    def _eof_delimited(response: Response) -> bool:
        return b"content-length" not in response.headers and b"chunked" not in response.headers.get(
            b"transfer-encoding", b""
        )

    async def exchange(self, request: bytes, first_byte: float, idle: float) -> Response:
        assert self.transport is not None
        self.idle = False
        self.received = False
        response = self.response = Response(self)
        self._headers_done = self.loop.create_future()
        self.last_activity = now = self.loop.time()
        self._idle_timeout = idle
        self._deadline = now + first_byte
        self._timer = self.loop.call_at(self._deadline, self._check_idle)
        self.transport.write(request)
        await self._headers_done
        return response

    def _check_idle(self) -> None:
        """The pending deadline passed: before the headers, the first-byte timeout is up;
        after them, fail if the body has been silent for the idle timeout, else re-arm."""
        response = self.response
        if response is None:
            return
        silent = self.loop.time() - self.last_activity
        if response.status and silent < self._idle_timeout:
            self._deadline = self.last_activity + self._idle_timeout
            self._timer = self.loop.call_at(self._deadline, self._check_idle)
        else:
            self._fail(ReadTimedOut("upstream read timed out"))

    def _stop_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _complete(self) -> None:
        self._stop_timer()
        if self.response is not None:
            self.response._finish()

    def _fail(self, error: TransportError) -> None:
        self._stop_timer()
        if self._headers_done is not None and not self._headers_done.done():
            self._headers_done.set_exception(error)
        if self.response is not None and not self.response._done:
            self.response._finish(error)
        self.abort()

    def pause(self) -> None:
        if not self._paused and self.transport is not None:
            self._paused = True
            self.transport.pause_reading()

    def resume(self) -> None:
        if self._paused and self.transport is not None:
            self._paused = False
            self.transport.resume_reading()

    def abort(self) -> None:
        if self.transport is not None:
            self.transport.abort()
            self.transport = None

    def release(self, reusable: bool) -> None:
        if self.idle:
            return
        self._stop_timer()
        self.idle = True
        self.response = None
        self._headers_done = None
        if reusable and self.transport is not None and self.keep_alive:
            self.resume()
            self._pool.park(self)
        else:
            self.abort()

    @property
    def usable(self) -> bool:
        return self.transport is not None and not self.transport.is_closing()


class HTTPClient:
    """A keep-alive connection pool per origin (and proxy); requests are sent as prepared bytes.

    The pool is not capped: the number of connections follows the number of calls in
    flight, which the inbound side (and later the rate limits) already bounds.
    ``first_byte_timeout`` defaults to ``read_timeout``; ``ssl_context`` to the system's.
    """

    def __init__(
        self,
        connect_timeout: float,
        read_timeout: float,
        *,
        first_byte_timeout: float | None = None,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.first_byte_timeout = first_byte_timeout or read_timeout
        self._defaults = CallOptions()
        self._idle: dict[_PoolKey, list[_Connection]] = {}
        self._ssl = ssl_context
        self._origins: dict[str, tuple[_Origin, str]] = {}

    def _split(self, url: str) -> tuple[_Origin, str]:
        known = self._origins.get(url)
        if known is None:
            parts = urlsplit(url)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise ConnectFailed("unsupported upstream URL")
            port = parts.port or (443 if parts.scheme == "https" else 80)
            path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
            known = (_Origin(parts.scheme, parts.hostname, port), path)
            if len(self._origins) > 10_000:
                self._origins.clear()
            self._origins[url] = known
        return known

    async def post(
        self, url: str, headers: bytes, body: bytes, options: CallOptions | None = None
    ) -> Response:
        """POST ``body``; ``headers`` are ready-made ``Name: value\\r\\n`` lines;
        ``options`` the channel's timeouts and proxy (None: the client's defaults)."""
        return await self.request(b"POST", url, headers, body, options)

    async def request(
        self,
        method: bytes,
        url: str,
        headers: bytes,
        body: bytes = b"",
        options: CallOptions | None = None,
    ) -> Response:
        """:meth:`post` with another method (a tool's ``GET``: docs/tools.md)."""
        origin, path = self._split(url)
        opts = options or self._defaults
        key: _PoolKey = origin
        target = path.encode()
        if opts.proxy is not None:
            key = (origin, opts.proxy)
            if origin.scheme == "http":  # absolute form, sent to the proxy itself
                target = b"http://%s%s" % (origin.host_header, target)
                headers += opts.proxy.authorization
        head = b"%s %s HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\n%s\r\n" % (
            method,
            target,
            origin.host_header,
            len(body),
            headers,
        )
        request = head + body
        first_byte = opts.first_byte_timeout or self.first_byte_timeout
        idle = opts.idle_timeout or self.read_timeout
        conn = self._reuse(key)
        if conn is not None:
            try:
                return await conn.exchange(request, first_byte, idle)
            except ProtocolFailed:
                conn.release(reusable=False)
                if conn.received:
                    raise
            except BaseException:
                conn.release(reusable=False)
                raise
        conn = await self._connect(origin, key, opts)
        try:
            return await conn.exchange(request, first_byte, idle)
        except BaseException:
            conn.release(reusable=False)
            raise

    def _reuse(self, key: _PoolKey) -> _Connection | None:
        idle = self._idle.get(key)
        while idle:
            conn = idle.pop()
            if conn.usable:
                return conn
        return None

    async def _connect(self, origin: _Origin, key: _PoolKey, options: CallOptions) -> _Connection:
        context = None
        if origin.scheme == "https":
            context = self._ssl = self._ssl or ssl.create_default_context()
        opening = open_connection(
            lambda: _Connection(self, key), origin.host, origin.port, context, options.proxy
        )
        try:
            return await asyncio.wait_for(opening, options.connect_timeout or self.connect_timeout)
        except TimeoutError as exc:
            raise ConnectFailed("connect timed out") from exc
        except OSError as exc:  # refused, unreachable, TLS failed, the proxy said no
            raise ConnectFailed("connection failed") from exc

    def park(self, conn: _Connection) -> None:
        self._idle.setdefault(conn.key, []).append(conn)

    async def close(self) -> None:
        for connections in self._idle.values():
            for conn in connections:
                conn.abort()
        self._idle.clear()
