"""The ``/v1/...`` relay routes, as raw ASGI handlers (see relay/asgi.py for why).

One handler per call shape: a POST that is relayed (chat, completions, embeddings) and
the model list. Errors raised anywhere in the pipeline are rendered here, in the
caller's dialect, before the first byte of a response; after it, a stream ends with an
error frame instead. Every authenticated call leaves a usage record, in ``finally``.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import orjson

from relaygate.accounts.principal import Principal
from relaygate.accounts.service import AccountService
from relaygate.core.errors import NotFound, RelaygateError, UpstreamFailure
from relaygate.core.ids import RequestIds
from relaygate.relay.asgi import ClientGone, Receive, Scope, Send, read_body, read_headers, respond
from relaygate.relay.canonical import Usage
from relaygate.relay.context import CLIENT_CLOSED, CallContext
from relaygate.relay.dialects.openai_chat.errors import error_body, stream_error_frame
from relaygate.relay.dialects.openai_chat.request import (
    CHAT,
    COMPLETIONS,
    EMBEDDINGS,
    RequestFacts,
)
from relaygate.relay.providers.base import UpstreamReply
from relaygate.relay.service import RelayService, estimate_prompt_tokens
from relaygate.relay.streaming import KeepAlive, SSEScanner

__all__ = ["RelayApp"]

log = logging.getLogger(__name__)

Handler = Callable[[Scope, Receive, Send], Awaitable[None]]
JSON = b"application/json"
_SSE_HEADERS = [(b"cache-control", b"no-cache"), (b"x-accel-buffering", b"no")]
_NO_SLOT = contextlib.nullcontext()  # stateless, so one serves every call
_WATCH_AFTER = 0.05  # seconds before a call starts watching for the client to leave
_POSTS = {
    "/v1/chat/completions": CHAT,
    "/v1/completions": COMPLETIONS,
    "/v1/embeddings": EMBEDDINGS,
}


class RelayApp:
    def __init__(
        self,
        relay: RelayService,
        accounts: AccountService,
        keepalive: KeepAlive,
        *,
        max_body_bytes: int,
        max_header_bytes: int,
    ) -> None:
        self.relay = relay
        self.accounts = accounts
        self.keepalive = keepalive
        self.max_body_bytes = max_body_bytes
        self.max_header_bytes = max_header_bytes
        self.ids = RequestIds()
        self._posts: dict[str, Handler] = {
            path: functools.partial(self.relay_call, endpoint=endpoint)
            for path, endpoint in _POSTS.items()
        }

    def route(self, scope: Scope) -> Handler | None:
        """The handler for this request, or None when the control plane should answer."""
        path: str = scope["path"]
        method: str = scope["method"]
        if method == "POST":
            handler = self._posts.get(path)
            if handler is not None:
                return handler
        elif method == "GET" and (path == "/v1/models" or path.startswith("/v1/models/")):
            return self.models
        if path.startswith("/v1/"):
            return self.unknown_route
        return None

    async def unknown_route(self, scope: Scope, receive: Receive, send: Send) -> None:
        """OpenAI's answer to a path it does not serve, in its own error format."""
        err = NotFound(f"Invalid URL ({scope['method']} {scope['path']})")
        await respond(
            send, 404, error_body(err), JSON, [(b"x-request-id", self.ids.next().encode())]
        )

    async def _authenticate(self, scope: Scope) -> tuple[Principal, int]:
        headers = read_headers(scope, self.max_header_bytes)
        return await self.accounts.authenticate(
            headers.api_key, time.time()
        ), headers.content_length

    async def relay_call(self, scope: Scope, receive: Receive, send: Send, endpoint: str) -> None:
        client = scope.get("client")
        ctx = CallContext(self.ids.next(), endpoint, client[0] if client else "")
        principal: Principal | None = None
        self.relay.in_flight += 1
        try:
            principal, declared = await self._authenticate(scope)
            ctx.user_id, ctx.key_id = principal.user_id, principal.key_id
            upload_started = time.perf_counter()
            body = await read_body(receive, declared, self.max_body_bytes)
            ctx.rurt_ms = int((time.perf_counter() - upload_started) * 1000)
            payload = self.relay.parse(body)
            facts = self.relay.admit(ctx, principal, payload)
            await self.relay.limit(ctx, principal, estimate_prompt_tokens(body))
            await self.relay.reserve(ctx, principal, payload, body)
            slots = principal.concurrency
            async with (
                self.relay.limiter.concurrency(principal.key_id, slots) if slots else _NO_SLOT
            ):
                await _until_disconnect(self._answer(ctx, facts, payload, body, send), receive, ctx)
        except RelaygateError as err:
            ctx.fail(err.status, err.message)
            await self._error(send, ctx, err)
        except ClientGone:
            ctx.fail(CLIENT_CLOSED, "client disconnected before the request was complete")
        except Exception:  # the top-level handler: a bug must not take the worker down
            log.exception("relay call %s failed", ctx.request_id)
            ctx.fail(500, "internal error")
            await self._error(
                send, ctx, RelaygateError("The server had an error processing your request.")
            )
        finally:
            self.relay.in_flight -= 1
            if principal is not None:
                self.relay.settle_later(ctx)

    async def _answer(
        self,
        ctx: CallContext,
        facts: RequestFacts,
        payload: dict[str, Any],
        body: bytes,
        send: Send,
    ) -> None:
        reply, injected = await self.relay.open(ctx, facts, payload, body)
        try:
            if ctx.error is not None:  # an upstream 4xx, passed through as it came
                data = await reply.read()
            elif facts.stream and reply.content_type.startswith("text/event-stream"):
                await self._stream(ctx, reply, injected, body, send)
                return
            else:
                data = self.relay.usage_of(ctx, await reply.read(), body)
                ctx.status = 200
        finally:
            reply.close()
        if ctx.status == 200:
            await self.relay.settle(ctx)
        ctx.responded = True
        await respond(send, ctx.status, data, reply.content_type.encode(), self._ids(ctx))

    @staticmethod
    def _ids(ctx: CallContext) -> list[tuple[bytes, bytes]]:
        return [(b"x-request-id", ctx.request_id.encode()), *ctx.headers]

    async def _error(self, send: Send, ctx: CallContext, err: RelaygateError) -> None:
        headers = self._ids(ctx) + [(k.encode(), v.encode()) for k, v in err.headers.items()]
        await respond(send, err.status, error_body(err), JSON, headers)

    async def _stream(
        self,
        ctx: CallContext,
        reply: UpstreamReply,
        injected: bool,
        request_body: bytes,
        send: Send,
    ) -> None:
        """Forward the upstream's events as they come and meter them.

        The stream ends at the upstream's terminal event (``[DONE]``), not at its end of
        file: a client may hang up right after it, and the call is complete all the same.
        """
        scanner = SSEScanner(drop_usage_chunk=injected)
        headers = [(b"content-type", b"text/event-stream"), *_SSE_HEADERS, *self._ids(ctx)]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        ctx.status = 200
        watch = self.keepalive.watch(send)
        last = b""
        try:
            async for chunk in reply.chunks():
                out = scanner.feed(chunk)
                if scanner.finished:  # the terminal event goes out with the end of the body
                    last = out
                    break
                if out:
                    watch.last = time.monotonic()
                    await send({"type": "http.response.body", "body": out, "more_body": True})
            last += scanner.flush()
            _meter_stream(ctx, scanner, request_body)
            await self.relay.settle(ctx)  # durable before the last byte goes out
        except UpstreamFailure as err:
            ctx.fail(err.status, err.message)
            last = scanner.flush() + stream_error_frame(err)
        finally:
            self.keepalive.release(watch)
            reply.close()
            _meter_stream(ctx, scanner, request_body)
        ctx.responded = True
        await send({"type": "http.response.body", "body": last, "more_body": False})

    async def models(self, scope: Scope, receive: Receive, send: Send) -> None:
        """``GET /v1/models[/{id}]``: the models this key may use and some channel serves."""
        ids = [(b"x-request-id", self.ids.next().encode())]
        try:
            principal, _ = await self._authenticate(scope)
            visible = [(m, c) for m, c in self.relay.router.models() if principal.may_use(m)]
            path: str = scope["path"]
            if path == "/v1/models":
                data: Any = {"object": "list", "data": [_model(m, c) for m, c in visible]}
            else:
                wanted = path[len("/v1/models/") :]
                found = [_model(m, c) for m, c in visible if m == wanted]
                if not found:
                    raise NotFound(
                        f"The model '{wanted}' does not exist",
                        param="model",
                        code="model_not_found",
                    )
                data = found[0]
        except RelaygateError as err:
            await respond(send, err.status, error_body(err), JSON, ids)
            return
        await respond(send, 200, orjson.dumps(data), JSON, ids)


def _meter_stream(ctx: CallContext, scanner: SSEScanner, request_body: bytes) -> None:
    """The stream's usage: the upstream's own count, else an estimate of what went out."""
    if ctx.usage is None:
        ctx.usage = scanner.usage or Usage(
            prompt_tokens=estimate_prompt_tokens(request_body),
            completion_tokens=scanner.content_events,
            estimated=True,
        )


def _model(model_id: str, created: int) -> dict[str, Any]:
    return {"id": model_id, "object": "model", "created": created, "owned_by": "relaygate"}


async def _until_disconnect(work: Awaitable[None], receive: Receive, ctx: CallContext) -> None:
    """Run ``work`` but stop it, and the upstream call inside it, if the client goes away.

    Watching costs a task, so it starts only once the call has run for a moment: most
    calls are over before anyone could hang up on them. A client that leaves after the
    answer is complete (Codex hangs up right after the last event) has not cancelled
    anything: the call stays a success.
    """
    task = asyncio.current_task()
    assert task is not None
    watchers: list[asyncio.Future[None]] = []
    timer = asyncio.get_running_loop().call_later(
        _WATCH_AFTER,
        lambda: watchers.append(asyncio.ensure_future(_watch_disconnect(receive, ctx, task))),
    )
    try:
        await work
    except asyncio.CancelledError:
        if not ctx.client_gone:
            raise
        task.uncancel()
        if not ctx.responded:
            ctx.fail(CLIENT_CLOSED, "client disconnected")
    finally:
        timer.cancel()
        for watcher in watchers:
            watcher.cancel()


async def _watch_disconnect(receive: Receive, ctx: CallContext, task: asyncio.Task[Any]) -> None:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            ctx.client_gone = True
            if not ctx.responded:
                task.cancel()
            return
