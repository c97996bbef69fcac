"""The key-value contract behind limits, holds, caches and cross-replica signals.

Every capability that needs shared, short-lived state talks to these Protocols only, so
the embedded mode (one process, ``memory://``) and the scale-out mode (N replicas,
``redis://``) run the same code. Both implementations pass one contract-test suite
(``tests/contract/test_kv_contract.py``); anything not stated here is not promised.

Keys are plain strings chosen by the caller; an implementation may namespace them (Redis
adds a prefix) but never interprets them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Protocol, Self

__all__ = [
    "KV",
    "Cache",
    "Counter",
    "PubSub",
    "RateCounter",
    "RateHit",
    "Subscription",
    "WindowCount",
    "validate_hits",
]


@dataclass(frozen=True, slots=True)
class WindowCount:
    """The standing of one rate window after a hit.

    ``allowed`` says whether the hit was counted. ``count`` is the window's (approximated)
    count after the hit, rounded up. ``reset_after_s`` is how long until a hit of the same
    cost would fit again: ``0.0`` while there is room, and what a ``retry-after`` should
    say when refused.
    """

    allowed: bool
    count: int
    limit: int | None
    reset_after_s: float

    @property
    def remaining(self) -> int | None:
        """Room left in the window, or ``None`` when the window has no limit."""
        return None if self.limit is None else max(0, self.limit - self.count)


@dataclass(frozen=True, slots=True)
class RateHit:
    """One window to hit in :meth:`RateCounter.hit_many`."""

    key: str
    window_s: int
    cost: int = 1
    limit: int | None = None


def validate_hits(hits: Sequence[RateHit]) -> None:
    """Reject what no implementation can count: shared by both, so both refuse alike."""
    if len({hit.key for hit in hits}) != len(hits):
        raise ValueError("each key may appear once per hit_many call")
    for hit in hits:
        if hit.window_s <= 0 or hit.cost < 0 or (hit.limit is not None and hit.limit < 0):
            raise ValueError(f"invalid rate hit {hit!r}")


class RateCounter(Protocol):
    """Sliding-window rate counting with an atomic check-and-add.

    The window is the two-bucket approximation (the previous fixed bucket weighted by how
    much of it still overlaps the sliding window, plus the current bucket): O(1) time and
    memory per key whatever the limit, and it handles costs (tokens) as well as requests.
    It can admit slightly more or fewer than ``limit`` in a span of exactly ``window_s``
    when traffic is very uneven; it never lets concurrent callers overshoot one another,
    because the check and the add are one atomic step (in Redis, one Lua script, so
    replicas cannot both pass on the last unit).
    """

    async def hit(
        self, key: str, window_s: int, cost: int = 1, limit: int | None = None
    ) -> WindowCount:
        """Count ``cost`` in ``key``'s window unless that would take it past ``limit``."""
        ...

    async def hit_many(self, hits: Sequence[RateHit]) -> tuple[WindowCount, ...]:
        """Count every hit, or none: one refusal leaves all windows untouched.

        A request that must pass a user limit *and* a key limit must not use up the user's
        budget when the key refuses it. Each result's ``allowed`` is the joint outcome;
        ``reset_after_s`` is per window (``0.0`` for the windows that had room).
        """
        ...


class Counter(Protocol):
    """Atomic integer amounts: money holds, concurrency slots, usage tallies.

    ``add`` with ``ceiling``/``floor`` is a check-and-add: a hold that would take the held
    total past the balance is refused as a whole, never applied in part, and two replicas
    racing for the last unit cannot both win.
    """

    async def add(
        self,
        key: str,
        amount: int,
        *,
        ceiling: int | None = None,
        floor: int | None = None,
        ttl_s: float | None = None,
    ) -> tuple[bool, int]:
        """Add ``amount`` unless the new total would leave ``[floor, ceiling]``.

        Returns ``(applied, total)``: the new total when applied, else the unchanged one.
        A missing key counts as 0. ``ttl_s`` (re)sets the key's expiry when applied, so a
        crashed holder's amount cannot stay forever; without it an existing expiry is kept.
        """
        ...

    async def get(self, key: str) -> int:
        """The current total, 0 when missing or expired."""
        ...

    async def set(self, key: str, value: int, ttl_s: float | None = None) -> None:
        """Overwrite the total (and its expiry: none unless ``ttl_s``)."""
        ...

    async def delete(self, key: str) -> None: ...


class Cache(Protocol):
    """Best-effort bytes cache: an entry may vanish before its TTL (memory pressure)."""

    async def get(self, key: str) -> bytes | None: ...

    async def set(self, key: str, value: bytes, ttl_s: float | None = None) -> None: ...

    async def delete(self, key: str) -> None: ...


class Subscription(Protocol):
    """Messages on one channel, as an async iterator and an async context manager.

    Entering the context waits until the subscription is live, so a message published
    after ``__aenter__`` returns is delivered; leaving it unsubscribes. Iterating without
    entering subscribes lazily on the first ``__anext__`` (messages before that are lost).
    """

    def __aiter__(self) -> Self: ...

    async def __anext__(self) -> bytes: ...

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    async def aclose(self) -> None: ...


class PubSub(Protocol):
    """Fire-and-forget broadcast to every live subscriber, on every replica.

    Used to invalidate in-process caches (a revoked key) across replicas. Delivery is
    at-most-once: a subscriber that is not live when a message is published misses it, so
    users of this channel must also bound staleness with a TTL.
    """

    async def publish(self, channel: str, message: bytes) -> None: ...

    def subscribe(self, channel: str) -> Subscription:
        """A subscription to ``channel``; use it as ``async with ... as messages``."""
        ...


class KV(Protocol):
    """The bundle built once by ``open_kv`` in the composition root and closed at shutdown."""

    @property
    def counters(self) -> Counter: ...

    @property
    def rates(self) -> RateCounter: ...

    @property
    def cache(self) -> Cache: ...

    @property
    def pubsub(self) -> PubSub: ...

    async def close(self) -> None: ...
