"""The relay routes, as raw ASGI handlers (see relay/asgi.py for why).

One handler per call shape: a POST that is relayed (OpenAI chat, completions and
embeddings; Anthropic messages, count_tokens and the legacy complete) and the model
list. A route group's path (``/api/v1/ai/openai/cc-omg/v1/…``, relay/groups.py) is
served as the ``/v1`` path it names, by the same handlers, priced with the group's
multiplier and spending the group's resource packages first. Errors raised anywhere in
the pipeline are rendered here, in the caller's dialect, before the first byte of a
response; after it, a stream ends with an error frame instead. Every authenticated call
leaves a usage record, in ``finally``.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import orjson

from relaygate.accounts.principal import Principal
from relaygate.accounts.service import AccountService
from relaygate.core.errors import NotFound, RelaygateError
from relaygate.core.ids import RequestIds
from relaygate.ops.logs import REQUEST_ID
from relaygate.relay.asgi import (
    Headers,
    Receive,
    Scope,
    Send,
    read_body,
    read_headers,
    respond,
    respond_error,
)
from relaygate.relay.background import BackgroundRuns, Call
from relaygate.relay.call import CallLifecycle, Request, estimate_prompt_tokens, guarded
from relaygate.relay.canonical import Usage
from relaygate.relay.compact_answer import CompactAnswers, compacts
from relaygate.relay.context import CallContext
from relaygate.relay.crossing import read_reply
from relaygate.relay.dialects.anthropic_messages.request import COMPLETE, COUNT_TOKENS, MESSAGES
from relaygate.relay.dialects.openai_chat.request import (
    CHAT,
    COMPLETIONS,
    EMBEDDINGS,
    MODERATIONS,
    RequestFacts,
)
from relaygate.relay.dialects.openai_responses.request import COMPACT, RESPONSES
from relaygate.relay.disconnect import until_disconnect
from relaygate.relay.groups import GROUPS_ROOT, group_of, sent_path, ungroup
from relaygate.relay.groups import SCOPE_KEY as GROUP_SCOPE_KEY
from relaygate.relay.media import MEDIA_ENDPOINTS
from relaygate.relay.models_list import model_list
from relaygate.relay.service import RelayService
from relaygate.relay.stream_answer import Plan, StreamAnswers
from relaygate.relay.streaming import KeepAlive
from relaygate.relay.turns import close_turn, open_turn

if TYPE_CHECKING:
    from relaygate.relay.media.handler import MediaRelay
    from relaygate.relay.media.webhook import WebhookSender
from relaygate.relay.dialects.record import Dialect
from relaygate.relay.dialects.registry import ANTHROPIC_MESSAGES, OPENAI_CHAT, OPENAI_RESPONSES
from relaygate.state.paths import serves as serves_state
from relaygate.state.service import StateService

__all__ = ["RelayApp"]


Handler = Callable[[Scope, Receive, Send], Awaitable[None]]
JSON = b"application/json"
_POSTS: dict[str, tuple[Dialect, str]] = {
    "/v1/chat/completions": (OPENAI_CHAT, CHAT),
    "/v1/completions": (OPENAI_CHAT, COMPLETIONS),
    "/v1/embeddings": (OPENAI_CHAT, EMBEDDINGS),
    "/v1/moderations": (OPENAI_CHAT, MODERATIONS),
    "/v1/messages": (ANTHROPIC_MESSAGES, MESSAGES),
    "/v1/messages/count_tokens": (ANTHROPIC_MESSAGES, COUNT_TOKENS),
    "/v1/complete": (ANTHROPIC_MESSAGES, COMPLETE),
    "/v1/responses": (OPENAI_RESPONSES, RESPONSES),
    "/v1/responses/compact": (OPENAI_RESPONSES, COMPACT),  # relay/compact_answer.py
    **{f"/v1/{media}": (OPENAI_CHAT, media) for media in MEDIA_ENDPOINTS},  # relay/media/
}


class RelayApp:
    def __init__(
        self,
        relay: RelayService,
        accounts: AccountService,
        keepalive: KeepAlive,
        state: StateService,
        background: BackgroundRuns,
        webhooks: WebhookSender,  # the image routes' ohmygpt_webhook_url
        *,
        max_body_bytes: int,
        max_header_bytes: int,
    ) -> None:
        self.relay = relay
        self.accounts = accounts
        self.keepalive = keepalive
        self.state = state
        self.background = background  # the runs of ``background: true`` responses
        self.max_body_bytes = max_body_bytes
        self.max_header_bytes = max_header_bytes
        self.ids = RequestIds()
        self.streams = StreamAnswers(relay, keepalive, state)
        self.compactions = CompactAnswers(relay, state)  # /responses/compact, triggers
        self.webhooks = webhooks
        self._media: MediaRelay | None = None  # built on the first media call
        self._posts: dict[str, Handler] = {
            path: functools.partial(self.media_call, endpoint=endpoint)
            if endpoint in MEDIA_ENDPOINTS
            else functools.partial(self.relay_call, wire=wire, endpoint=endpoint)
            for path, (wire, endpoint) in _POSTS.items()
        }

    async def media_call(self, scope: Scope, receive: Receive, send: Send, endpoint: str) -> None:
        """Images and audio (relay/media/), whose pipeline loads on the first such call."""
        media = self._media
        if media is None:
            from relaygate.relay.media.handler import MediaRelay

            media = self._media = MediaRelay(
                self.relay, self.accounts, self.ids, self.webhooks,
                max_body_bytes=self.max_body_bytes, max_header_bytes=self.max_header_bytes,
            )  # fmt: skip
        await media.call(scope, receive, send, endpoint)

    def route(self, scope: Scope) -> Handler | None:
        """The handler for this request, or None when the control plane should answer.

        A route group's request becomes the ``/v1`` request it names here (its scope's
        path rewritten, the group noted), so both planes serve it as that request."""
        path: str = scope["path"]
        if path.startswith(GROUPS_ROOT):
            grouped = ungroup(path)
            if grouped is None:
                return self.unknown_route
            scope[GROUP_SCOPE_KEY] = grouped
            scope["path"] = path = grouped.path
        method: str = scope["method"]
        if method == "POST":
            handler = self._posts.get(path)
            if handler is not None:
                return handler
        elif method == "GET" and (path == "/v1/models" or path.startswith("/v1/models/")):
            return self.models
        if serves_state(method, path):  # stored responses, conversations: the control plane
            return None
        if path.startswith("/v1/"):
            return self.unknown_route
        return None

    async def unknown_route(self, scope: Scope, receive: Receive, send: Send) -> None:
        """A path the relay does not serve, in the caller's error format."""
        err = NotFound(f"Invalid URL ({scope['method']} {sent_path(scope)})")
        wire = _wire_of(read_headers(scope, self.max_header_bytes))
        rid = self.ids.next()
        REQUEST_ID.set(rid)
        await respond_error(send, wire.render_error(err, rid), _id_headers(wire, rid))

    async def _authenticate(self, headers: Headers) -> Principal:
        return await self.accounts.authenticate(headers.api_key, time.time())

    async def relay_call(
        self, scope: Scope, receive: Receive, send: Send, wire: Dialect, endpoint: str
    ) -> None:
        client = scope.get("client")
        group = group_of(scope)
        ctx = CallContext(self.ids.next(), endpoint, client[0] if client else "", group)
        async with self.relay.call(ctx) as call:  # counted in flight; recorded on the way out
            work = self._admitted(call, scope, receive, send, wire, endpoint)
            await guarded(ctx, work, lambda err, close: self._error(send, ctx, err, wire, close))

    async def _admitted(
        self,
        call: CallLifecycle,
        scope: Scope,
        receive: Receive,
        send: Send,
        wire: Dialect,
        endpoint: str,
    ) -> None:
        """The call's steps: who calls, what for, may they, can they pay; then the answer
        (a background turn's run, or the upstream's answer within the key's slot)."""
        ctx = call.ctx
        headers = read_headers(scope, self.max_header_bytes)
        principal = await self._authenticate(headers)
        call.identify(principal)
        upload_started = time.perf_counter()
        body = await read_body(receive, headers.content_length, self.max_body_bytes)
        ctx.rurt_ms = int((time.perf_counter() - upload_started) * 1000)
        request = await call.apply_rules(Request(self.relay.parse(body), body), wire)
        facts = call.admit(request.payload, wire)
        request = await call.attach_files(request, wire)  # files named by id, inline
        payload, body = request.payload, request.body
        plan, payload = await self._planned(wire, endpoint, headers, principal, payload)
        await call.limit(estimate_prompt_tokens(body), wire.rate_limit_headers)
        if endpoint != COUNT_TOKENS:  # counting is free
            await call.reserve(payload, body, wire)
        if plan.turn is not None and plan.turn.background:  # runs on after the answer
            await self.background.launch(Call(call, facts, payload, body, plan.turn), send, receive)
            return
        async with call.slot():
            answer = self._answer(call, facts, payload, body, send, plan)
            await until_disconnect(answer, receive, ctx)

    async def _planned(
        self,
        wire: Dialect,
        endpoint: str,
        headers: Headers,
        principal: Principal,
        payload: dict[str, Any],
    ) -> tuple[Plan, dict[str, Any]]:
        """How the call is carried, and its payload as the upstream call needs it (a
        Responses turn's stored history and compactions, a stored chat, the legacy
        Complete route's body as Messages)."""
        plan = _plan(wire, endpoint, headers)
        if wire.stores_turns:
            plan.turn = await open_turn(self.state, principal.user_id, payload)
            await self.compactions.expand(principal.user_id, payload, plan.turn)
        elif endpoint == CHAT and payload.get("store") is True:
            plan.stored_chat = payload
        plan.choices = wire.choices_returned(payload)
        if plan.legacy:
            from relaygate.relay.dialects.anthropic_messages.legacy import complete_to_messages

            payload = complete_to_messages(payload)
        return plan, payload

    async def _answer(
        self,
        call: CallLifecycle,
        facts: RequestFacts,
        payload: dict[str, Any],
        body: bytes,
        send: Send,
        plan: Plan,
    ) -> None:
        ctx, client = call.ctx, plan.wire.name
        if plan.turn is not None and compacts(plan.endpoint, payload):
            await self.compactions.answer(
                call, facts, payload, body, send, plan.turn, self._ids(ctx, plan.wire)
            )
            return
        opened = await self.relay.open(
            ctx, facts, payload, body, client=client, endpoint=plan.endpoint,
            headers=plan.beta, history=plan.turn.history if plan.turn else None,
        )  # fmt: skip
        reply = opened.reply
        content_type = reply.content_type.encode()
        try:
            if ctx.error is not None:  # an upstream 4xx, passed through as it came
                data = await reply.read()
            elif facts.stream and reply.content_type.startswith("text/event-stream"):
                await self.streams.answer(
                    call, opened, facts, body, send, plan, self._ids(ctx, plan.wire)
                )
                return
            else:
                raw = await reply.read()
                template = plan.turn.template if plan.turn else None
                data, usage, answer = read_reply(
                    client, opened.upstream, raw, model=facts.model, legacy=plan.legacy,
                    template=template, parsed=opened.parsed,
                )  # fmt: skip
                if opened.upstream != client or plan.legacy:
                    content_type = JSON
                ctx.usage = _usage_of(ctx, usage, body)
                ctx.status = 200
                await self._keep(ctx, plan, payload, answer, data)
        finally:
            reply.close()
        if ctx.status == 200:
            await call.finish()
        ctx.responded = True
        headers = self._ids(ctx, plan.wire)
        headers.extend(opened.headers)
        await respond(send, ctx.status, data, content_type, headers)

    async def _keep(
        self,
        ctx: CallContext,
        plan: Plan,
        payload: dict[str, Any],
        answer: dict[str, Any] | None,
        data: bytes,
    ) -> None:
        """Store what the caller asked Relaygate to keep, before the answer goes out: the
        Response of a Responses turn, or a chat completion created with ``store: true``."""
        user_id = ctx.user_id
        if user_id is None:
            return
        if plan.turn is not None and answer is not None:
            await close_turn(self.state, user_id, plan.turn, answer)
        elif plan.stored_chat is not None:
            completion = answer if answer is not None else orjson.loads(data)
            if isinstance(completion, dict):
                await self.state.save_chat_completion(user_id, payload, completion)

    @staticmethod
    def _ids(ctx: CallContext, wire: Dialect) -> list[tuple[bytes, bytes]]:
        return [*_id_headers(wire, ctx.request_id), *ctx.headers]

    async def _error(
        self, send: Send, ctx: CallContext, err: RelaygateError, wire: Dialect, close: bool = False
    ) -> None:
        answer = wire.render_error(err, ctx.request_id)
        if close:  # a bug: the connection ends with this answer
            answer = answer.closing()
        await respond_error(send, answer, self._ids(ctx, wire))

    async def models(self, scope: Scope, receive: Receive, send: Send) -> None:
        """``GET /v1/models[/{id}]``: the models this key may use and some channel serves,
        in Anthropic's shape when the caller sent ``anthropic-version`` (the SDK always
        does, OpenAI clients never)."""
        headers = read_headers(scope, self.max_header_bytes)
        wire = _wire_of(headers)
        rid = self.ids.next()
        REQUEST_ID.set(rid)  # the relay calls' own is set by their lifecycle
        try:
            principal = await self._authenticate(headers)
            visible = [(m, c) for m, c in self.relay.router.models() if principal.may_use(m)]
            path: str = scope["path"]
            wanted = None if path == "/v1/models" else path.removeprefix("/v1/models/")
            if wanted == "":
                raise NotFound(f"Invalid URL (GET {sent_path(scope)})")
            data = model_list(visible, wire, wanted, scope.get("query_string", b""))
        except RelaygateError as err:
            await respond_error(send, wire.render_error(err, rid), _id_headers(wire, rid))
            return
        await respond(send, 200, orjson.dumps(data), JSON, _id_headers(wire, rid))


def _plan(wire: Dialect, endpoint: str, headers: Headers) -> Plan:
    legacy = endpoint == COMPLETE
    beta = (("anthropic-beta", headers.anthropic_beta),) if headers.anthropic_beta else ()
    return Plan(wire, MESSAGES if legacy else endpoint, legacy, beta)


def _wire_of(headers: Headers) -> Dialect:
    return ANTHROPIC_MESSAGES if headers.anthropic_version else OPENAI_CHAT


def _id_headers(wire: Dialect, request_id: str) -> list[tuple[bytes, bytes]]:
    rid = request_id.encode()
    return [(name, rid) for name in wire.id_headers]


def _usage_of(ctx: CallContext, usage: Usage | None, request_body: bytes) -> Usage:
    if ctx.endpoint == COUNT_TOKENS:
        return Usage()  # counting generates nothing and is free
    return usage or Usage(prompt_tokens=estimate_prompt_tokens(request_body), estimated=True)
