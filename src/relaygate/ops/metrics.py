"""The gateway's Prometheus metrics (docs/observability.md lists them with their labels).

Two kinds, chosen by what each costs on the hot path:

- **Recorded** once per call, when it ends (the call lifecycle's exit, relay/observe.py):
  the request counter, the duration and time-to-first-byte histograms, tokens and money.
  The labelled children are cached here by their label values, so a call costs a dict
  lookup and a few increments, never prometheus-client's label validation.
- **Read at scrape time** (:class:`Readings`): breaker states, upstream calls and errors
  per channel, holds outstanding, calls in flight, the bill queue. The services already
  keep these numbers; a scrape reads them, and the hot path pays nothing.

Each :class:`Metrics` has its own registry (not prometheus-client's global one), so
several gateways in one process (the tests) never collide. Relaygate serves from one
process per replica (``relaygate serve`` runs no worker processes: its in-process kv,
breakers and bill writer are per process by design), so a per-process registry is exact;
several replicas are scraped one by one and summed in the queries (the ``instance`` label).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.metrics_core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

__all__ = [
    "CONTENT_TYPE",
    "BREAKER_STATES",
    "CallSeries",
    "ChannelReading",
    "Metrics",
    "ModelSeries",
    "Readings",
]

CONTENT_TYPE = CONTENT_TYPE_LATEST
# a breaker's state as the gauge's value (Grafana maps them back to words)
BREAKER_STATES = {"closed": 0, "half_open": 1, "open": 2}

_DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)
_TTFB_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60)
_BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)
_COMMIT_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5)


@dataclass(frozen=True, slots=True)
class CallSeries:
    """The children one kind of call records into (a route, method, status, model and
    stream flag): looked up once, reused by every later call of that kind."""

    requests: Any  # Counter child
    duration: Any  # Histogram child
    ttfb: Any  # Histogram child


@dataclass(frozen=True, slots=True)
class ModelSeries:
    """A model's token and money counters."""

    prompt: Any
    completion: Any
    cached: Any
    reasoning: Any
    balance: Any  # money charged to balances, micro-units
    package: Any  # money taken from resource packages at official price, micro-units


@dataclass(frozen=True, slots=True)
class ChannelReading:
    """One channel as a scrape sees it (its breaker in this process)."""

    id: int
    name: str
    type: str
    state: str  # closed | half_open | open
    calls: int  # upstream calls since the process started
    errors: int  # of which failed (connection, timeout, 429, 5xx, key refused)


@dataclass(frozen=True, slots=True)
class Readings:
    """What the services know at the moment of a scrape."""

    in_flight: int = 0
    holds: int = 0  # calls of this process holding money
    held: int = 0  # their holds, micro-units
    bills_pending: int = 0  # bills queued for the writer
    channels: Sequence[ChannelReading] = field(default_factory=tuple)


_NOTHING = Readings()


class _ReadingsCollector(Collector):
    def __init__(self, read: Callable[[], Readings]) -> None:
        self._read = read

    def collect(self) -> Iterator[Metric]:
        now = self._read()
        yield GaugeMetricFamily(
            "relaygate_calls_in_flight", "Relay calls between their start and their record.",
            value=now.in_flight,
        )  # fmt: skip
        yield GaugeMetricFamily(
            "relaygate_holds_outstanding", "Calls of this process holding money on a balance.",
            value=now.holds,
        )  # fmt: skip
        yield GaugeMetricFamily(
            "relaygate_held_micros", "Money those holds reserve, in micro-units of the currency.",
            value=now.held,
        )  # fmt: skip
        yield GaugeMetricFamily(
            "relaygate_bills_pending", "Bills queued for the bill writer's next commit.",
            value=now.bills_pending,
        )  # fmt: skip
        yield from _channel_families(now.channels)


def _channel_families(channels: Sequence[ChannelReading]) -> Iterator[Metric]:
    info = GaugeMetricFamily(
        "relaygate_channel_info", "A channel's name and type (value 1), to join on channel.",
        labels=["channel", "name", "type"],
    )  # fmt: skip
    state = GaugeMetricFamily(
        "relaygate_channel_breaker_state",
        "A channel's circuit breaker in this process: 0 closed, 1 half-open, 2 open.",
        labels=["channel"],
    )
    calls = CounterMetricFamily(
        "relaygate_upstream_calls", "Upstream calls per channel (failover attempts included).",
        labels=["channel"],
    )  # fmt: skip
    errors = CounterMetricFamily(
        "relaygate_upstream_errors",
        "Failed upstream calls per channel: connection errors, timeouts, 429, 5xx, key refused.",
        labels=["channel"],
    )
    for channel in channels:
        cid = str(channel.id)
        info.add_metric([cid, channel.name, channel.type], 1)
        state.add_metric([cid], BREAKER_STATES.get(channel.state, 0))
        calls.add_metric([cid], channel.calls)
        errors.add_metric([cid], channel.errors)
    yield from (info, state, calls, errors)


class Metrics:
    """One gateway's metrics and its registry (module doc)."""

    def __init__(self) -> None:
        # no ``*_created`` twin of every counter and histogram: half the series, and the
        # scrape's own timestamps serve (a process-wide switch of prometheus-client)
        disable_created_metrics()  # type: ignore[no-untyped-call]
        registry = self.registry = CollectorRegistry()
        self.requests = Counter(
            "relaygate_requests", "Requests by route template, method, status and model.",
            ["route", "method", "status", "model"], registry=registry,
        )  # fmt: skip
        self.duration = Histogram(
            "relaygate_request_duration_seconds",
            "From a request's arrival to its last byte (a stream's whole length).",
            ["route", "model", "stream"], buckets=_DURATION_BUCKETS, registry=registry,
        )  # fmt: skip
        self.ttfb = Histogram(
            "relaygate_ttfb_seconds",
            "From a relay call's arrival to the upstream's first byte (a stream's first event).",
            ["route", "model", "stream"], buckets=_TTFB_BUCKETS, registry=registry,
        )  # fmt: skip
        self.tokens = Counter(
            "relaygate_tokens", "Tokens by model and kind (prompt, completion, cached, reasoning).",
            ["model", "kind"], registry=registry,
        )  # fmt: skip
        self.charged = Counter(
            "relaygate_charged_micros",
            "Money charged by model, in micro-units: source=balance (price x multipliers) or "
            "package (resource packages, at official price).",
            ["model", "source"], registry=registry,
        )  # fmt: skip
        self.batch_size = Histogram(
            "relaygate_bill_batch_size", "Bills committed in one transaction.",
            buckets=_BATCH_BUCKETS, registry=registry,
        )  # fmt: skip
        self.commit_seconds = Histogram(
            "relaygate_bill_commit_seconds", "Time one batch of bills took to commit.",
            buckets=_COMMIT_BUCKETS, registry=registry,
        )  # fmt: skip
        ProcessCollector(registry=registry)
        PlatformCollector(registry=registry)
        self._calls: dict[tuple[str, str, int, str, bool], CallSeries] = {}
        self._models: dict[str, ModelSeries] = {}
        self._read: Callable[[], Readings] = lambda: _NOTHING
        registry.register(_ReadingsCollector(lambda: self._read()))

    def read_from(self, read: Callable[[], Readings]) -> None:
        """What a scrape reads from the services (wired by the composition root)."""
        self._read = read

    def call_series(
        self, route: str, method: str, status: int, model: str, stream: bool
    ) -> CallSeries:
        """The children of one kind of call (cached: the label values are bounded)."""
        key = (route, method, status, model, stream)
        series = self._calls.get(key)
        if series is None:
            flag = "true" if stream else "false"
            series = self._calls[key] = CallSeries(
                self.requests.labels(route, method, str(status), model),
                self.duration.labels(route, model, flag),
                self.ttfb.labels(route, model, flag),
            )
        return series

    def model_series(self, model: str) -> ModelSeries:
        series = self._models.get(model)
        if series is None:
            tokens, money = self.tokens, self.charged
            series = self._models[model] = ModelSeries(
                tokens.labels(model, "prompt"),
                tokens.labels(model, "completion"),
                tokens.labels(model, "cached"),
                tokens.labels(model, "reasoning"),
                money.labels(model, "balance"),
                money.labels(model, "package"),
            )
        return series

    def committed(self, bills: int, seconds: float) -> None:
        """The bill writer committed a batch (billing/writer.py's hook)."""
        self.batch_size.observe(bills)
        self.commit_seconds.observe(seconds)

    def exposition(self) -> bytes:
        """The registry in Prometheus' text format."""
        return generate_latest(self.registry)
