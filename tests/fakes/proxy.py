"""A minimal HTTP forward proxy on 127.0.0.1, recording what passed through it.

It runs on its own event loop in a background thread (like the fake upstreams), so a
gateway in another thread reaches it over real TCP::

    with FakeProxy(auth="user:secret") as proxy:
        channel options: {"proxy_url": proxy.url}     # http://user:secret@127.0.0.1:port
        ...
        assert proxy.requests[-1].method == "CONNECT"

Two ways through, as real proxies offer them: ``CONNECT host:port`` answers 200 and then
copies bytes both ways (the TLS inside stays opaque to the proxy); a request in absolute
form (``POST http://host:port/path``) is sent on to its origin in origin form, with the
``Proxy-*`` headers removed and ``Connection: close`` (one request per connection keeps
the fake free of response framing). With ``auth`` set, a request without the matching
``Proxy-Authorization`` gets 407; ``refuse`` answers every CONNECT with that status.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import threading
from dataclasses import dataclass, field
from urllib.parse import urlsplit

__all__ = ["FakeProxy", "ProxiedRequest"]


@dataclass
class ProxiedRequest:
    method: str
    target: str
    headers: dict[str, str]  # lower-case names
    tunnelled: bytearray = field(default_factory=bytearray)  # client bytes inside a tunnel


class FakeProxy:
    def __init__(self, auth: str | None = None, refuse: int | None = None) -> None:
        self.auth = auth
        self.refuse = refuse
        self.requests: list[ProxiedRequest] = []
        self.port = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: asyncio.Server | None = None

    @property
    def url(self) -> str:
        creds = f"{self.auth}@" if self.auth else ""
        return f"http://{creds}127.0.0.1:{self.port}"

    def __enter__(self) -> FakeProxy:
        self.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    def start(self) -> None:
        ready = threading.Event()
        self._loop = asyncio.new_event_loop()

        def serve() -> None:
            assert self._loop is not None
            asyncio.set_event_loop(self._loop)
            self._server = self._loop.run_until_complete(
                asyncio.start_server(self._handle, "127.0.0.1", 0)
            )
            self.port = self._server.sockets[0].getsockname()[1]
            ready.set()
            self._loop.run_forever()

        self._thread = threading.Thread(target=serve, name="fake-proxy", daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("fake proxy did not start")

    def stop(self) -> None:
        if self._loop is None or self._thread is None:
            return
        if self._server is not None:
            self._loop.call_soon_threadsafe(self._server.close)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop = None

    # ------------------------------------------------------------------ serving
    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
            writer.close()
            return
        request_line, *lines = head.decode("latin-1").split("\r\n")
        method, target, _ = request_line.split(" ", 2)
        headers = {}
        for line in lines:
            if ":" in line:
                name, value = line.split(":", 1)
                headers[name.strip().lower()] = value.strip()
        seen = ProxiedRequest(method, target, headers)
        self.requests.append(seen)
        if self.auth and headers.get("proxy-authorization") != self._expected():
            await self._answer(writer, 407, b"Proxy-Authenticate: Basic realm=fake\r\n")
        elif method == "CONNECT":
            await self._tunnel(seen, reader, writer)
        else:
            await self._forward(seen, reader, writer)

    def _expected(self) -> str:
        assert self.auth is not None
        return "Basic " + base64.b64encode(self.auth.encode()).decode()

    @staticmethod
    async def _answer(writer: asyncio.StreamWriter, status: int, extra: bytes = b"") -> None:
        writer.write(b"HTTP/1.1 %d Fake\r\nContent-Length: 0\r\n%s\r\n" % (status, extra))
        with contextlib.suppress(ConnectionError):
            await writer.drain()
        writer.close()

    async def _tunnel(
        self, seen: ProxiedRequest, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        if self.refuse is not None:
            await self._answer(writer, self.refuse)
            return
        host, _, port = seen.target.rpartition(":")
        try:
            up_reader, up_writer = await asyncio.open_connection(host.strip("[]"), int(port))
        except (OSError, ValueError):
            await self._answer(writer, 502)
            return
        writer.write(b"HTTP/1.1 200 Connection Established\r\n\r\n")
        await _pipe_both(reader, writer, up_reader, up_writer, seen.tunnelled)

    async def _forward(
        self, seen: ProxiedRequest, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        parts = urlsplit(seen.target)
        if parts.scheme != "http" or not parts.hostname:
            await self._answer(writer, 400)
            return
        body = await reader.readexactly(int(seen.headers.get("content-length", "0")))
        try:
            up_reader, up_writer = await asyncio.open_connection(parts.hostname, parts.port or 80)
        except OSError:
            await self._answer(writer, 502)
            return
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        kept = [
            f"{name}: {value}"
            for name, value in seen.headers.items()
            if not name.startswith("proxy-") and name != "connection"
        ]
        head = f"{seen.method} {path} HTTP/1.1\r\n" + "\r\n".join(kept)
        up_writer.write(head.encode("latin-1") + b"\r\nConnection: close\r\n\r\n" + body)
        await _pipe_both(reader, writer, up_reader, up_writer, bytearray())


async def _copy(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, log: bytearray) -> None:
    with contextlib.suppress(ConnectionError):
        while data := await reader.read(65536):
            log += data
            writer.write(data)
            await writer.drain()


async def _pipe_both(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    up_reader: asyncio.StreamReader,
    up_writer: asyncio.StreamWriter,
    log: bytearray,
) -> None:
    """Copy bytes both ways until either side closes, then close both."""
    tasks = [
        asyncio.create_task(_copy(reader, up_writer, log)),
        asyncio.create_task(_copy(up_reader, writer, bytearray())),
    ]
    await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    for task in tasks:
        task.cancel()
    for side in (writer, up_writer):
        side.close()
