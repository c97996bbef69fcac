"""In-process KV for the embedded mode: one process, one event loop.

Every operation runs without an ``await`` between its read and its write, so on one event
loop it is atomic without locks. State lives in per-instance dicts; expired entries are
dropped lazily on access and by an amortised sweep whenever a dict has doubled since the
last sweep, so memory stays proportional to the live keys and each call is O(1) amortised.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import Generic, Self, TypeVar

from relaygate.kv.protocols import RateHit, WindowCount, validate_hits
from relaygate.kv.window import Buckets, count_of, estimate, fits, roll, wait_for_room

__all__ = [
    "MemoryCache",
    "MemoryCounter",
    "MemoryKV",
    "MemoryPubSub",
    "MemoryRateCounter",
]

Clock = Callable[[], float]
V = TypeVar("V")

_SWEEP_FLOOR = 1024
_CACHE_MAX_ENTRIES = 100_000


def _expiry(now: float, ttl_s: float | None) -> float:
    if ttl_s is None:
        return math.inf
    if ttl_s <= 0:
        raise ValueError("ttl_s must be positive")
    return now + ttl_s


class _ExpiringDict(Generic[V]):
    """A dict whose entries carry an expiry time; ``max_entries`` evicts the oldest."""

    def __init__(self, clock: Clock, max_entries: int | None = None) -> None:
        self._clock = clock
        self._max = max_entries
        self._entries: dict[str, tuple[V, float]] = {}
        self._sweep_at = _SWEEP_FLOOR

    def get(self, key: str) -> V | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry[1] <= self._clock():
            del self._entries[key]
            return None
        return entry[0]

    def expires_at(self, key: str) -> float:
        entry = self._entries.get(key)
        return math.inf if entry is None else entry[1]

    def put(self, key: str, value: V, expires_at: float) -> None:
        self._entries.pop(key, None)  # re-insert at the end: eviction order is by last write
        self._entries[key] = (value, expires_at)
        if len(self._entries) >= self._sweep_at:
            self._sweep()
        if self._max is not None and len(self._entries) > self._max:
            del self._entries[next(iter(self._entries))]

    def pop(self, key: str) -> None:
        self._entries.pop(key, None)

    def _sweep(self) -> None:
        now = self._clock()
        self._entries = {k: e for k, e in self._entries.items() if e[1] > now}
        self._sweep_at = max(_SWEEP_FLOOR, 2 * len(self._entries))


class MemoryRateCounter:
    def __init__(self, clock: Clock = time.monotonic) -> None:
        self._clock = clock
        self._windows: _ExpiringDict[Buckets] = _ExpiringDict(clock)

    async def hit(
        self, key: str, window_s: int, cost: int = 1, limit: int | None = None
    ) -> WindowCount:
        (result,) = await self.hit_many([RateHit(key, window_s, cost, limit)])
        return result

    async def hit_many(self, hits: Sequence[RateHit]) -> tuple[WindowCount, ...]:
        validate_hits(hits)
        now = self._clock()
        states: list[tuple[Buckets, float]] = []
        for hit in hits:
            index = math.floor(now / hit.window_s)
            state = self._windows.get(hit.key) or Buckets(index)
            roll(state, index)
            states.append((state, now - index * hit.window_s))
        allowed = all(
            fits(s, elapsed, h.window_s, h.cost, h.limit)
            for h, (s, elapsed) in zip(hits, states, strict=True)
        )
        results = []
        for hit, (state, elapsed) in zip(hits, states, strict=True):
            if allowed:
                state.curr += hit.cost
                self._windows.put(hit.key, state, (state.index + 2) * hit.window_s)
            count = count_of(estimate(state, elapsed, hit.window_s))
            wait = wait_for_room(state, elapsed, hit.window_s, hit.cost, hit.limit)
            results.append(WindowCount(allowed, count, hit.limit, wait))
        return tuple(results)


class MemoryCounter:
    def __init__(self, clock: Clock = time.monotonic) -> None:
        self._clock = clock
        self._values: _ExpiringDict[int] = _ExpiringDict(clock)

    async def add(
        self,
        key: str,
        amount: int,
        *,
        ceiling: int | None = None,
        floor: int | None = None,
        ttl_s: float | None = None,
    ) -> tuple[bool, int]:
        current = self._values.get(key) or 0
        total = current + amount
        if (ceiling is not None and total > ceiling) or (floor is not None and total < floor):
            return False, current
        now = self._clock()
        expires = _expiry(now, ttl_s) if ttl_s is not None else self._values.expires_at(key)
        self._values.put(key, total, expires)
        return True, total

    async def get(self, key: str) -> int:
        return self._values.get(key) or 0

    async def set(self, key: str, value: int, ttl_s: float | None = None) -> None:
        self._values.put(key, value, _expiry(self._clock(), ttl_s))

    async def delete(self, key: str) -> None:
        self._values.pop(key)


class MemoryCache:
    def __init__(
        self, clock: Clock = time.monotonic, max_entries: int = _CACHE_MAX_ENTRIES
    ) -> None:
        self._clock = clock
        self._values: _ExpiringDict[bytes] = _ExpiringDict(clock, max_entries)

    async def get(self, key: str) -> bytes | None:
        return self._values.get(key)

    async def set(self, key: str, value: bytes, ttl_s: float | None = None) -> None:
        self._values.put(key, value, _expiry(self._clock(), ttl_s))

    async def delete(self, key: str) -> None:
        self._values.pop(key)


class _MemorySubscription:
    def __init__(self, hub: MemoryPubSub, channel: str) -> None:
        self._hub = hub
        self._channel = channel
        self._queue: asyncio.Queue[bytes] = asyncio.Queue()
        self._live = False

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> bytes:
        if not self._live:
            self._start()
        return await self._queue.get()

    async def __aenter__(self) -> Self:
        self._start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        self._hub.detach(self._channel, self._queue)
        self._live = False

    def _start(self) -> None:
        self._hub.attach(self._channel, self._queue)
        self._live = True


class MemoryPubSub:
    """Delivers to the subscribers of this instance only: right for one process."""

    def __init__(self) -> None:
        self._subscribers: dict[str, set[asyncio.Queue[bytes]]] = {}

    async def publish(self, channel: str, message: bytes) -> None:
        for queue in self._subscribers.get(channel, ()):
            queue.put_nowait(message)

    def subscribe(self, channel: str) -> _MemorySubscription:
        return _MemorySubscription(self, channel)

    def attach(self, channel: str, queue: asyncio.Queue[bytes]) -> None:
        self._subscribers.setdefault(channel, set()).add(queue)

    def detach(self, channel: str, queue: asyncio.Queue[bytes]) -> None:
        queues = self._subscribers.get(channel)
        if queues is not None:
            queues.discard(queue)
            if not queues:
                del self._subscribers[channel]


class MemoryKV:
    """The embedded-mode bundle; ``clock`` is injectable so window tests need no sleeping."""

    def __init__(self, clock: Clock = time.monotonic) -> None:
        self.counters = MemoryCounter(clock)
        self.rates = MemoryRateCounter(clock)
        self.cache = MemoryCache(clock)
        self.pubsub = MemoryPubSub()

    async def close(self) -> None:
        return None
