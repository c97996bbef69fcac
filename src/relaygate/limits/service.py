"""Request-rate and concurrency limiting for the relay, on top of the KV Protocols.

Injected once by the composition root (``RateLimiter(kv.rates, kv.counters)``); with a
Redis KV every replica shares the same windows and slots, so a limit is one limit.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from relaygate.kv.protocols import Counter, RateCounter
from relaygate.limits.errors import ConcurrencyLimited
from relaygate.limits.policy import (
    WINDOW_S,
    Decision,
    KeyLimits,
    concurrency_key,
    decide,
    plan_request,
    tokens_key,
)

__all__ = ["RateLimiter"]


class RateLimiter:
    """Admits or refuses requests; never raises for a refusal of rate (returns it).

    ``check_request`` returns a :class:`Decision` because the relay sends the rate-limit
    headers on successes too; turn a refusal into the 429 with
    ``limits.errors.refusal(decision, dialect.rate_limit_headers(decision, now))``.

    Concurrency slots live in a KV counter with a TTL (``slot_ttl_s``, refreshed on each
    acquire), so slots held by a replica that crashed free themselves once the key has
    been idle that long.
    """

    def __init__(self, rates: RateCounter, counters: Counter, *, slot_ttl_s: float = 900.0) -> None:
        self._rates = rates
        self._counters = counters
        self._slot_ttl_s = slot_ttl_s

    async def check_request(
        self,
        user_id: int,
        key_id: int,
        user_rpm: int,
        key_rpm: int | None,
        *,
        key_tpm: int | None = None,
        estimated_tokens: int = 0,
    ) -> Decision:
        """Hit the user's and the key's 60 s windows together (all or none are counted)."""
        checks = plan_request(
            user_id, key_id, user_rpm, KeyLimits(rpm=key_rpm, tpm=key_tpm), estimated_tokens
        )
        results = await self._rates.hit_many([check.hit for check in checks])
        return decide(checks, results)

    async def record_tokens(self, key_id: int, used_tokens: int, charged_tokens: int) -> None:
        """After the call: count the tokens used beyond what admission charged.

        Over-estimates are not refunded (a window cannot un-count); the estimate should be
        the input size, not ``max_tokens``. Call only when the key has a TPM.
        """
        extra = used_tokens - charged_tokens
        if extra > 0:
            await self._rates.hit(tokens_key(key_id), WINDOW_S, extra)

    @asynccontextmanager
    async def concurrency(self, key_id: int, max_concurrent: int | None) -> AsyncIterator[None]:
        """Hold one of the key's ``max_concurrent`` slots for the body of the ``async with``.

        Raises :class:`ConcurrencyLimited` (a 429) when all are taken; ``None`` or 0 means
        no limit. The slot is released even when the holder is cancelled.
        """
        if max_concurrent is None or max_concurrent <= 0:
            yield
            return
        key = concurrency_key(key_id)
        applied, _ = await self._counters.add(
            key, 1, ceiling=max_concurrent, ttl_s=self._slot_ttl_s
        )
        if not applied:
            raise ConcurrencyLimited(
                f"Too many concurrent requests for this API key: limit {max_concurrent}.",
                headers={"retry-after": "1"},
            )
        try:
            yield
        finally:
            await asyncio.shield(self._counters.add(key, -1, floor=0))
