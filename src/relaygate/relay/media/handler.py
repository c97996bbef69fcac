"""The media pipeline: the relay call of DESIGN.md §2 for images and audio.

The steps are the JSON pipeline's (``relay/api.py``), through the same
:class:`~relaygate.relay.service.RelayService`: authenticate, read the body, check it
(:mod:`.request`), the user's override rules (``CallLifecycle.apply_rules``, as every
relay call), the key's model permission, the rate limits, a hold for the units
asked for (:mod:`.units`), routing with failover (uploads re-encoded per channel), then
the answer and the durable bill before its last byte. What differs is the body forms,
the units, and the answers: a whole JSON (or text) answer is passed on as it came; audio
and event streams are forwarded chunk by chunk as the upstream sends them.

An image call with ``ohmygpt_webhook_url`` gets its outcome POSTed there afterwards, in
the background (:mod:`.webhook`), whether it succeeded or failed, but only once it was
admitted (its hold placed): a call refused for its key, its limits or its balance costs
its caller nothing, so it must not make the gateway POST anywhere either.

A speech stream the upstream breaks off mid-audio cannot be answered with an error any
more (the status line went out), and ending it normally would leave the client with a
truncated file it believes complete. So the response is left unfinished: the handler
returns without the final empty chunk, and the server closes the connection (uvicorn
logs one line, "ASGI callable returned without completing response", no traceback); the
client sees an incomplete chunked body.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import orjson

from relaygate.accounts.service import AccountService
from relaygate.core.errors import RelaygateError, UpstreamFailure
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
from relaygate.relay.call import CallLifecycle, Request, guarded
from relaygate.relay.context import CallContext
from relaygate.relay.dialects.openai_chat.request import RequestFacts
from relaygate.relay.dialects.registry import OPENAI_CHAT
from relaygate.relay.disconnect import until_disconnect
from relaygate.relay.groups import group_of
from relaygate.relay.masking import LineGuard
from relaygate.relay.media.request import (
    IMAGE_EDITS,
    IMAGES,
    SPEECH,
    MediaCall,
    parse_call,
    rewritten,
)
from relaygate.relay.media.units import StreamMeter, estimate, reply_usage, stream_usage
from relaygate.relay.media.webhook import WebhookSender, failure_body, success_body
from relaygate.relay.providers.base import UpstreamReply
from relaygate.relay.service import RelayService

__all__ = ["MEDIA_WIRE", "MediaRelay"]

log = logging.getLogger(__name__)

Handler = Callable[[Scope, Receive, Send], Awaitable[None]]
_IMAGE_ROUTES = (IMAGES, IMAGE_EDITS)


def _truthy(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.lower() in ("true", "1"))


def _facts(endpoint: str, payload: Any) -> RequestFacts:
    """What routing needs; :func:`parse_call` has checked the body already. Speech is
    always streamed to the caller. ``include_usage``: never ask for a usage chunk."""
    stream = endpoint == SPEECH or _truthy(payload.get("stream"))
    return RequestFacts(model=str(payload["model"]), stream=stream, include_usage=True)


def _nothing_generated(endpoint: str, payload: Any, default: int) -> int:
    return 0


# The OpenAI dialect, with the media routes' own body check (the hold is placed by units)
MEDIA_WIRE = dataclasses.replace(OPENAI_CHAT, inspect=_facts, max_output=_nothing_generated)


@dataclass(slots=True)
class _State:
    """What one call has established so far (read again in its ``finally``)."""

    media: MediaCall | None = None
    answer: Any = None  # the images response object, for the webhook
    admitted: bool = False  # the hold was placed: the call may be reported to a webhook
    started: bool = False  # the answer's status line went out


def _content_type(scope: Scope) -> str:
    for name, value in scope["headers"]:
        if name == b"content-type":
            return str(value.decode("latin-1"))
    return ""


def _json(data: bytes, content_type: str) -> Any:
    if "json" not in content_type:
        return None
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        return None


def _error_message(error: str | None) -> str:
    """A failure's message for the webhook: an upstream error body's own message."""
    if not error:
        return "The request failed."
    with contextlib.suppress(orjson.JSONDecodeError, AttributeError, TypeError):
        message = orjson.loads(error)["error"]["message"]
        if isinstance(message, str):
            return message
    return error


class MediaRelay:
    def __init__(
        self,
        relay: RelayService,
        accounts: AccountService,
        ids: RequestIds,
        webhooks: WebhookSender,
        *,
        max_body_bytes: int,
        max_header_bytes: int,
    ) -> None:
        self.relay = relay
        self.accounts = accounts
        self.ids = ids
        self.webhooks = webhooks
        self.max_body_bytes = max_body_bytes
        self.max_header_bytes = max_header_bytes

    async def call(self, scope: Scope, receive: Receive, send: Send, endpoint: str) -> None:
        client = scope.get("client")
        ctx = CallContext(self.ids.next(), endpoint, client[0] if client else "", group_of(scope))
        state = _State()
        try:
            async with self.relay.call(ctx) as call:  # counted in flight; recorded on exit
                await self._relay(call, scope, receive, send, state)
        finally:
            if state.admitted and state.media is not None and state.media.webhook:
                self.webhooks.send(state.media.webhook, _webhook_body(ctx, state))

    async def _relay(
        self, call: CallLifecycle, scope: Scope, receive: Receive, send: Send, state: _State
    ) -> None:
        ctx = call.ctx
        work = self._serve(call, scope, receive, send, state)
        await guarded(ctx, work, lambda err, close: self._error(send, ctx, err, state, close))

    async def _serve(
        self, call: CallLifecycle, scope: Scope, receive: Receive, send: Send, state: _State
    ) -> None:
        facts = await self._admit(call, scope, receive, state)
        assert state.media is not None
        async with call.slot():
            answer = self._answer(call, facts, state.media, send, state)
            await until_disconnect(answer, receive, call.ctx)

    async def _admit(
        self, call: CallLifecycle, scope: Scope, receive: Receive, state: _State
    ) -> RequestFacts:
        """Everything before the upstream: who calls, what for, may they, can they pay."""
        ctx = call.ctx
        headers = read_headers(scope, self.max_header_bytes)
        call.identify(await self.accounts.authenticate(headers.api_key, time.time()))
        upload_started = time.perf_counter()
        body = await read_body(receive, headers.content_length, self.max_body_bytes)
        ctx.rurt_ms = int((time.perf_counter() - upload_started) * 1000)
        media = parse_call(ctx.endpoint, body, _content_type(scope))
        ruled = await call.apply_rules(Request(media.payload, media.body), MEDIA_WIRE)
        if ruled.payload is not media.payload:
            media = rewritten(media, ruled.payload, ruled.body)
        state.media = media
        facts = call.admit(media.payload, MEDIA_WIRE)
        units = estimate(media, call.default_output_estimate)
        await call.limit(units.prompt_tokens, MEDIA_WIRE.rate_limit_headers)
        await call.hold(units)
        state.admitted = True
        return facts

    def _headers(self, ctx: CallContext) -> list[tuple[bytes, bytes]]:
        return [(b"x-request-id", ctx.request_id.encode()), *ctx.headers]

    async def _answer(
        self, call: CallLifecycle, facts: RequestFacts, media: MediaCall, send: Send, state: _State
    ) -> None:
        ctx = call.ctx
        encode = media.encode if media.upload else None
        opened = await self.relay.open(ctx, facts, media.payload, media.body, encode=encode)
        reply = opened.reply
        headers = [*self._headers(ctx), *opened.headers]
        streamed = media.endpoint == SPEECH or reply.content_type.startswith("text/event-stream")
        if ctx.error is None and streamed:
            await self._stream(call, media, reply, send, headers, state)
            return
        try:
            data = await reply.read()
        finally:
            reply.close()
        if ctx.error is None:  # else an upstream 4xx, passed on as it came
            answer = _json(data, reply.content_type)
            ctx.usage, ctx.status = reply_usage(media, answer), 200
            state.answer = answer
            await call.finish()
        ctx.responded = state.started = True
        await respond(send, ctx.status, data, reply.content_type.encode(), headers)

    async def _stream(
        self,
        call: CallLifecycle,
        media: MediaCall,
        reply: UpstreamReply,
        send: Send,
        headers: list[tuple[bytes, bytes]],
        state: _State,
    ) -> None:
        """Forward the answer as it arrives (audio bytes, or events read on the way)."""
        ctx = call.ctx
        meter = StreamMeter() if reply.content_type.startswith("text/event-stream") else None
        lines = LineGuard(ctx.mask)
        kind = [(b"content-type", reply.content_type.encode()), (b"cache-control", b"no-cache")]
        await send({"type": "http.response.start", "status": 200, "headers": kind + headers})
        ctx.status, state.started = 200, True
        if media.endpoint == SPEECH:  # its characters are being spoken from the first byte
            ctx.usage = stream_usage(media, None)
        last: bytes | None = b""
        try:
            async for chunk in reply.chunks():
                if meter is not None:
                    meter.feed(chunk)
                    chunk = lines.feed(chunk)  # whole lines, an error event masked
                if chunk:
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
            last = lines.flush()  # an unterminated last line (nothing when unused)
            if meter is not None:
                meter.close()
            ctx.usage = stream_usage(media, meter)
            if meter is not None and meter.error:
                ctx.fail(502, f"the upstream reported an error mid-stream: {meter.error}")
                self.relay.broke(ctx)
            else:
                if meter is not None and media.endpoint in _IMAGE_ROUTES:
                    state.answer = meter.answer()
                await call.finish()  # durable before the last byte goes out
        except UpstreamFailure as err:
            ctx.fail(err.status, err.message)
            self.relay.broke(ctx)
            last = None  # audio bytes cannot say so; an event stream has an error event
            if meter is not None:
                last = OPENAI_CHAT.stream_error_frame(err, ctx.request_id)
        finally:
            reply.close()
            if ctx.usage is None and meter is not None and meter.images:
                ctx.usage = stream_usage(media, meter)  # the images that were delivered
        if last is None:  # left unfinished: the server drops the connection (module doc)
            log.warning("speech stream %s broke off upstream: cut", ctx.request_id)
            return
        ctx.responded = True
        await send({"type": "http.response.body", "body": last, "more_body": False})

    async def _error(
        self, send: Send, ctx: CallContext, err: RelaygateError, state: _State, close: bool = False
    ) -> None:
        if state.started:  # too late for an error answer: the stream just ends
            return
        answer = OPENAI_CHAT.render_error(err, ctx.request_id)
        if close:  # a bug: the connection ends with this answer
            answer = answer.closing()
        await respond_error(send, answer, self._headers(ctx))


def _webhook_body(ctx: CallContext, state: _State) -> dict[str, Any]:
    """The platform's webhook payload: the images response on success, else the failure
    (its HTTP status as ``code``, its message, ``data: null``)."""
    if ctx.status == 200 and ctx.error is None and state.answer is not None:
        return success_body(state.answer)
    return failure_body(ctx.status or 500, _error_message(ctx.error))
