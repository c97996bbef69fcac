"""Circuit breakers: stop sending calls to a channel that keeps failing.

After ``threshold`` consecutive failures (connection errors, timeouts, 429 and 5xx before
the first byte) a channel's breaker opens and the router passes it over, so callers stop
paying its timeouts. After ``cooldown`` seconds it half-opens: one call goes through as a
trial; success closes the breaker, failure opens it for another cool-down (a trial that
never reports back, say because its caller hung up, lapses after a cool-down too). The
state is per process: each replica learns an upstream's health from its own calls.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = ["BreakerReading", "ChannelHealth"]


@dataclass(frozen=True, slots=True)
class BreakerReading:
    state: str  # closed | half_open | open
    calls: int
    errors: int


@dataclass(slots=True)
class _Breaker:
    failures: int = 0  # consecutive
    opened_at: float | None = None
    trial_at: float | None = None  # when the half-open trial call went out
    calls: int = 0
    errors: int = 0
    latency_ms: float | None = None  # moving average of the time to the first byte


class ChannelHealth:
    def __init__(
        self,
        threshold: int = 5,
        cooldown: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.threshold = threshold
        self.cooldown = cooldown
        self._clock = clock
        self._breakers: dict[int, _Breaker] = {}

    def admits(self, channel_id: int) -> bool:
        """May a call go to this channel now? (Claims the half-open trial when it may.)"""
        breaker = self._breakers.get(channel_id)
        if breaker is None or breaker.opened_at is None:
            return True
        now = self._clock()
        if now - breaker.opened_at < self.cooldown:
            return False
        if breaker.trial_at is not None and now - breaker.trial_at < self.cooldown:
            return False  # one trial at a time
        breaker.trial_at = now
        return True

    def started(self, channel_id: int, latency_ms: int | None) -> None:
        """A stream's first byte arrived: a call, and its latency. Whether it succeeds is
        known at its end (``succeeded(counted=True)`` or ``failed(counted=True)``), so a
        channel that cuts every stream midway still opens its breaker."""
        breaker = self._breakers.setdefault(channel_id, _Breaker())
        breaker.calls += 1
        self._latency(breaker, latency_ms)

    def succeeded(self, channel_id: int, latency_ms: int | None, counted: bool = False) -> None:
        """A call that succeeded (``counted``: a stream counted when it started)."""
        breaker = self._breakers.setdefault(channel_id, _Breaker())
        breaker.failures, breaker.opened_at, breaker.trial_at = 0, None, None
        breaker.calls += 0 if counted else 1
        self._latency(breaker, latency_ms)

    @staticmethod
    def _latency(breaker: _Breaker, latency_ms: int | None) -> None:
        if latency_ms is not None:
            last = breaker.latency_ms
            breaker.latency_ms = latency_ms if last is None else 0.8 * last + 0.2 * latency_ms

    def failed(self, channel_id: int, counted: bool = False) -> None:
        """A failed call (``counted``: one already counted as a success when its answer
        began, which then broke off)."""
        breaker = self._breakers.setdefault(channel_id, _Breaker())
        breaker.calls += 0 if counted else 1
        breaker.errors += 1
        breaker.failures += 1
        if breaker.trial_at is not None or breaker.failures >= self.threshold:
            breaker.opened_at, breaker.trial_at = self._clock(), None

    def reading(self, channel_id: int) -> BreakerReading:
        """The breaker's state and counts (the metrics read them at each scrape)."""
        breaker = self._breakers.get(channel_id)
        if breaker is None:
            return BreakerReading("closed", 0, 0)
        return BreakerReading(self._state_name(breaker), breaker.calls, breaker.errors)

    def _state_name(self, breaker: _Breaker) -> str:
        if breaker.opened_at is None:
            return "closed"
        if self._clock() - breaker.opened_at >= self.cooldown:
            return "half_open"
        return "open"

    def state(self, channel_id: int) -> dict[str, Any]:
        """What the operator sees: the breaker's state, error rate and latency."""
        breaker = self._breakers.get(channel_id, _Breaker())
        return {
            "state": self._state_name(breaker),
            "consecutive_failures": breaker.failures,
            "calls": breaker.calls,
            "errors": breaker.errors,
            "error_rate": round(breaker.errors / breaker.calls, 4) if breaker.calls else 0.0,
            "latency_ms": round(breaker.latency_ms, 1) if breaker.latency_ms is not None else None,
        }
