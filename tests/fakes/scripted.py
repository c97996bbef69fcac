"""The one server base the scripted fakes share: a real aiohttp server on 127.0.0.1.

It runs in a background thread with its own event loop, so synchronous tests (and a
gateway in another thread) talk to it over real TCP. A subclass adds its routes
(:meth:`ScriptedServer.add_routes`) and answers each request with
:meth:`ScriptedServer.answer`, giving its default :class:`Step` for the request; a test
scripts what comes instead, one step per request, in order::

    with FakeSerper() as serper:
        serper.script(Step(status=500), Step(json={"organic": []}))
        ...                                   # first call fails, the next succeeds
        assert serper.seen[-1].headers["X-API-KEY"] == "serper-key"

A step answers a whole body (``json`` or ``body``) or streams ``chunks``: optionally
waiting for ``release`` (a threading.Event the test sets) after the first chunk, so a
test proves the client had the first bytes before the upstream sent the rest, or
cutting the connection after ``cut_after`` chunks. Every request is kept in ``seen``.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Self

from aiohttp import web

__all__ = ["ScriptedServer", "Seen", "Step"]


@dataclass
class Step:
    status: int = 200
    json: Any = None
    body: bytes | None = None
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)
    chunks: list[bytes] | None = None  # streamed, one write each
    release: threading.Event | None = None  # waited for after the first chunk
    cut_after: int | None = None  # close the connection after this many chunks
    delay: float = 0.0  # seconds before the answer starts (timeouts)


@dataclass
class Seen:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    answered: int = 0  # the status sent back

    @property
    def json(self) -> Any:
        return json.loads(self.body)


class ScriptedServer:
    def __init__(self) -> None:
        self.seen: list[Seen] = []
        self.port = 0
        self._steps: deque[Step] = deque()
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None

    # ------------------------------------------------------------ for tests
    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def script(self, *steps: Step) -> None:
        """Answer the next requests with ``steps``, in order (then the defaults again)."""
        with self._lock:
            self._steps.extend(steps)

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    def start(self) -> None:
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        self.port = int(sock.getsockname()[1])
        ready = threading.Event()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._serve, args=(sock, ready), daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError(f"{type(self).__name__} did not start")

    def stop(self) -> None:
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()
        self._loop = None

    # ------------------------------------------------------------ for subclasses
    def add_routes(self, app: web.Application) -> None:
        raise NotImplementedError

    async def answer(
        self, request: web.Request, default: Callable[[Seen], Step]
    ) -> web.StreamResponse:
        """Record ``request`` and answer it with the next scripted step, else ``default``."""
        seen = Seen(
            request.method,
            request.path,
            dict(request.query),
            dict(request.headers),
            await request.read(),
        )
        with self._lock:
            self.seen.append(seen)
            step = self._steps.popleft() if self._steps else None
        step = step or default(seen)
        seen.answered = step.status
        if step.delay:
            await asyncio.sleep(step.delay)
        if step.chunks is None:
            body = step.body if step.json is None else json.dumps(step.json).encode()
            return web.Response(
                status=step.status,
                body=body or b"",
                headers={"Content-Type": step.content_type, **step.headers},
            )
        return await self._stream(request, step)

    async def _stream(self, request: web.Request, step: Step) -> web.StreamResponse:
        response = web.StreamResponse(
            status=step.status, headers={"Content-Type": step.content_type, **step.headers}
        )
        await response.prepare(request)
        for index, chunk in enumerate(step.chunks or []):
            if step.cut_after is not None and index >= step.cut_after:
                if request.transport is not None:
                    request.transport.abort()
                return response
            await response.write(chunk)
            if index == 0 and step.release is not None:
                released = await asyncio.to_thread(step.release.wait, 10)
                assert released, "the test never released the rest of the stream"
        await response.write_eof()
        return response

    # ------------------------------------------------------------ the server thread
    def _serve(self, sock: socket.socket, ready: threading.Event) -> None:
        assert self._loop is not None
        asyncio.set_event_loop(self._loop)
        app = web.Application()
        self.add_routes(app)
        self._runner = web.AppRunner(app, access_log=None)
        self._loop.run_until_complete(self._runner.setup())
        site = web.SockSite(self._runner, sock)
        self._loop.run_until_complete(site.start())
        ready.set()
        self._loop.run_forever()
