"""The tool pipeline: the relay call of DESIGN.md §2 for a tool, through the one lifecycle.

Every tool route runs these steps, in this order, whatever the tool::

    async with relay.call(ctx) as call:        # counted in flight; recorded on the way out
        call.identify(principal)               # the user's key or OAuth token (401)
        job = tool.parse(request)              # the documented ranges (400, envelope)
        call.admit(job.model)                  # the key may use the tool (401)
        await call.limit()                     # the user's RPM tier (429)
        await call.hold(job.units)             # 402, or the hold (a cache hit: its share)
        async with call.slot():
            relay.open(... serves=tool's channel types)   # failover, keys, breakers
            ...answer (whole, or streamed as it arrives)
            await call.finish()                # billed, durable, before the last byte

An image tool (``Tool.task``) runs its own answer after the hold (tools/draw.py: the
upstream's task polled under a timeout, or handed to a background task for
``async=true``), on the same lifecycle.

A call the upstream failed is never billed (the lifecycle releases its hold); a streamed
answer the upstream broke off mid-audio is left unfinished, so the client sees a
truncated body rather than a file it believes complete (as relay/media/ does). Errors
are answered in the platform envelope before the first byte. The answer's and the
error's headers carry ``x-request-id`` and the rate-limit headers.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from relaygate.accounts.service import AccountService
from relaygate.channels.spec import ChannelSpec
from relaygate.core.error_formats import render_error
from relaygate.core.errors import (
    ClientError,
    Conflict,
    InvalidRequest,
    NotFound,
    PayloadTooLarge,
    RelaygateError,
    UpstreamFailure,
)
from relaygate.core.ids import RequestIds
from relaygate.relay.asgi import (
    Receive,
    Scope,
    Send,
    read_body,
    read_headers,
    respond,
    respond_error,
)
from relaygate.relay.call import CallLifecycle, guarded
from relaygate.relay.context import CallContext
from relaygate.relay.dialects.openai_chat.request import RequestFacts
from relaygate.relay.dialects.registry import OPENAI_CHAT
from relaygate.relay.disconnect import until_disconnect
from relaygate.relay.providers.base import UpstreamReply
from relaygate.relay.service import RelayService
from relaygate.tools.cache import SearchCache
from relaygate.tools.record import Incoming, Tool, ToolJob

if TYPE_CHECKING:  # the image pipeline is built on this module's refusal and runs from it
    from relaygate.tools.draw import DrawRunner

__all__ = ["TOOL_WIRE", "ToolRelay", "incoming", "upstream_refusal"]

log = logging.getLogger(__name__)
JSON = b"application/json"


def _facts(endpoint: str, payload: Any) -> RequestFacts:
    """What the lifecycle's admission reads: the tool as the model (its permission), and
    no usage chunk to ask for (``include_usage``)."""
    return RequestFacts(model=payload["model"], stream=payload["stream"], include_usage=True)


def _nothing_generated(endpoint: str, payload: Any, default: int) -> int:
    return 0


# The lifecycle's view of a tool call: admitted by the tool's name, errors in the
# platform envelope, the OpenAI-style rate-limit headers every platform answer carries
TOOL_WIRE = dataclasses.replace(
    OPENAI_CHAT, inspect=_facts, max_output=_nothing_generated, errors="platform"
)


def incoming(scope: Scope, body: bytes) -> Incoming:
    headers = {name.lower(): value for name, value in scope["headers"]}
    content_type = headers.get(b"content-type", b"").decode("latin-1").lower()
    return Incoming(scope.get("query_string", b""), body, content_type, headers)


_REFUSALS: dict[int, type[ClientError]] = {404: NotFound, 409: Conflict, 413: PayloadTooLarge}


def upstream_refusal(status: int, error: str | None) -> ClientError:
    """An upstream's refusal of the call (400, 404, 409, 413, 422: the caller's to fix),
    in the envelope with the upstream's own words, already masked (``CallContext.fail``);
    a 422 is answered as the 400 it is."""
    kind = _REFUSALS.get(status, InvalidRequest)
    return kind(f"The upstream refused the call: {(error or '')[:1000]}")


def _key_in_query(scope: Scope) -> str | None:
    query = scope.get("query_string", b"").decode("utf-8", "replace")
    return dict(parse_qsl(query)).get("key")


@dataclass(slots=True)
class _State:
    started: bool = False  # the answer's status line went out


class ToolRelay:
    """Runs one tool call (module doc); one per process, shared by every tool route."""

    def __init__(
        self,
        relay: RelayService,
        accounts: AccountService,
        ids: RequestIds,
        cache: SearchCache,
        *,
        max_body_bytes: int,
        max_header_bytes: int,
        draw: DrawRunner | None = None,
    ) -> None:
        self.relay = relay
        self.accounts = accounts
        self.ids = ids
        self.cache = cache
        self.draw = draw  # the image tools' pipeline (tools/draw.py)
        self.max_body_bytes = max_body_bytes
        self.max_header_bytes = max_header_bytes

    async def call(self, scope: Scope, receive: Receive, send: Send, tool: Tool) -> None:
        client = scope.get("client")
        ctx = CallContext(self.ids.next(), tool.endpoint, client[0] if client else "")
        state = _State()
        async with self.relay.call(ctx) as call:  # counted in flight; recorded on exit
            work = self._run(call, scope, receive, send, tool, state)
            await guarded(ctx, work, lambda err, close: self._error(send, ctx, err, state, close))

    async def _run(
        self, call: CallLifecycle, scope: Scope, receive: Receive, send: Send, tool: Tool,
        state: _State,
    ) -> None:  # fmt: skip
        ctx = call.ctx
        headers = read_headers(scope, self.max_header_bytes)
        key = headers.api_key or (_key_in_query(scope) if tool.query_key else None)
        call.identify(await self.accounts.authenticate(key, time.time()))
        upload_started = time.perf_counter()
        body = await read_body(receive, headers.content_length, self.max_body_bytes)
        ctx.rurt_ms = int((time.perf_counter() - upload_started) * 1000)
        job = tool.parse(incoming(scope, body))
        call.admit({"model": job.model, "stream": job.stream}, TOOL_WIRE)
        await call.limit(0, TOOL_WIRE.rate_limit_headers)
        if not self.relay.router.routes(job.model):
            raise NotFound(f"No channel serves the tool '{job.model}' yet.", param="model")
        cached = await self.cache.get(job.cache_key) if job.cache_key else None
        if cached is not None:  # billed at the operator's share of the price
            await call.hold(job.units, share=self.cache.hit_share)
            ctx.usage, ctx.status = job.units, 200
            await call.finish()
            ctx.responded = state.started = True
            await respond(send, 200, cached, JSON, [*self._ids(ctx), (b"x-cache", b"hit")])
            return
        await call.hold(job.units)
        if tool.task:
            await self._draw(call, tool, job, receive, send, state)
            return
        async with call.slot():
            await until_disconnect(self._answer(call, tool, job, send, state), receive, ctx)

    async def _draw(
        self, call: CallLifecycle, tool: Tool, job: ToolJob, receive: Receive, send: Send,
        state: _State,
    ) -> None:  # fmt: skip
        """An image tool: its images now, or a task id now and the images later."""
        draw, ctx = self.draw, call.ctx
        if draw is None:
            raise NotFound(f"No channel serves the tool '{job.model}' yet.", param="model")
        if job.delivery is not None and job.delivery.background:
            body: bytes | None = await draw.start(call, tool, job)
        else:
            body = await draw.run(call, tool, job, receive)
        if body is None:  # the client left
            return
        ctx.responded = state.started = True
        await respond(send, 200, body, JSON, self._ids(ctx))

    async def _answer(
        self, call: CallLifecycle, tool: Tool, job: ToolJob, send: Send, state: _State
    ) -> None:
        ctx = call.ctx
        facts = RequestFacts(model=job.model, stream=job.stream, include_usage=True)
        opened = await self.relay.open(ctx, facts, dict(job.payload), b"", serves=_channels(tool))
        reply = opened.reply
        if ctx.error is not None:  # an upstream refusal the caller can act on
            try:
                await reply.read()
            finally:
                reply.close()
            raise upstream_refusal(ctx.status, ctx.error)
        if tool.answer is None:
            await self._stream(call, job, reply, send, state)
            return
        try:
            data = await reply.read()
        finally:
            reply.close()
        answered = tool.answer(data, job)
        ctx.usage, ctx.status = answered.units, 200
        await call.finish()  # durable before the answer goes out
        if job.cache_key:
            await self.cache.put(job.cache_key, answered.body)
        ctx.responded = state.started = True
        await respond(send, 200, answered.body, answered.content_type, self._ids(ctx))

    async def _stream(
        self, call: CallLifecycle, job: ToolJob, reply: UpstreamReply, send: Send, state: _State
    ) -> None:
        """Forward the audio as it arrives; billed from its first byte (its characters are
        being spoken), durable before the last."""
        ctx = call.ctx
        head = [(b"content-type", reply.content_type.encode()), (b"cache-control", b"no-cache")]
        await send({"type": "http.response.start", "status": 200, "headers": head + self._ids(ctx)})
        ctx.status, state.started, ctx.usage = 200, True, job.units
        try:
            async for chunk in reply.chunks():
                if chunk:
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await call.finish()
        except UpstreamFailure as err:
            ctx.fail(err.status, err.message)
            self.relay.broke(ctx)
            log.warning("tool stream %s broke off upstream: cut", ctx.request_id)
            return  # left unfinished: the server drops the connection (module doc)
        finally:
            reply.close()
        ctx.responded = True
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    @staticmethod
    def _ids(ctx: CallContext) -> list[tuple[bytes, bytes]]:
        return [(b"x-request-id", ctx.request_id.encode()), *ctx.headers]

    async def _error(
        self, send: Send, ctx: CallContext, err: RelaygateError, state: _State, close: bool = False
    ) -> None:
        if state.started:  # too late for an error answer: the stream just ends
            return
        answer = render_error("platform", err, ctx.request_id)
        if close:
            answer = answer.closing()
        await respond_error(send, answer, self._ids(ctx))


def _channels(tool: Tool) -> Callable[[ChannelSpec], bool]:
    types = tool.channel_types
    return lambda channel: channel.type in types
