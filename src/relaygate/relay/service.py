"""The relay pipeline (DESIGN.md §2) for the OpenAI dialect, minus the HTTP plumbing.

``open`` validates, checks the key's permission, routes, and calls the upstream; it
returns the upstream's reply with the call context filled in. Error statuses are decided
here, in one place: upstream 4xx bodies the caller can act on pass through, masked
(core.redact); anything that is the operator's problem (the channel's key refused,
upstream 5xx) becomes a clean 502/503/504 without upstream details.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson

from relaygate.billing.charging import Charging
from relaygate.billing.tier_rules import TierSource
from relaygate.channels.health import ChannelHealth
from relaygate.channels.spec import ChannelSpec
from relaygate.core.errors import (
    AnswerOffSchema,
    InvalidRequest,
    ModelNotFound,
    UpstreamBadResponse,
    UpstreamFailure,
    UpstreamOverloaded,
    UpstreamRateLimited,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from relaygate.core.redact import redact_json
from relaygate.limits.service import RateLimiter
from relaygate.ops.metrics import Metrics
from relaygate.relay.answer_checks import CHECKED_ENDPOINTS, first_event, whole_answer
from relaygate.relay.call import CallLifecycle, Calls
from relaygate.relay.context import CallContext
from relaygate.relay.count_fallback import CountRouteMemory, lacks_count_route
from relaygate.relay.crossing import (
    cap_output,
    counts_locally,
    upstream_endpoint,
    upstream_error,
    upstream_payload,
)
from relaygate.relay.dialects import OPENAI
from relaygate.relay.dialects.anthropic_messages.request import COUNT_TOKENS
from relaygate.relay.dialects.openai_chat.request import EMBEDDINGS, RequestFacts
from relaygate.relay.dialects.registry import dialect_of, for_call
from relaygate.relay.file_inputs import FileInputs
from relaygate.relay.keyring import KEY_REFUSALS, KeyRing
from relaygate.relay.masking import channel_secrets, public_model
from relaygate.relay.observe import CallObserver
from relaygate.relay.output_cap import CapSlack
from relaygate.relay.providers.base import Provider, UpstreamCall, UpstreamReply
from relaygate.relay.routing import Route, Router
from relaygate.relay.structured import check_answer, strict_schema
from relaygate.rules.cache import RuleCache

__all__ = [
    "PASSTHROUGH_STATUSES",
    "Encoder",
    "Opened",
    "RelayService",
]

# How a same-dialect body is written for the channel when it is not JSON (the multipart
# uploads of the media routes): the payload, its model already mapped -> (bytes, type).
Encoder = Callable[[dict[str, Any]], tuple[bytes, str]]

# Upstream statuses whose body the caller can act on: passed through, secrets masked.
PASSTHROUGH_STATUSES = frozenset({400, 404, 409, 413, 422})
# Upstream statuses that are the channel's fault, not the call's: the next channel is
# tried (429: rate-limited; 401/403: the channel's keys refused, after each was tried).
_CHANNEL_FAULTS = frozenset({401, 403, 429})
# Anthropic's required ``max_tokens`` for a translated call that set no output limit
# (docs/compatibility.md), lowered by the channel's ``max_output_tokens``. Not the hold's
# ``default_output_estimate`` (1,024): Codex never sets a limit, and fails the whole run
# when a turn ends ``incomplete``, so every turn longer than that broke on Claude.
DEFAULT_MAX_TOKENS = 4096


def _upstream_status_error(status: int, client: str = OPENAI) -> UpstreamFailure:
    message = f"The upstream returned HTTP {status}."
    if status == 429:
        return UpstreamRateLimited(
            "The upstream serving this model is rate-limited; try again in a few seconds."
        )
    if status == 529 and dialect_of(client).overloaded_529:
        return UpstreamOverloaded(message)
    if status in (503, 529):
        return UpstreamUnavailable(message)
    if status == 504:
        return UpstreamTimeout(message)
    return UpstreamBadResponse(message)


def _status_error(reply: UpstreamReply, client: str) -> UpstreamFailure:
    """A clean error for an upstream's error status, keeping only its ``retry-after``."""
    error = _upstream_status_error(reply.status, client)
    retry = reply.header(b"retry-after")
    if retry and reply.status in (429, 503, 529):
        error.headers["retry-after"] = retry.decode("latin-1")
    return error


def _retryable(status: int) -> bool:
    return status in _CHANNEL_FAULTS or status >= 500


def _request_usage_chunk(ctx: CallContext, facts: RequestFacts, payload: dict[str, Any]) -> bool:
    """Ask a streaming upstream for its usage chunk when the client did not; True if asked.

    The gateway needs the upstream's own count to meter the call; the chunk is removed
    from the stream again before the client sees it.
    """
    if not facts.stream or facts.include_usage or ctx.endpoint == EMBEDDINGS:
        return False
    options = payload.get("stream_options")
    payload["stream_options"] = {
        **(options if isinstance(options, dict) else {}),
        "include_usage": True,
    }
    return True


@dataclass(slots=True)
class Opened:
    """An upstream's answer and how it must be read back for the caller."""

    reply: UpstreamReply
    upstream: str  # the dialect the channel answered in
    injected: bool  # a usage chunk was asked for on the caller's behalf (to be dropped)
    headers: tuple[tuple[bytes, bytes], ...] = ()  # upstream headers the caller gets too
    # A whole JSON answer as parsed when it was checked (None: not read here, or not
    # JSON, as for audio): readers take it instead of parsing the body a second time.
    parsed: dict[str, Any] | None = None


class RelayService:
    """The steps of a relay call that do not depend on how it reached the gateway, so
    the chat, media, compaction and background paths share one way of choosing and
    failing over channels instead of each keeping its own. Their admission, limits,
    holds, in-flight count and bill are the call lifecycle's (:meth:`call`,
    relay/call.py)."""

    def __init__(
        self,
        router: Router,
        providers: dict[str, Provider],
        charging: Charging,
        limiter: RateLimiter,
        tiers: TierSource,
        default_output_estimate: int,
        health: ChannelHealth | None = None,
        keys: KeyRing | None = None,
        cap_slack: CapSlack | None = None,
        first_byte_timeout: float = 600.0,
        rules: RuleCache | None = None,
        files: FileInputs | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self.router = router
        # seconds for an upstream's first event, unless its channel sets its own (the
        # HTTP client's default, which bounds the wait for the headers)
        self.first_byte_timeout = first_byte_timeout
        self.health = health or ChannelHealth()
        self.keys = keys or KeyRing()
        self.providers = providers
        # admission, limits, holds, the in-flight count and the bill: relay/call.py
        self.calls = Calls(
            charging, limiter, tiers, default_output_estimate, cap_slack or CapSlack(),
            self.health, rules, files,
            CallObserver(metrics, router.serves),
        )  # fmt: skip
        self.count_routes = CountRouteMemory()  # channels whose upstream cannot count

    def call(self, ctx: CallContext) -> CallLifecycle:
        """The call's lifecycle (relay/call.py): ``async with relay.call(ctx) as call``."""
        return self.calls.call(ctx)

    def parse(self, body: bytes) -> Any:
        try:
            return orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise InvalidRequest(
                "We could not parse the JSON body of your request. The body must be valid JSON."
            ) from exc

    async def open(
        self,
        ctx: CallContext,
        facts: RequestFacts,
        payload: dict[str, Any],
        body: bytes,
        *,
        client: str = OPENAI,
        endpoint: str | None = None,
        headers: tuple[tuple[str, str], ...] = (),
        history: list[dict[str, Any]] | None = None,
        encode: Encoder | None = None,
        serves: Callable[[ChannelSpec], bool] | None = None,
    ) -> Opened:
        """Call the upstream and return its answer (``endpoint``: the call to make, when it
        is not the recorded one, as for the legacy Complete route; ``serves``: which
        channels can take a call no dialect describes, a tool's: docs/tools.md).

        Channels are tried in the router's order until one answers with anything but a
        connection failure, a 429 or a 5xx; nothing has reached the client yet, so a
        failed attempt is invisible to it (and, having produced nothing, unbilled).
        A channel that speaks another dialect gets the call translated.
        """
        routes = self.router.routes(facts.model)
        if not routes:
            raise ModelNotFound(
                f"The model '{facts.model}' does not exist or you do not have access to it.",
                param="model",
            )
        endpoint = endpoint or ctx.endpoint
        last_error: UpstreamFailure | None = None
        attempts = [
            r
            for r in routes
            if (serves(r.channel) if serves else self._serves(client, endpoint, r.channel))
        ]
        if not attempts:
            raise InvalidRequest(
                f"The model '{facts.model}' does not support this endpoint.", param="model"
            )
        for attempt, route in enumerate(attempts, start=1):
            upstream = for_call(route.channel, client).name
            if counts_locally(endpoint, upstream) or (
                endpoint == COUNT_TOKENS and self.count_routes.lacks(route.channel)
            ):
                return self._local_count(ctx, route, payload, client)
            if not self.health.admits(route.channel.id):  # its breaker is open
                continue
            tried = await self._try(
                ctx, facts, (payload, body), route, (client, upstream, endpoint), history,
                (encode, headers),
            )  # fmt: skip
            if isinstance(tried, Opened):
                return tried
            if isinstance(tried, UpstreamFailure):
                last_error = tried
                continue
            reply, error_body = tried.reply, tried.body
            if endpoint == COUNT_TOKENS and lacks_count_route(reply.status, error_body):
                self.count_routes.remember(route.channel)  # relay/count_fallback.py
                self.health.succeeded(route.channel.id, ctx.ttfb_ms)
                return self._local_count(ctx, route, payload, client)
            self._note(route.channel.id, reply.status, ctx.ttfb_ms)
            if _retryable(reply.status) and attempt < len(attempts):
                last_error = _status_error(reply, client)
                continue
            return self._refusal(ctx, reply, error_body, upstream, client)
        if last_error is None:  # every channel's breaker is open
            raise UpstreamUnavailable(
                "Every channel serving this model is failing; try again in a few seconds."
            )
        raise last_error

    async def _try(
        self,
        ctx: CallContext,
        facts: RequestFacts,
        request: tuple[dict[str, Any], bytes],  # (payload, body)
        route: Route,
        crossing: tuple[str, str, str],  # (caller's dialect, channel's dialect, endpoint)
        history: list[dict[str, Any]] | None,
        sending: tuple[Encoder | None, tuple[tuple[str, str], ...]],  # (encode, headers)
    ) -> Opened | UpstreamFailure | _Refused:
        """One channel's attempt: its answer, the failure that sends the call on to the
        next channel, or the error status it answered (read whole)."""
        (payload, body), (encode, headers) = request, sending
        client, upstream, _ = crossing
        ctx.channel_id, ctx.upstream_model = route.channel.id, route.upstream_model
        ctx.channel = route.channel
        call, injected = self._call(ctx, facts, payload, body, crossing, history, route.channel)
        if encode is not None:  # a media upload: the same dialect, written as it came
            call.body, call.content_type = encode(call.payload)
        call.headers = headers if upstream == client else ()
        call.header_edits = ctx.header_edits  # the caller's rules', whatever the dialect
        try:
            sent = time.monotonic()
            reply = await self._send(ctx, route.channel, call)
            ctx.ttfb_ms = ctx.elapsed_ms()
            if reply.status < 300:
                deadline = sent + (route.channel.first_byte_timeout or self.first_byte_timeout)
                return await self._answered(ctx, reply, call, upstream, injected, deadline)
            return _Refused(reply, await reply.read())
        except UpstreamFailure as err:
            if not isinstance(err, AnswerOffSchema):  # the channel itself worked
                self.health.failed(route.channel.id)
            return err

    @staticmethod
    def _local_count(
        ctx: CallContext, route: Route, payload: dict[str, Any], client: str
    ) -> Opened:
        """count_tokens answered with the local estimate, on behalf of ``route``'s channel
        (it cannot count: another dialect, or an upstream without the route)."""
        ctx.channel_id, ctx.upstream_model = route.channel.id, route.upstream_model
        ctx.channel = route.channel
        ctx.ttfb_ms = ctx.elapsed_ms()
        estimate = dialect_of(client).count_estimate
        assert estimate is not None  # only a dialect with a count route is counted locally
        count = orjson.dumps({"input_tokens": estimate(payload)})
        return Opened(_Finished(200, "application/json", count), client, False)

    async def _answered(
        self, ctx: CallContext, reply: UpstreamReply, call: UpstreamCall, upstream: str,
        injected: bool, deadline: float,
    ) -> Opened:  # fmt: skip
        """A 2xx answer, checked while nothing has reached the client, so that an answer
        that is broken (cut before its end, not JSON, a stream whose first event is not
        one) is a failed attempt the next channel can take. A whole answer is read and
        parsed here. A stream is handed on at its first event (``deadline``: when the
        channel's first-byte timeout runs out); the channel's breaker hears how it went
        when it ends (``CallLifecycle.finish`` or ``broke``)."""
        channel_id = ctx.channel_id
        assert channel_id is not None
        if call.stream and not reply.content_type.startswith("application/json"):
            if call.endpoint in CHECKED_ENDPOINTS:  # a dialect's event stream, not media
                opening = dialect_of(upstream).stream_opening
                reply = await first_event(reply, opening, deadline - time.monotonic())
                ctx.ttfb_ms = ctx.elapsed_ms()
            self.health.started(channel_id, ctx.ttfb_ms)
            ctx.outcome_pending = True
            return Opened(reply, upstream, injected)
        try:  # a stream the upstream answered whole (JSON) is read whole too
            data = await reply.read()
        finally:
            reply.close()
        parsed = whole_answer(call.endpoint, data)
        self.health.succeeded(channel_id, ctx.ttfb_ms)
        if call.answer_schema is not None and parsed is not None:
            check_answer(upstream, parsed, call.answer_schema)
        renamed = public_model(data, ctx.upstream_model, ctx.model)
        if renamed is not data:  # a mapped name: the parsed answer would still carry it
            data, parsed = renamed, None
        finished = _Finished(reply.status, reply.content_type, data)
        return Opened(finished, upstream, injected, parsed=parsed)

    async def _send(
        self, ctx: CallContext, channel: ChannelSpec, call: UpstreamCall
    ) -> UpstreamReply:
        """The channel's answer; when it refuses or rate-limits one of its several keys,
        the call is sent again at once with the next key (nothing reached the client)."""
        provider = self.providers[channel.type]
        if len(channel.keys) < 2:  # one key: the common case, nothing to rotate
            ctx.attempts += 1
            return await provider.send(channel, call)
        *others, last = self.keys.order(channel)
        for index in others:
            call.key_index = index
            ctx.attempts += 1
            reply = await provider.send(channel, call)
            if reply.status not in KEY_REFUSALS:
                return reply
            self.keys.bench(channel.id, index, reply.status, reply.header(b"retry-after"))
            try:
                await reply.read()  # drained, so its connection can be reused
            finally:
                reply.close()
        call.key_index = last
        ctx.attempts += 1
        return await provider.send(channel, call)

    def broke(self, ctx: CallContext) -> None:
        """The upstream failed after its answer began (a stream cut, stalled or reporting
        an error): nothing can be retried, but the channel's breaker hears of it."""
        if ctx.channel_id is not None:
            self.health.failed(ctx.channel_id, counted=ctx.outcome_pending)
            ctx.outcome_pending = False

    def _note(self, channel_id: int, status: int, ttfb_ms: int | None) -> None:
        """An upstream error status, for the channel's breaker: a refusal the caller can
        act on (400, 404, …) comes from a working upstream; 429, 5xx and the channel's own
        key refused (401/403) count as failures."""
        if status in PASSTHROUGH_STATUSES and not _retryable(status):
            self.health.succeeded(channel_id, ttfb_ms)
        else:
            self.health.failed(channel_id)

    @staticmethod
    def _refusal(
        ctx: CallContext, reply: UpstreamReply, error_body: bytes, upstream: str, client: str
    ) -> Opened:
        """The last channel's error answer: passed on when the caller can act on it (in
        the caller's dialect), else a clean 5xx without upstream details."""
        if reply.status not in PASSTHROUGH_STATUSES:
            raise _status_error(reply, client)
        error_body = redact_json(
            error_body, channel_secrets(ctx.channel, ctx.upstream_model, ctx.model)
        )
        retry = reply.header(b"retry-after")  # the upstream's own back-off hint
        if upstream != client:
            refused = upstream_error(upstream, reply.status, error_body)
            if retry:
                refused.headers["retry-after"] = retry.decode("latin-1")
            raise refused
        ctx.fail(reply.status, error_body.decode(errors="replace"))
        finished = _Finished(reply.status, reply.content_type, error_body)
        kept = ((b"retry-after", retry),) if retry else ()
        return Opened(finished, client, False, kept)

    @staticmethod
    def _serves(client: str, endpoint: str, channel: ChannelSpec) -> bool:
        if channel.tool:  # a search or speech channel speaks no dialect
            return False
        upstream = for_call(channel, client).name
        return counts_locally(endpoint, upstream) or (
            upstream_endpoint(client, endpoint, upstream) is not None
        )

    def _call(
        self,
        ctx: CallContext,
        facts: RequestFacts,
        payload: dict[str, Any],
        body: bytes,
        crossing: tuple[str, str, str],  # (caller's dialect, channel's dialect, endpoint)
        history: list[dict[str, Any]] | None,
        channel: ChannelSpec,
    ) -> tuple[UpstreamCall, bool]:
        """The request for one channel: the caller's bytes when nothing had to change."""
        client, upstream, endpoint = crossing
        target = upstream_endpoint(client, endpoint, upstream)
        assert target is not None
        if upstream != client or history is not None:
            upstream_model = ctx.upstream_model or facts.model
            # what the body may carry: the channel's dialect knows its models' lists
            capabilities = dialect_of(upstream).capabilities(channel, upstream_model, facts.model)
            out = upstream_payload(
                client,
                upstream,
                payload,
                DEFAULT_MAX_TOKENS,
                history,
                endpoint=endpoint,
                capabilities=capabilities,
            )
            if upstream != client:  # a chat body is already within the model's limit
                cap_output(out, upstream, channel.max_output_tokens)
            out["model"] = upstream_model
            call = UpstreamCall(target, out, orjson.dumps(out), facts.stream, ctx.request_id)
            if upstream != client:
                call.answer_schema = strict_schema(client, payload)
            return call, False
        injected = dialect_of(upstream).asks_usage_chunk and _request_usage_chunk(
            ctx, facts, payload
        )
        payload["model"] = ctx.upstream_model
        unchanged = not injected and ctx.upstream_model == facts.model and target == ctx.endpoint
        data = body if unchanged else orjson.dumps(payload)
        return UpstreamCall(target, payload, data, facts.stream, ctx.request_id), injected


@dataclass(slots=True)
class _Refused:
    """A channel's error answer, read whole."""

    reply: UpstreamReply
    body: bytes


class _Finished:
    """An upstream reply already read whole (an answer, or an error to pass through)."""

    __slots__ = ("body", "content_type", "status")

    def __init__(self, status: int, content_type: str, body: bytes) -> None:
        self.status = status
        self.content_type = content_type
        self.body = body

    async def read(self) -> bytes:
        return self.body

    async def chunks(self) -> Any:
        yield self.body

    def close(self) -> None:
        return None

    def header(self, name: bytes) -> bytes | None:
        return None
