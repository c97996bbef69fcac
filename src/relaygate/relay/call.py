"""The call lifecycle (DESIGN.md §5): one place where a relay call is admitted, limited,
held for, counted in flight, and settled or recorded.

Every relay path (chat, messages, responses, compaction, media, background runs) used
to write these steps itself, and the in-flight count went up in one module and down in
another. Now each path does::

    async with relay.call(ctx) as call:
        call.identify(principal)           # from here the call leaves a usage row
        request = await call.apply_rules(request, wire)  # the user's override rules
        facts = call.admit(request.payload, wire)  # the key may use the (rewritten) model
        request = await call.attach_files(request, wire)  # stored files named, inline
        await call.limit(tokens, style)    # RPM/TPM (429 with the rate-limit headers)
        await call.reserve(payload, body, wire)  # 402, or the hold
        async with call.slot():            # the key's concurrency slot
            ...                            # the upstream call and the answer
            await call.finish()            # completed: billed, durable, before the last byte

``finish`` bills a completed call once, however often it is called; leaving the block
(normally, by an exception or by cancellation) counts the call out and records whatever
``finish`` did not: a failed call unbilled, its hold released; a call the client left
billed for what was delivered (``CallContext.status``/``usage`` say which). A stream is
answered inside the block, so the lifecycle stays open until its last byte.

A background response outlives the request that created it: :meth:`CallLifecycle.hand_over`
gives its run a lifecycle of its own (counted in flight, holding the slot) that the run
closes when it ends.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
from collections.abc import Awaitable, Callable, Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from fractions import Fraction
from types import MappingProxyType, TracebackType
from typing import Any

import orjson

from relaygate.accounts.principal import Principal
from relaygate.billing.charging import Charging, Reservation
from relaygate.billing.tier_rules import TierSource
from relaygate.billing.writer import Bill
from relaygate.channels.health import ChannelHealth
from relaygate.core.clock import utcnow
from relaygate.core.errors import BlockedByRule, RelaygateError
from relaygate.limits.errors import refusal
from relaygate.limits.policy import tier_rpm
from relaygate.limits.service import RateLimiter
from relaygate.ops.logs import REQUEST_ID
from relaygate.relay.asgi import ClientGone
from relaygate.relay.canonical import Usage
from relaygate.relay.context import CLIENT_CLOSED, CallContext
from relaygate.relay.dialects.file_inputs import mentions_files
from relaygate.relay.dialects.openai_chat.request import RequestFacts
from relaygate.relay.dialects.record import Dialect, RateLimitHeaders
from relaygate.relay.dialects.registry import OPENAI_CHAT
from relaygate.relay.file_inputs import FileInputs
from relaygate.relay.observe import CallObserver
from relaygate.relay.output_cap import CapSlack, OutputBudget
from relaygate.relay.providers.base import HeaderEdits
from relaygate.rules.cache import RuleCache
from relaygate.rules.engine import RuleCall, RuleSet
from relaygate.rules.schema import DEFAULT_ROUTE_GROUP

__all__ = [
    "RULE_ENDPOINTS",
    "CallLifecycle",
    "Calls",
    "ErrorRenderer",
    "Request",
    "estimate_prompt_tokens",
    "guarded",
]

# the relay's endpoints by the names rules use for them (rules.schema.ENDPOINT_KINDS)
RULE_ENDPOINTS: Mapping[str, str] = MappingProxyType(
    {
        "chat/completions": "chat",
        "completions": "completions",
        "embeddings": "embeddings",
        "moderations": "moderations",
        "messages": "messages",
        "messages/count_tokens": "count_tokens",
        "complete": "completions",
        "responses": "responses",
        "responses/compact": "responses",
        "images/generations": "images",
        "images/edits": "images",
        "audio/speech": "audio",
        "audio/transcriptions": "audio",
        "audio/translations": "audio",
    }
)

_WHOLE = Fraction(1)  # a call billed at its whole price
_NOTHING_USED = Usage()  # what a call that reported no usage is priced for (never mutated)
_NO_SLOT = contextlib.nullcontext()  # stateless, so one serves every call


@dataclass(frozen=True, slots=True)
class Request:
    """A call's body: as parsed (``payload``) and as bytes (``body``, what a same-dialect
    upstream is sent when nothing else changes it)."""

    payload: Any
    body: bytes


def estimate_prompt_tokens(body: bytes) -> int:
    """A rough count for calls whose upstream never reported usage (about 4 bytes a token)."""
    return max(1, len(body) // 4)


class Calls:
    """The money and limits side of every relay call, and the count of calls in flight.

    The count decides how a bill is committed: a lone call's at once, concurrent ones'
    in a shared batch (``BillWriter.submit(alone=...)``). Only this class and its
    lifecycles touch the charging, the limiter and the bill writer.
    """

    def __init__(
        self,
        charging: Charging,
        limiter: RateLimiter,
        tiers: TierSource,
        default_output_estimate: int,
        cap_slack: CapSlack,
        health: ChannelHealth,
        rules: RuleCache | None = None,
        files: FileInputs | None = None,
        observer: CallObserver | None = None,
    ) -> None:
        self.charging = charging
        self.observer = observer  # the metrics and the per-call log line (None: neither)
        self.limiter = limiter
        self.tiers = tiers  # the RPM tiers: read at each call, swapped whole on an edit
        self.default_output_estimate = default_output_estimate
        self.cap_slack = cap_slack
        self.health = health
        self.rules = rules  # the users' override rules, compiled (None: no rules at all)
        self.files = files  # stored files as model inputs (None: no file store)
        self.in_flight = 0  # relay calls between their start and their usage record

    def call(self, ctx: CallContext) -> CallLifecycle:
        """The lifecycle of the call ``ctx`` describes (enter it with ``async with``)."""
        return CallLifecycle(self, ctx)

    def _bill(self, ctx: CallContext, chargeable: bool) -> Bill:
        reservation = ctx.reservation
        if reservation is not None and chargeable:
            ctx.charge = self.charging.price(reservation, ctx.usage or _NOTHING_USED)
        money = ctx.charge
        paid, free = (money.paid, money.free) if money else (0, 0)
        used = ctx.status in (200, CLIENT_CLOSED)
        uses = money.packages if money else ()
        return Bill(ctx.record(), ctx.user_id, ctx.key_id, ctx.request_id, paid, free, used, uses)

    def _record(self, ctx: CallContext) -> None:
        """Record a call that did not complete normally; charge only what was delivered.

        A call the upstream failed is never charged (its hold is released); one the
        client left is charged for what the upstream produced until then.
        """
        if ctx.settled:
            return
        ctx.settled = True
        chargeable = ctx.status in (200, CLIENT_CLOSED) and ctx.usage is not None
        bill = self._bill(ctx, chargeable)
        if ctx.reservation is None:
            self.charging.writer.submit(bill, durable=False)
        else:
            self.charging.settle_later(ctx.reservation, bill)


class CallLifecycle:
    """One relay call, from its start to its usage record (see the module docstring).

    One small object per call: the per-chunk path never touches it except through
    :meth:`extend`, when a stream has used up its hold.
    """

    __slots__ = ("_calls", "_open", "_request", "_slot", "ctx", "principal")

    def __init__(self, calls: Calls, ctx: CallContext) -> None:
        self._calls = calls
        self.ctx = ctx
        self.principal: Principal | None = None  # None: unauthenticated, nothing to record
        self._slot: AbstractAsyncContextManager[None] | None = None  # held past a block
        self._open = False
        self._request = True  # False: a background run (its request is recorded already)

    async def __aenter__(self) -> CallLifecycle:
        self.open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    def open(self) -> None:
        """Count the call in flight (once)."""
        if not self._open:
            self._open = True
            self._calls.in_flight += 1
            REQUEST_ID.set(self.ctx.request_id)  # on every log line of the call (ops/logs.py)

    async def close(self) -> None:
        """The call is over: free a slot still held, count it out, and record what
        :meth:`finish` did not (safe in clean-up code; idempotent)."""
        if self._slot is not None:
            await self.free_slot()
        if not self._open:
            return
        self._open = False
        calls = self._calls
        calls.in_flight -= 1
        if self.principal is not None:
            calls._record(self.ctx)
        if calls.observer is not None:
            calls.observer.ended(self.ctx, self._request)

    # ------------------------------------------------------------ admission
    def identify(self, principal: Principal) -> None:
        """The caller is authenticated: from here the call leaves a usage row."""
        self.principal = principal
        self.ctx.user_id, self.ctx.key_id = principal.user_id, principal.key_id

    async def apply_rules(self, request: Request, wire: Dialect) -> Request:
        """The request as the caller's override rules leave it (docs/rules.md), before
        :meth:`admit`; every relay route calls it (the JSON routes and the media routes,
        whose multipart forms it sees as objects of text fields): so the key's model
        permission, the limits, the hold and the price all see the model the upstream will
        be asked for. A rule's block is a 403 in the caller's dialect; the upstream is
        never called and nothing is charged. A user without rules costs one set lookup
        here."""
        cache, principal = self._calls.rules, self._principal()
        if cache is None:
            return request
        ruleset = cache.cached(principal.user_id)
        if ruleset is None:
            ruleset = await cache.load(principal.user_id)
        if not ruleset or not isinstance(request.payload, dict):
            return request
        return self._rewritten(ruleset, request, wire)

    def _rewritten(self, ruleset: RuleSet, request: Request, wire: Dialect) -> Request:
        ctx, payload = self.ctx, request.payload
        model = payload.get("model")
        done = ruleset.apply(
            RuleCall(
                dialect=wire.name,
                endpoint=RULE_ENDPOINTS.get(ctx.endpoint, ctx.endpoint),
                route_group=ctx.route_group or DEFAULT_ROUTE_GROUP,
                key_id=self._principal().key_id,
                model=model if isinstance(model, str) else "",
                body=payload,
            )
        )
        ctx.rules = done.fired
        if done.blocked is not None:
            raise BlockedByRule(done.blocked)
        if done.set_headers or done.remove_headers:
            ctx.header_edits = HeaderEdits(tuple(done.set_headers.items()), done.remove_headers)
        if done.body is payload:
            return request
        return Request(done.body, orjson.dumps(done.body))

    async def attach_files(self, request: Request, wire: Dialect) -> Request:
        """The request with the caller's stored files it names filled in inline
        (relay/file_inputs.py), after :meth:`admit`: a refused key or model reads no file.
        A body that mentions no file costs two substring searches here; one that does,
        one database read for all its files. Another user's id, or a missing one, is a
        400 in the caller's dialect naming it."""
        inputs, payload = self._calls.files, request.payload
        if inputs is None or not isinstance(payload, dict) or not mentions_files(request.body):
            return request
        wanted = wire.file_inputs(self.ctx.endpoint, payload)
        if not wanted:
            return request
        await inputs.attach(self._principal().user_id, wanted)
        return Request(payload, orjson.dumps(payload))

    def admit(self, payload: Any, wire: Dialect) -> RequestFacts:
        """What the call asks for, and whether the caller's key may use the model."""
        principal = self._principal()
        facts = wire.inspect(self.ctx.endpoint, payload)
        self.ctx.model = facts.model
        self.ctx.stream = facts.stream
        if not principal.may_use(facts.model):
            raise wire.not_permitted(
                f"This API key is not permitted to use the model '{facts.model}'.",
                code="model_not_permitted",
            )
        return facts

    async def limit(
        self, estimated_tokens: int = 0, style: RateLimitHeaders = OPENAI_CHAT.rate_limit_headers
    ) -> None:
        """Requests per minute by the user's tier, tokens per minute by the key (429 with
        the rate-limit headers). The operator's own calls are not limited; every other
        answer carries the headers."""
        principal, ctx, calls = self._principal(), self.ctx, self._calls
        if principal.is_operator:
            return
        topped_up = await calls.charging.topped_up(principal.user_id)
        rpm = tier_rpm(topped_up, calls.tiers.current.rpm)
        decision = await calls.limiter.check_request(
            principal.user_id,
            principal.key_id,
            rpm,
            principal.rpm,
            key_tpm=principal.tpm,
            estimated_tokens=estimated_tokens,
        )
        ctx.tokens_counted, ctx.key_tpm = decision.tokens_charged, principal.tpm
        headers = style(decision, utcnow())  # the caller's dialect's rate-limit headers
        if not decision.allowed:
            raise refusal(decision, headers)
        ctx.headers.extend((k.encode(), v.encode()) for k, v in headers.items())

    async def reserve(self, payload: dict[str, Any], body: bytes, wire: Dialect) -> None:
        """Admit the call against the caller's balance (402) and hold its worst-case cost:
        the prompt, every output token it can be billed for, and the stream cap's slack
        (relay/output_cap.py); a stream may deliver that much before it is stopped."""
        calls, ctx = self._calls, self.ctx
        tier = payload.get("service_tier")
        limit = wire.max_output(ctx.endpoint, payload, 0)
        output = limit or wire.max_output(ctx.endpoint, payload, calls.default_output_estimate)
        held = output + calls.cap_slack.of(output)
        estimate = Usage(prompt_tokens=estimate_prompt_tokens(body), completion_tokens=held)
        reservation = await self.hold(estimate, tier if isinstance(tier, str) else None)
        if held and not reservation.house:
            ctx.budget = OutputBudget(held, 0 if limit else held)

    async def hold(
        self, estimate: Usage, service_tier: str | None = None, share: Fraction = _WHOLE
    ) -> Reservation:
        """Hold ``estimate``'s worst-case cost (402 when the balance cannot cover it); the
        media and tool routes, which count units rather than tokens, hold their estimate
        as is. ``share``: the part of the official price the call is billed at (a search
        answered from the cache: docs/tools.md), for the hold and the bill alike."""
        ctx = self.ctx
        reservation = ctx.reservation = await self._calls.charging.reserve(
            self._principal(), ctx.model, ctx.route_group, service_tier, estimate, share
        )
        return reservation

    @property
    def default_output_estimate(self) -> int:
        """The output a call that sets no limit is held for (settings)."""
        return self._calls.default_output_estimate

    # ------------------------------------------------------------ the concurrency slot
    def slot(self) -> AbstractAsyncContextManager[None]:
        """The key's concurrency slot for the body of an ``async with`` (429 when none is
        free). Scoped, so it is free again before an error answer goes out."""
        principal = self._principal()
        slots = principal.concurrency
        return self._calls.limiter.concurrency(principal.key_id, slots) if slots else _NO_SLOT

    async def take_slot(self) -> None:
        """Take the slot until :meth:`free_slot` (or :meth:`close`): for a call whose work
        outlives the block that admitted it (a background run)."""
        slot = self.slot()
        await slot.__aenter__()
        self._slot = slot

    async def free_slot(self) -> None:
        slot, self._slot = self._slot, None
        if slot is not None:
            with contextlib.suppress(Exception):  # clean-up: a slot in the kv expires by itself
                await slot.__aexit__(None, None, None)

    # ------------------------------------------------------------ the answer
    async def extend(self) -> bool:
        """A stream reached its budget: grow its hold if the caller set no output limit and
        the balance covers it (True: relay on), else False: the stream must stop."""
        budget, reservation = self.ctx.budget, self.ctx.reservation
        if budget is None or reservation is None or not budget.step:
            return False
        if not await self._calls.charging.extend(reservation, budget.step):
            return False
        budget.tokens += budget.step
        return True

    async def finish(self) -> None:
        """The call completed: bill it and wait until the bill is committed (durable before
        the answer's last byte goes out). Only the first call bills; a stream that began
        also tells its channel's breaker that it ended well."""
        calls, ctx = self._calls, self.ctx
        if ctx.outcome_pending and ctx.channel_id is not None:
            ctx.outcome_pending = False
            calls.health.succeeded(ctx.channel_id, None, counted=True)
        if ctx.settled or ctx.reservation is None:
            return
        ctx.settled = True
        await calls.charging.settle(
            ctx.reservation,
            calls._bill(ctx, chargeable=True),
            durable=True,
            alone=calls.in_flight <= 1,
        )
        if ctx.key_tpm and ctx.key_id is not None and ctx.usage is not None:
            used = ctx.usage.prompt_tokens + ctx.usage.completion_tokens
            await calls.limiter.record_tokens(ctx.key_id, used, ctx.tokens_counted)

    def hand_over(self) -> CallLifecycle:
        """A lifecycle for the rest of this call, already counted in flight, that takes
        this one's slot and its record (a background run: the create request answers and
        ends; the run bills and records the call when it ends, by :meth:`close`)."""
        ctx = self.ctx
        owned = CallLifecycle(self._calls, dataclasses.replace(ctx))
        owned.principal = self.principal
        owned._request = False
        owned._slot, self._slot = self._slot, None
        ctx.settled = True  # the create request's own record: the run's
        owned.open()
        return owned

    def _principal(self) -> Principal:
        principal = self.principal
        assert principal is not None, "identify() comes first"
        return principal


# How a relay path answers an error in its own format: (the error, close the connection).
ErrorRenderer = Callable[[RelaygateError, bool], Awaitable[None]]
log = logging.getLogger(__name__)
_BUG = "The server had an error processing your request."


async def guarded(ctx: CallContext, work: Awaitable[None], render: ErrorRenderer) -> None:
    """Run a call's work with the one top-level catch every relay path shares (chat,
    media, tools): a typed error is the call's outcome, rendered by the path; a client
    gone is recorded as such; anything else is a bug, logged, answered as a 500 on a
    closed connection, and must not take the worker down. Inside ``relay.call(ctx)``,
    whose exit records whatever the call ended as."""
    try:
        await work
    except RelaygateError as err:
        ctx.fail(err.status, err.message)
        await render(err, False)
    except ClientGone:
        ctx.fail(CLIENT_CLOSED, "client disconnected before the request was complete")
    except Exception:  # the top-level handler: a bug must not take the worker down
        log.exception("%s call %s failed", ctx.endpoint, ctx.request_id)
        ctx.fail(500, "internal error")
        await render(RelaygateError(_BUG), True)
