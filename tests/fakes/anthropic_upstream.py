"""A scriptable fake Anthropic API: a real aiohttp server on 127.0.0.1.

It runs in a background thread with its own event loop, so synchronous tests (and a
gateway running in another thread) talk to it over real TCP, exactly like the OpenAI
fake::

    with FakeAnthropic() as fake:
        fake.script("claude-x", Behaviour(status=529))   # next claude-x request: overloaded
        client = anthropic.Anthropic(base_url=fake.url, api_key="k")
        ...
        assert fake.requests[-1].header("x-api-key") == "sk-channel"

``fake.url`` is the API root (the SDK appends ``/v1/...``). It serves
``POST /v1/messages`` (JSON or a stream with ``event:`` lines in Anthropic's order),
``POST /v1/messages/count_tokens`` (unless built with ``count_tokens=False``, as many
Anthropic-compatible upstreams are: then that path answers aiohttp's own plain-text
404, recorded like any request), the legacy ``POST /v1/complete`` and
``GET /v1/models[/{id}]``. Like the real API it refuses a request without an
``anthropic-version`` header (400). Behaviours queue per model (``None`` = any model)
and are consumed one per request; with an empty queue the fake answers with
``fake.default``. Every request is recorded with the bytes the fake sent back and
whether the client went away before the answer ended.
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
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.fakes.anthropic_payloads import (
    Behaviour,
    Event,
    completion_body,
    completion_events,
    dumps,
    error_envelope,
    message_body,
    message_events,
    model_info,
    sse,
)
from tests.fakes.openai_upstream import RecordedRequest, echoed_secrets

__all__ = ["AnthropicRequest", "Behaviour", "FakeAnthropic"]

DEFAULT_ERRORS: dict[int, tuple[str, str]] = {
    400: ("invalid_request_error", "fake upstream says the request is invalid"),
    401: ("authentication_error", "invalid x-api-key"),
    402: ("billing_error", "Your credit balance is too low"),
    403: ("permission_error", "Your API key does not have permission to use this resource"),
    404: ("not_found_error", "model: not found"),
    413: ("request_too_large", "Request exceeds the maximum allowed number of bytes"),
    429: ("rate_limit_error", "Number of request tokens has exceeded your rate limit"),
    500: ("api_error", "Internal server error"),
    504: ("timeout_error", "Request timed out"),
    529: ("overloaded_error", "Overloaded"),
}

Answer = Callable[[web.Request, "AnthropicRequest", Behaviour], Awaitable[web.StreamResponse]]


@dataclass
class AnthropicRequest(RecordedRequest):
    """A recorded request; ``header_pairs`` keeps repeated headers that ``headers`` folds."""

    header_pairs: list[tuple[str, str]] = field(default_factory=list)
    request_id: str = ""  # sent back in the ``request-id`` header and error bodies

    def header(self, name: str) -> str | None:
        """A request header by case-insensitive name; repeated ones joined by ", "."""
        values = [v for k, v in self.header_pairs if k.lower() == name.lower()]
        return ", ".join(values) if values else None


class FakeAnthropic:
    def __init__(self, models: list[str] | None = None, *, count_tokens: bool = True) -> None:
        self.models = models or ["claude-fake"]
        self.serves_count_tokens = count_tokens
        self.default = Behaviour()
        self.requests: list[AnthropicRequest] = []
        self._queues: dict[str | None, deque[Behaviour]] = {}
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self.port = 0

    # ---------------------------------------------------------------- lifecycle
    @property
    def url(self) -> str:
        """The API root: what the SDK's ``base_url`` and a channel's base URL take."""
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> FakeAnthropic:
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
            target=self._serve, args=(sock, ready), name=f"fake-anthropic-{self.port}", daemon=True
        )
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("fake Anthropic upstream did not start")

    def _serve(self, sock: socket.socket, ready: threading.Event) -> None:
        assert self._loop is not None
        asyncio.set_event_loop(self._loop)
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_post("/v1/messages", self._route(self._answer_message))
        count = self._route(self._answer_count) if self.serves_count_tokens else self._no_route
        app.router.add_post("/v1/messages/count_tokens", count)
        app.router.add_post("/v1/complete", self._route(self._answer_complete))
        app.router.add_get("/v1/models", self._route(self._answer_models))
        app.router.add_get("/v1/models/{model}", self._route(self._answer_model))
        self._runner = web.AppRunner(
            app, handler_cancellation=True, shutdown_timeout=0.5, access_log=None
        )
        self._loop.run_until_complete(self._runner.setup())
        self._loop.run_until_complete(web.SockSite(self._runner, sock).start())
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

    def requests_for(self, path_suffix: str) -> list[AnthropicRequest]:
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
    async def _record(self, request: web.Request) -> AnthropicRequest:
        raw = await request.read()
        try:
            body: Any = json.loads(raw) if raw else None
        except ValueError:
            body = None
        pairs = list(request.headers.items())
        rec = AnthropicRequest(
            request.method, request.path, dict(request.headers), body, raw, header_pairs=pairs
        )
        peer = request.transport.get_extra_info("peername") if request.transport else None
        rec.peer = tuple(peer) if peer else None
        with self._lock:
            rec.request_id = f"req_fake{len(self.requests)}"
            self.requests.append(rec)
        return rec

    async def _no_route(self, request: web.Request) -> web.StreamResponse:
        """A path this server does not have, answered as aiohttp answers one."""
        rec = await self._record(request)
        rec.status, rec.response_body = 404, b"404: Not Found"
        rec.done.set()
        return web.Response(status=404, text="404: Not Found")

    def _route(self, answer: Answer) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        async def handle(request: web.Request) -> web.StreamResponse:
            rec = await self._record(request)
            model = rec.body.get("model") if isinstance(rec.body, dict) else None
            b = self._next_behaviour(model)
            if b.reply is not None and isinstance(rec.body, dict):
                b = dataclasses.replace(b, text=b.reply(rec.body), reply=None)
            try:
                if b.latency:
                    await asyncio.sleep(b.latency)
                if rec.header("anthropic-version") is None:
                    message = "anthropic-version: header is required"
                    return self._error(rec, dataclasses.replace(b, status=400), message)
                if b.status != 200:
                    return self._error(rec, b)
                if b.raw_body is not None:
                    return await self._raw(request, rec, b)
                return await answer(request, rec, b)
            except (asyncio.CancelledError, ConnectionResetError):
                rec.client_disconnected = True
                raise
            finally:
                rec.done.set()

        return handle

    def _headers(self, rec: AnthropicRequest, b: Behaviour) -> dict[str, str]:
        return {"request-id": rec.request_id, **b.headers}

    def _error(
        self, rec: AnthropicRequest, b: Behaviour, message: str | None = None
    ) -> web.Response:
        body = b.error_body
        if body is None:
            etype, default = DEFAULT_ERRORS.get(b.status, ("api_error", "fake upstream error"))
            text = message or b.error_message or default
            if b.echo_secrets:
                text = echoed_secrets(rec)
            body = error_envelope(b.error_type or etype, text, rec.request_id)
        rec.status = b.status
        rec.response_body = dumps(body)
        return web.Response(
            status=b.status,
            body=rec.response_body,
            content_type="application/json",
            headers=self._headers(rec, b),
        )

    def _json(self, rec: AnthropicRequest, b: Behaviour, payload: dict[str, Any]) -> web.Response:
        rec.status = 200
        rec.response_body = dumps(payload)
        return web.Response(
            body=rec.response_body, content_type="application/json", headers=self._headers(rec, b)
        )

    async def _raw(
        self, request: web.Request, rec: AnthropicRequest, b: Behaviour
    ) -> web.StreamResponse:
        """A 200 with ``b.raw_body`` as its body, whatever it is (a broken upstream)."""
        assert b.raw_body is not None
        streams = isinstance(rec.body, dict) and bool(rec.body.get("stream"))
        kind = b.raw_content_type or ("text/event-stream" if streams else "application/json")
        headers = {**self._headers(rec, b), "Content-Type": kind}
        resp = web.StreamResponse(status=200, headers=headers)
        await resp.prepare(request)
        rec.status = 200
        await self._write(rec, resp, b, b.raw_body)
        await resp.write_eof()
        return resp

    @staticmethod
    def _model(rec: AnthropicRequest) -> str:
        return str(rec.body.get("model", "")) if isinstance(rec.body, dict) else ""

    async def _answer_message(
        self, request: web.Request, rec: AnthropicRequest, b: Behaviour
    ) -> web.StreamResponse:
        mid = "msg_fake" + rec.request_id.removeprefix("req_fake")
        if isinstance(rec.body, dict) and rec.body.get("stream"):
            return await self._stream(request, rec, b, message_events(b, mid, self._model(rec)))
        return self._json(rec, b, message_body(b, mid, self._model(rec)))

    async def _answer_count(
        self, request: web.Request, rec: AnthropicRequest, b: Behaviour
    ) -> web.StreamResponse:
        count = b.count_tokens if b.count_tokens is not None else b.input_tokens
        return self._json(rec, b, {"input_tokens": count})

    async def _answer_complete(
        self, request: web.Request, rec: AnthropicRequest, b: Behaviour
    ) -> web.StreamResponse:
        cid = "compl_fake" + rec.request_id.removeprefix("req_fake")
        if isinstance(rec.body, dict) and rec.body.get("stream"):
            return await self._stream(request, rec, b, completion_events(b, cid, self._model(rec)))
        return self._json(rec, b, completion_body(b, cid, self._model(rec)))

    async def _answer_models(
        self, request: web.Request, rec: AnthropicRequest, b: Behaviour
    ) -> web.StreamResponse:
        data = [model_info(m) for m in self.models]
        page = {"data": data, "has_more": False, "first_id": None, "last_id": None}
        if data:
            page.update(first_id=data[0]["id"], last_id=data[-1]["id"])
        return self._json(rec, b, page)

    async def _answer_model(
        self, request: web.Request, rec: AnthropicRequest, b: Behaviour
    ) -> web.StreamResponse:
        model = request.match_info["model"]
        if model not in self.models:
            return self._error(rec, dataclasses.replace(b, status=404), f"model: {model}")
        return self._json(rec, b, model_info(model))

    async def _stream(
        self, request: web.Request, rec: AnthropicRequest, b: Behaviour, events: list[Event]
    ) -> web.StreamResponse:
        resp = web.StreamResponse(
            status=200,
            headers={
                "Content-Type": "text/event-stream; charset=utf-8",
                "Cache-Control": "no-cache",
                **self._headers(rec, b),
            },
        )
        await resp.prepare(request)
        rec.status = 200
        sent = 0
        for event in events:
            if event.content and b.break_after is not None and sent >= b.break_after:
                self._break(request, b)
                return resp
            if event.content and b.error_after is not None and sent >= b.error_after:
                await self._write(rec, resp, b, self._stream_error(rec, b))
                break
            if b.chunk_delay:
                await asyncio.sleep(b.chunk_delay)
            await self._write(rec, resp, b, sse(event, b.data_only))
            sent += int(event.content)
            if event.content and b.extra_pings:
                await self._write(rec, resp, b, sse(Event("ping", {"type": "ping"}), b.data_only))
        await resp.write_eof()
        return resp

    def _stream_error(self, rec: AnthropicRequest, b: Behaviour) -> bytes:
        message = b.error_message or DEFAULT_ERRORS.get(529, ("", "Overloaded"))[1]
        if b.echo_secrets:
            message = echoed_secrets(rec)
        envelope = error_envelope(b.stream_error_type, message, rec.request_id)
        return sse(Event("error", envelope), b.data_only)

    async def _write(
        self, rec: AnthropicRequest, resp: web.StreamResponse, b: Behaviour, data: bytes
    ) -> None:
        """Write one SSE event, in ``b.fragment``-byte pieces when asked (split TCP reads)."""
        step = b.fragment or len(data) or 1
        for start in range(0, len(data), step):
            await resp.write(data[start : start + step])
            if b.fragment:
                await asyncio.sleep(0.001)
        rec.response_body += data

    @staticmethod
    def _break(request: web.Request, b: Behaviour) -> None:
        transport = request.transport
        if transport is None:
            return
        if b.abort:
            transport.abort()
        else:
            transport.close()
