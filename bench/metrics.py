"""What observing a relay call costs: ``python -m bench.metrics``.

A call is observed once, when its lifecycle ends (relay/observe.py): the request counter,
the duration and time-to-first-byte histograms, four token counters and the money
counter, then the per-call log line when the ``relaygate.calls`` logger is on. Measured
here without a server, on a finished call's context (a priced call with usage), in µs
per call: metrics alone (the log at warning level), metrics and the JSON log line (to a
handler that discards the text after formatting it), and nothing (``metrics_enabled``
false, the log off). Results go to docs/benchmarks.md.
"""

from __future__ import annotations

import io
import logging
import timeit
from decimal import Decimal

from relaygate.billing.charging import Charge
from relaygate.ops.logs import JSONFormatter, TextFormatter, configure
from relaygate.ops.metrics import Metrics
from relaygate.relay.canonical import Usage
from relaygate.relay.context import CallContext
from relaygate.relay.observe import CallObserver

MODEL = "gpt-4o-mini"


def _context() -> CallContext:
    ctx = CallContext("req_0123456789abcdef", "chat/completions", "127.0.0.1")
    ctx.model = ctx.upstream_model = MODEL
    ctx.user_id, ctx.key_id, ctx.channel_id, ctx.attempts = 7, 12, 3, 1
    ctx.status, ctx.ttfb_ms = 200, 120
    ctx.usage = Usage(prompt_tokens=1200, completion_tokens=300, cached_tokens=200)
    ctx.charge = Charge(900, 450, 450, 0, Decimal("0.5"))
    return ctx


def _per_call(observer: CallObserver, ctx: CallContext, calls: int) -> float:
    best = min(
        timeit.repeat(lambda: observer.ended(ctx), number=calls, repeat=7)
    )  # best of 7: the least disturbed run on a shared machine
    return best / calls * 1e6


def _logging(level: int, formatter: logging.Formatter | None) -> None:
    calls = logging.getLogger("relaygate.calls")
    calls.handlers.clear()
    calls.propagate = False
    calls.setLevel(level)
    if formatter is not None:
        handler = logging.StreamHandler(io.StringIO())
        handler.setFormatter(formatter)
        handler.stream = _Discard()
        calls.addHandler(handler)


class _Discard(io.StringIO):
    def write(self, text: str) -> int:
        return len(text)


def main() -> None:
    calls = 50_000
    configure("warning", "json")  # as ``relaygate serve`` sets logging up (its flags)
    ctx = _context()
    metrics = Metrics()
    observed = CallObserver(metrics, {MODEL}.__contains__)
    bare = CallObserver(None, {MODEL}.__contains__)
    _logging(logging.WARNING, None)
    print(f"nothing (metrics off, log off):  {_per_call(bare, ctx, calls):6.2f} µs per call")
    print(f"metrics, log off:                {_per_call(observed, ctx, calls):6.2f} µs per call")
    _logging(logging.INFO, JSONFormatter())
    print(f"metrics + JSON call line:        {_per_call(observed, ctx, calls):6.2f} µs per call")
    _logging(logging.INFO, TextFormatter())
    print(f"metrics + text call line:        {_per_call(observed, ctx, calls):6.2f} µs per call")
    _logging(logging.WARNING, None)
    scrape = min(timeit.repeat(metrics.exposition, number=100, repeat=5)) / 100 * 1e3
    print(f"one scrape (this registry):      {scrape:6.2f} ms")


if __name__ == "__main__":
    main()
