"""What a relay call leaves for the operator when it ends: its metrics and its log line.

The call lifecycle calls :meth:`CallObserver.ended` once per call, on its way out
(relay/call.py), whatever happened: completed, refused, failed upstream, left by the
client. Nothing here runs per chunk. Label values stay bounded: the route is the
endpoint's template (with its route group), the model is a model some enabled channel
serves or ``other`` (a caller may send any string as the model), and the status is the
one the caller got.

The log line (logger ``relaygate.calls``, info level) carries ids and numbers only: the
route, the model, the status, durations, tokens, the charge and the key, user and channel
ids, never a key, a token, a prompt or a header.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from relaygate.core.money import format_money
from relaygate.ops.logs import CALL_FIELDS, CALLS_LOGGER, scrub
from relaygate.ops.metrics import Metrics
from relaygate.relay.context import CallContext
from relaygate.relay.groups import ROUTE_GROUPS

__all__ = ["OTHER_MODEL", "CallObserver"]

OTHER_MODEL = "other"  # the model label of a model no channel serves

log = logging.getLogger(CALLS_LOGGER)


class CallObserver:
    """Records each relay call once, when it ends (module doc)."""

    __slots__ = ("_metrics", "_routes", "_serves")

    def __init__(self, metrics: Metrics | None, serves: Callable[[str], bool]) -> None:
        self._metrics = metrics
        self._serves = serves  # the router's: does an enabled channel serve this model?
        self._routes: dict[tuple[str, str], str] = {}

    def route(self, ctx: CallContext) -> str:
        """The call's route template: ``/v1/chat/completions``, or its group's copy."""
        key = (ctx.route_group, ctx.endpoint)
        route = self._routes.get(key)
        if route is None:
            route = self._routes[key] = f"{ROUTE_GROUPS.get(ctx.route_group, '')}/v1/{ctx.endpoint}"
        return route

    def ended(self, ctx: CallContext, request: bool = True) -> None:
        """The call is over. ``request`` False: a background run, whose request was
        recorded when it answered; only its tokens and money are counted now."""
        seconds = time.perf_counter() - ctx.started
        metrics = self._metrics
        if metrics is not None:
            self._record(metrics, ctx, seconds, request)
        if log.isEnabledFor(logging.INFO):
            self._log(ctx, seconds, request)

    def _record(self, metrics: Metrics, ctx: CallContext, seconds: float, request: bool) -> None:
        model = ctx.model if self._serves(ctx.model) else OTHER_MODEL
        if request:
            series = metrics.call_series(self.route(ctx), "POST", ctx.status, model, ctx.stream)
            series.requests.inc()
            series.duration.observe(seconds)
            if ctx.ttfb_ms is not None:
                series.ttfb.observe(ctx.ttfb_ms / 1000)
        usage, charge = ctx.usage, ctx.charge
        if usage is None and charge is None:
            return
        counters = metrics.model_series(model)
        if usage is not None:
            counters.prompt.inc(usage.prompt_tokens)
            counters.completion.inc(usage.completion_tokens)
            if usage.cached_tokens:
                counters.cached.inc(usage.cached_tokens)
            if usage.reasoning_tokens:
                counters.reasoning.inc(usage.reasoning_tokens)
        if charge is not None:
            if charge.amount:
                counters.balance.inc(charge.amount)
            if charge.packages:
                counters.package.inc(charge.package_total)

    def _log(self, ctx: CallContext, seconds: float, request: bool) -> None:
        usage, charge = ctx.usage, ctx.charge
        fields = {
            "route": self.route(ctx),
            "model": scrub(ctx.model),  # the caller's text: a key pasted as a model is masked
            "status": ctx.status,
            "stream": ctx.stream,
            "duration_ms": round(seconds * 1000, 1),
            "ttfb_ms": ctx.ttfb_ms,
            "prompt_tokens": usage.prompt_tokens if usage else 0,
            "completion_tokens": usage.completion_tokens if usage else 0,
            "charge": format_money(charge.amount) if charge else "0.000000",
            "user_id": ctx.user_id,
            "key_id": ctx.key_id,
            "channel_id": ctx.channel_id,
            "attempts": ctx.attempts,
        }
        if not request:
            fields["background"] = True
        if ctx.error is not None:
            fields["error"] = scrub(ctx.error)  # masked already (CallContext.fail); and ours
        log.info("call", extra={CALL_FIELDS: fields})
