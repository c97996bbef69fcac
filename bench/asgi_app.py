"""Raw ASGI apps that set the ceiling for a Python server on one core (bench/ceiling.py).

Paths (all ``POST``):

* ``/json``          fixed ``chat.completion`` JSON (one ``http.response.body``)
* ``/stream``        the mock's SSE answer sent as 22 events, one ``send`` each (chunked)
* ``/proxy/json``    forward to the nginx mock with aiohttp, buffer, answer (minimal relay)
* ``/proxy/stream``  forward to the nginx mock, split the SSE into events, send each
* ``/proxy/stream-coalesced``  same, but all complete events of one upstream read in one send
* ``/raw/json``, ``/raw/stream``  the proxy paths with a minimal keep-alive HTTP/1.1 client
  (asyncio protocol + httptools parser) instead of aiohttp: what the client library costs

The proxy paths are the floor cost of *any* relay written with this server and aiohttp:
no auth, no parsing of the request, no usage records. ``BENCH_UPSTREAM`` is the mock's base URL.
"""

from __future__ import annotations

import asyncio
import os
from collections import deque
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import httptools

from bench.mock import json_body, stream_body

JSON = json_body()
EVENTS = [e + b"\n\n" for e in stream_body().split(b"\n\n") if e]
UPSTREAM = os.environ.get("BENCH_UPSTREAM", "http://127.0.0.1:8081")

JSON_HEADERS = [
    (b"content-type", b"application/json"),
    (b"content-length", str(len(JSON)).encode()),
]
SSE_HEADERS = [(b"content-type", b"text/event-stream"), (b"cache-control", b"no-cache")]

_session: aiohttp.ClientSession | None = None


def _client() -> aiohttp.ClientSession:
    global _session
    if _session is None:
        _session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=0, keepalive_timeout=60),
            skip_auto_headers=("User-Agent",),
        )
    return _session


class _RawConn(asyncio.Protocol):
    """One keep-alive HTTP/1.1 connection; one request at a time."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.queue: asyncio.Queue[bytes | None] | None = None
        self.done: asyncio.Future[None] | None = None
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self.queue is not None:
            self.queue.put_nowait(None)

    def data_received(self, data: bytes) -> None:
        self.parser.feed_data(data)

    def on_body(self, body: bytes) -> None:
        assert self.queue is not None
        self.queue.put_nowait(body)

    def on_message_complete(self) -> None:
        assert self.queue is not None
        self.queue.put_nowait(None)


class _RawPool:
    def __init__(self, base: str) -> None:
        u = urlsplit(base)
        self.host, self.port = u.hostname or "127.0.0.1", u.port or 80
        self.hosthdr = f"{self.host}:{self.port}".encode()
        self.idle: deque[_RawConn] = deque()

    async def request(self, path: str, body: bytes) -> tuple[_RawConn, asyncio.Queue[bytes | None]]:
        conn = None
        while self.idle:
            c = self.idle.pop()
            if not c.closed:
                conn = c
                break
        if conn is None:
            loop = asyncio.get_running_loop()
            _, conn = await loop.create_connection(_RawConn, self.host, self.port)
        conn.queue = asyncio.Queue()
        assert conn.transport is not None
        conn.transport.write(
            b"POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\n"
            b"Authorization: Bearer sk-up\r\nContent-Length: %d\r\n\r\n%s"
            % (path.encode(), self.hosthdr, len(body), body)
        )
        return conn, conn.queue

    def release(self, conn: _RawConn) -> None:
        if not conn.closed:
            self.idle.append(conn)


_raw: _RawPool | None = None


def _raw_pool() -> _RawPool:
    global _raw
    if _raw is None:
        _raw = _RawPool(UPSTREAM)
    return _raw


async def _read_body(receive: Any) -> bytes:
    chunks = []
    while True:
        msg = await receive()
        chunks.append(msg.get("body", b""))
        if not msg.get("more_body"):
            return b"".join(chunks)


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while True:
            msg = await receive()
            if msg["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif msg["type"] == "lifespan.shutdown":
                if _session is not None:
                    await _session.close()
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["type"] != "http":
        return
    body = await _read_body(receive)
    path = scope["path"]
    if path == "/json":
        await send({"type": "http.response.start", "status": 200, "headers": JSON_HEADERS})
        await send({"type": "http.response.body", "body": JSON})
    elif path == "/stream":
        await send({"type": "http.response.start", "status": 200, "headers": SSE_HEADERS})
        for ev in EVENTS:
            await send({"type": "http.response.body", "body": ev, "more_body": True})
        await send({"type": "http.response.body", "body": b""})
    elif path == "/proxy/json":
        async with _client().post(
            f"{UPSTREAM}/json/v1/chat/completions",
            data=body,
            headers={"Content-Type": "application/json", "Authorization": "Bearer sk-up"},
        ) as resp:
            data = await resp.read()
            status = resp.status
        headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(data))]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": data})
    elif path == "/proxy/stream":
        async with _client().post(
            f"{UPSTREAM}/stream/v1/chat/completions",
            data=body,
            headers={"Content-Type": "application/json", "Authorization": "Bearer sk-up"},
        ) as resp:
            await send(
                {"type": "http.response.start", "status": resp.status, "headers": SSE_HEADERS}
            )
            buf = b""
            async for chunk in resp.content.iter_any():
                buf += chunk
                *events, buf = buf.split(b"\n\n")
                for ev in events:
                    await send(
                        {"type": "http.response.body", "body": ev + b"\n\n", "more_body": True}
                    )
        await send({"type": "http.response.body", "body": b""})
    elif path == "/proxy/stream-coalesced":
        async with _client().post(
            f"{UPSTREAM}/stream/v1/chat/completions",
            data=body,
            headers={"Content-Type": "application/json", "Authorization": "Bearer sk-up"},
        ) as resp:
            await send(
                {"type": "http.response.start", "status": resp.status, "headers": SSE_HEADERS}
            )
            buf = b""
            async for chunk in resp.content.iter_any():
                buf += chunk
                cut = buf.rfind(b"\n\n")
                if cut >= 0:
                    out, buf = buf[: cut + 2], buf[cut + 2 :]
                    await send({"type": "http.response.body", "body": out, "more_body": True})
        await send({"type": "http.response.body", "body": b""})
    elif path in ("/raw/json", "/raw/stream"):
        pool = _raw_pool()
        stream = path == "/raw/stream"
        conn, q = await pool.request(
            "/stream/v1/chat/completions" if stream else "/json/v1/chat/completions", body
        )
        if stream:
            await send({"type": "http.response.start", "status": 200, "headers": SSE_HEADERS})
            buf = b""
            while (piece := await q.get()) is not None:
                buf += piece
                *events, buf = buf.split(b"\n\n")
                for ev in events:
                    await send(
                        {"type": "http.response.body", "body": ev + b"\n\n", "more_body": True}
                    )
            pool.release(conn)
            await send({"type": "http.response.body", "body": b""})
        else:
            parts = []
            while (piece := await q.get()) is not None:
                parts.append(piece)
            pool.release(conn)
            data = b"".join(parts)
            headers = [
                (b"content-type", b"application/json"),
                (b"content-length", b"%d" % len(data)),
            ]
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            await send({"type": "http.response.body", "body": data})
    else:
        await send({"type": "http.response.start", "status": 404, "headers": []})
        await send({"type": "http.response.body", "body": b""})
