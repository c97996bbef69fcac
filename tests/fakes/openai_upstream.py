"""A scriptable fake OpenAI-compatible upstream: a real aiohttp server on 127.0.0.1.

It runs in a background thread with its own event loop, so synchronous tests (and a
gateway running in another thread) can talk to it over real TCP::

    with FakeOpenAI() as fake:
        fake.script("gpt-x", Behaviour(status=500))   # next gpt-x request fails
        ...                                          # drive the gateway
        assert fake.requests[-1].headers["Authorization"] == "Bearer sk-channel"

Behaviours queue per model (``None`` = any model) and are consumed one per request; with
an empty queue the fake answers with ``fake.default``. Every request is recorded with
the bytes the fake sent back, and whether the client went away before the answer ended.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import socket
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.fakes.media_routes import MediaRoutes
from tests.fakes.openai_payloads import (
    Behaviour,
    chat_chunk,
    chat_completion,
    dumps,
    embeddings_body,
    moderation_body,
    text_completion,
    text_completion_chunk,
    usage_body,
)

__all__ = ["Behaviour", "FakeOpenAI", "RecordedRequest", "echoed_secrets"]

DEFAULT_ERRORS: dict[int, tuple[str, str]] = {
    400: ("invalid_request_error", "fake upstream says the request is invalid"),
    401: ("invalid_request_error", "Incorrect API key provided"),
    404: ("invalid_request_error", "The model does not exist"),
    429: ("requests", "Rate limit reached for fake upstream"),
    500: ("server_error", "The fake upstream had an internal error"),
}


def _choices(b: Behaviour, body: dict[str, Any]) -> int | None:
    """How many choices to answer with; None for an ``n`` OpenAI refuses (1 to 128), which
    the fake refuses too rather than build 10**20 of them."""
    n = b.n or body.get("n") or 1
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= 128:
        return None
    return n


@dataclass
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: Any
    raw: bytes
    status: int = 0
    response_body: bytes = b""
    client_disconnected: bool = False
    peer: tuple[Any, ...] | None = None
    done: threading.Event = field(default_factory=threading.Event)

    @property
    def authorization(self) -> str | None:
        return self.headers.get("Authorization")


def _spaced(obj: Any) -> bytes:
    """JSON as Python and many servers write it: ``{"model": "x", …}``."""
    return json.dumps(obj, ensure_ascii=False).encode()


def echoed_secrets(rec: RecordedRequest) -> str:
    """What a careless upstream says: the key it was sent and where it runs."""
    headers = {k.lower(): v for k, v in rec.headers.items()}
    key = (headers.get("authorization") or headers.get("x-api-key") or "").removeprefix("Bearer ")
    return (
        f"Incorrect API key provided: {key}. You can find your API key at "
        f"https://platform.example.com/account. (served by {headers.get('host', '')})"
    )


class FakeOpenAI:
    def __init__(self, models: list[str] | None = None, keepalive_timeout: float = 75.0) -> None:
        self.models = models or ["fake-model"]
        self.keepalive_timeout = keepalive_timeout
        self.default = Behaviour()
        self.requests: list[RecordedRequest] = []
        self._queues: dict[str | None, deque[Behaviour]] = {}
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self.port = 0
        self.media = MediaRoutes(self)  # images and audio: tests/fakes/media_routes.py
        # model -> what it refuses (tests/fakes/openai_model_rules.py): checked before
        # any scripted behaviour, as a real model's validation comes first
        self.refuse: dict[str, Callable[[dict[str, Any]], tuple[int, dict[str, Any]] | None]] = {}

    # ---------------------------------------------------------------- lifecycle
    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def __enter__(self) -> FakeOpenAI:
        self.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    def start(self) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        ready = threading.Event()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._serve, args=(sock, ready), name=f"fake-openai-{self.port}", daemon=True
        )
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("fake upstream did not start")

    def _add_routes(self, app: web.Application) -> None:
        app.router.add_post("/v1/chat/completions", self._chat)
        app.router.add_post("/v1/completions", self._completions)
        app.router.add_post("/v1/embeddings", self._embeddings)
        app.router.add_post("/v1/moderations", self._moderations)
        app.router.add_get("/v1/models", self._models)
        self.media.register(app)

    def _serve(self, sock: socket.socket, ready: threading.Event) -> None:
        assert self._loop is not None
        asyncio.set_event_loop(self._loop)
        app = web.Application(client_max_size=64 * 1024 * 1024)
        self._add_routes(app)
        self._runner = web.AppRunner(
            app,
            handler_cancellation=True,
            shutdown_timeout=0.5,
            access_log=None,
            keepalive_timeout=self.keepalive_timeout,
        )
        self._loop.run_until_complete(self._runner.setup())
        site = web.SockSite(self._runner, sock)
        self._loop.run_until_complete(site.start())
        ready.set()
        self._loop.run_forever()

    def stop(self) -> None:
        if self._loop is None or self._thread is None:
            return
        if self._runner is not None:
            fut = asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop)
            with contextlib.suppress(Exception):
                fut.result(15)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(15)
        self._loop.close()
        self._loop = None

    # ------------------------------------------------------------- scripting
    def script(self, model: str | None, *behaviours: Behaviour) -> None:
        """Queue behaviours for the next requests naming ``model`` (None: any model)."""
        with self._lock:
            self._queues.setdefault(model, deque()).extend(behaviours)

    def _next_behaviour(self, model: str | None) -> Behaviour:
        with self._lock:
            for key in (model, None):
                queue = self._queues.get(key)
                if queue:
                    return queue.popleft()
        return self.default

    def requests_for(self, path_suffix: str) -> list[RecordedRequest]:
        with self._lock:
            return [r for r in self.requests if r.path.endswith(path_suffix)]

    def wait_until(self, predicate: Callable[[], bool], timeout: float = 10.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return True
            time.sleep(0.02)
        return predicate()

    # -------------------------------------------------------------- handlers
    async def _record(self, request: web.Request) -> RecordedRequest:
        raw = await request.read()
        try:
            body: Any = json.loads(raw) if raw else None
        except ValueError:
            body = None
        rec = RecordedRequest(request.method, request.path, dict(request.headers), body, raw)
        peer = request.transport.get_extra_info("peername") if request.transport else None
        rec.peer = tuple(peer) if peer else None
        with self._lock:
            self.requests.append(rec)
        return rec

    async def _guarded(
        self, request: web.Request, answer: Callable[[web.Request, RecordedRequest, Behaviour], Any]
    ) -> web.StreamResponse:
        rec = await self._record(request)
        model = rec.body.get("model") if isinstance(rec.body, dict) else None
        rules = self.refuse.get(model) if isinstance(model, str) else None
        refusal = rules(rec.body) if rules is not None else None
        if refusal is not None:
            rec.done.set()
            return self._error(rec, Behaviour(status=refusal[0], error_body=refusal[1]))
        b = self._next_behaviour(model)
        if b.reply is not None and isinstance(rec.body, dict):
            b = dataclasses.replace(b, text=b.reply(rec.body), reply=None)
        try:
            if b.latency:
                await asyncio.sleep(b.latency)
            if b.status != 200:
                return self._error(rec, b)
            if b.raw_body is not None:
                return await self._raw(request, rec, b)
            response: web.StreamResponse = await answer(request, rec, b)
            if b.truncate_body and isinstance(response, web.Response):
                return await self._truncated(request, rec, response)
            return response
        except (asyncio.CancelledError, ConnectionResetError):
            rec.client_disconnected = True
            raise
        finally:
            rec.done.set()

    def _error(self, rec: RecordedRequest, b: Behaviour) -> web.Response:
        body = b.error_body
        if body is None:
            etype, message = DEFAULT_ERRORS.get(b.status, ("server_error", "fake upstream error"))
            if b.echo_secrets:
                message = echoed_secrets(rec)
            body = {"error": {"message": message, "type": etype, "param": None, "code": None}}
        rec.status = b.status
        rec.response_body = dumps(body)
        return web.Response(
            status=b.status,
            body=rec.response_body,
            content_type="application/json",
            headers=b.headers,
        )

    def _json(self, rec: RecordedRequest, b: Behaviour, payload: dict[str, Any]) -> web.Response:
        rec.status = 200
        rec.response_body = _spaced(payload) if b.spaced_json else dumps(payload)
        response = web.Response(
            body=rec.response_body, content_type="application/json", headers=b.headers
        )
        if b.gzip:
            response.enable_compression()  # only when the request accepts gzip/deflate
        if b.connection_close:
            response.force_close()
        return response

    async def _raw(
        self, request: web.Request, rec: RecordedRequest, b: Behaviour
    ) -> web.StreamResponse:
        """A 200 with ``b.raw_body`` as its body, whatever it is (a broken upstream)."""
        assert b.raw_body is not None
        streams = isinstance(rec.body, dict) and bool(rec.body.get("stream"))
        kind = b.raw_content_type or ("text/event-stream" if streams else "application/json")
        resp = web.StreamResponse(status=200, headers={"Content-Type": kind, **b.headers})
        await resp.prepare(request)
        rec.status = 200
        if b.first_event_delay:
            await asyncio.sleep(b.first_event_delay)
        await self._write(rec, resp, b, b.raw_body)
        await resp.write_eof()
        return resp

    async def _truncated(
        self, request: web.Request, rec: RecordedRequest, full: web.Response
    ) -> web.StreamResponse:
        """Promise the whole body in Content-Length, send half of it, then hang up."""
        body = rec.response_body
        resp = web.StreamResponse(status=full.status, headers={"Content-Type": "application/json"})
        resp.content_length = len(body)
        await resp.prepare(request)
        await resp.write(body[: len(body) // 2])
        if request.transport is not None:
            request.transport.close()
        return resp

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        return await self._guarded(request, self._answer_chat)

    async def _completions(self, request: web.Request) -> web.StreamResponse:
        return await self._guarded(request, self._answer_completions)

    async def _embeddings(self, request: web.Request) -> web.StreamResponse:
        return await self._guarded(request, self._answer_embeddings)

    async def _moderations(self, request: web.Request) -> web.StreamResponse:
        async def answer(_r: web.Request, rec: RecordedRequest, b: Behaviour) -> web.Response:
            body = rec.body if isinstance(rec.body, dict) else {}
            return self._json(rec, b, moderation_body(b, body))

        return await self._guarded(request, answer)

    async def _models(self, request: web.Request) -> web.StreamResponse:
        async def answer(_r: web.Request, rec: RecordedRequest, b: Behaviour) -> web.Response:
            data = [
                {"id": m, "object": "model", "created": 1700000000, "owned_by": "fake"}
                for m in self.models
            ]
            return self._json(rec, b, {"object": "list", "data": data})

        return await self._guarded(request, answer)

    async def _answer_chat(
        self, request: web.Request, rec: RecordedRequest, b: Behaviour
    ) -> web.StreamResponse:
        body = rec.body if isinstance(rec.body, dict) else {}
        model, n = str(body.get("model", "")), _choices(b, body)
        if n is None:
            return self._error(rec, dataclasses.replace(b, status=400))
        rid = f"chatcmpl-fake{len(self.requests)}"
        if not body.get("stream"):
            return self._json(rec, b, chat_completion(b, rid, model, n))
        include = bool((body.get("stream_options") or {}).get("include_usage"))
        send_usage = include if b.usage_chunk is None else b.usage_chunk
        frames: list[tuple[bool, dict[str, Any]]] = []

        def chunk(choices: list[dict[str, Any]], usage: dict[str, Any] | None = None) -> None:
            frames.append(
                (False, chat_chunk(rid, model, choices, usage=usage, with_usage_field=include))
            )

        def delta(i: int, d: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
            return {"index": i, "delta": d, "logprobs": None, "finish_reason": finish}

        chunk([delta(i, {"role": "assistant", "content": "", "refusal": None}) for i in range(n)])
        if b.tool_calls:
            for k, call in enumerate(b.tool_calls):
                for i in range(n):
                    frames.append(
                        (
                            True,
                            chat_chunk(
                                rid,
                                model,
                                [delta(i, {"tool_calls": [{"index": k, **call}]})],
                                with_usage_field=include,
                            ),
                        )
                    )
        else:
            for piece in b.pieces():
                for i in range(n):
                    frames.append(
                        (
                            True,
                            chat_chunk(
                                rid, model, [delta(i, {"content": piece})], with_usage_field=include
                            ),
                        )
                    )
        finish = "tool_calls" if b.tool_calls else (b.finish_reason or "stop")
        chunk([delta(i, {}, finish) for i in range(n)])
        if send_usage:
            chunk([], usage_body(b))
        return await self._stream(request, rec, b, frames)

    async def _answer_completions(
        self, request: web.Request, rec: RecordedRequest, b: Behaviour
    ) -> web.StreamResponse:
        body = rec.body if isinstance(rec.body, dict) else {}
        model, n = str(body.get("model", "")), _choices(b, body)
        if n is None:
            return self._error(rec, dataclasses.replace(b, status=400))
        rid = f"cmpl-fake{len(self.requests)}"
        if not body.get("stream"):
            return self._json(rec, b, text_completion(b, rid, model, n))
        include = bool((body.get("stream_options") or {}).get("include_usage"))
        send_usage = include if b.usage_chunk is None else b.usage_chunk
        frames: list[tuple[bool, dict[str, Any]]] = []
        for piece in b.pieces():
            for i in range(n):
                choice = {"text": piece, "index": i, "logprobs": None, "finish_reason": None}
                frames.append((True, text_completion_chunk(rid, model, [choice])))
        for i in range(n):
            choice = {"text": "", "index": i, "logprobs": None, "finish_reason": "stop"}
            frames.append((False, text_completion_chunk(rid, model, [choice])))
        if send_usage:
            frames.append((False, text_completion_chunk(rid, model, [], usage_body(b))))
        return await self._stream(request, rec, b, frames)

    async def _answer_embeddings(
        self, request: web.Request, rec: RecordedRequest, b: Behaviour
    ) -> web.Response:
        body = rec.body if isinstance(rec.body, dict) else {}
        inputs = body.get("input", [])
        if not isinstance(inputs, list) or (inputs and isinstance(inputs[0], int)):
            inputs = [inputs]
        fmt = str(body.get("encoding_format") or "float")
        return self._json(rec, b, embeddings_body(b, str(body.get("model", "")), inputs, fmt))

    async def _stream(
        self,
        request: web.Request,
        rec: RecordedRequest,
        b: Behaviour,
        frames: list[tuple[bool, dict[str, Any]]],
    ) -> web.StreamResponse:
        resp = web.StreamResponse(
            status=200,
            headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache", **b.headers},
        )
        await resp.prepare(request)
        rec.status = 200
        if b.first_event_delay:
            await asyncio.sleep(b.first_event_delay)
        sent = 0
        sep = b"\r\n" if b.crlf else b"\n"
        for is_content, payload in frames:
            if is_content and b.break_after is not None and sent >= b.break_after:
                self._break(request, b)
                return resp
            if is_content and b.error_after is not None and sent >= b.error_after:
                message = echoed_secrets(rec) if b.echo_secrets else "The server had an error"
                error = {"message": message, "type": "server_error", "param": None, "code": None}
                await self._write(rec, resp, b, b"data: " + dumps({"error": error}) + sep + sep)
                await resp.write_eof()
                return resp
            if is_content and b.stall_after is not None and sent == b.stall_after:
                await asyncio.sleep(b.stall_seconds)
            if b.chunk_delay:
                await asyncio.sleep(b.chunk_delay)
            data = _spaced(payload) if b.spaced_json else dumps(payload)
            await self._write(rec, resp, b, b"data: " + data + sep + sep)
            sent += int(is_content)
            if b.keepalive_comments:
                await self._write(rec, resp, b, b": keep-alive" + sep + sep)
        await self._write(rec, resp, b, b"data: [DONE]" + sep + sep)
        if b.linger_after_done:
            await asyncio.sleep(b.linger_after_done)
        await resp.write_eof()
        return resp

    async def _write(
        self, rec: RecordedRequest, resp: web.StreamResponse, b: Behaviour, data: bytes
    ) -> None:
        """Write one SSE frame, in ``b.fragment``-byte pieces when asked (split TCP reads)."""
        step = b.fragment or len(data) or 1
        for start in range(0, len(data), step):
            await resp.write(data[start : start + step])
            if b.fragment:
                await asyncio.sleep(0.001)
        rec.response_body += data

    def _break(self, request: web.Request, b: Behaviour) -> None:
        transport = request.transport
        if transport is None:
            return
        if b.abort:
            transport.abort()
        else:
            transport.close()
