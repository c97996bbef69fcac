"""Raw ASGI apps that set the ceiling for a Python server on one core (bench/ceiling.py).

Paths (all ``POST``):

* ``/json``          fixed ``chat.completion`` JSON (one ``http.response.body``)
* ``/stream``        the mock's SSE answer sent as 22 events, one ``send`` each (chunked)
* ``/proxy/json``    forward to the nginx mock with aiohttp, buffer, answer (minimal relay)
* ``/proxy/stream``  forward to the nginx mock, split the SSE into events, send each

The proxy paths are the floor cost of *any* relay written with this server and aiohttp:
no auth, no parsing of the request, no usage records. ``BENCH_UPSTREAM`` is the mock's base URL.
"""

from __future__ import annotations

import os
from typing import Any

import aiohttp

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
            await send({"type": "http.response.start", "status": resp.status, "headers": SSE_HEADERS})
            buf = b""
            async for chunk in resp.content.iter_any():
                buf += chunk
                *events, buf = buf.split(b"\n\n")
                for ev in events:
                    await send({"type": "http.response.body", "body": ev + b"\n\n", "more_body": True})
        await send({"type": "http.response.body", "body": b""})
    else:
        await send({"type": "http.response.start", "status": 404, "headers": []})
        await send({"type": "http.response.body", "body": b""})
