"""Which of a channel's API keys a call uses: rotation, and keys set aside for a while.

A channel with several keys spreads its calls over them in turn, so one key's rate limit
is not the channel's. A key the upstream refuses (401/403: revoked or out of credit) or
rate-limits (429) is benched: the next attempt uses the channel's next key, and the
benched key gets no calls until its bench time is over (the upstream's ``retry-after``
for a 429 when it sent one). A channel whose keys are all benched is still tried with
them, in turn: a bench is a guess, and the channel's breaker decides when to stop.
State is per process, like the breakers.
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Callable

from relaygate.channels.spec import ChannelSpec

__all__ = ["KEY_REFUSALS", "KeyRing"]

# Statuses that say "this key", not "this upstream": the next key may succeed.
KEY_REFUSALS = frozenset({401, 403, 429})
_MAX_RETRY_AFTER = 3600.0


class KeyRing:
    def __init__(self, bench_seconds: float = 60.0, clock: Callable[[], float] = time.monotonic):
        self.bench_seconds = bench_seconds
        self._clock = clock
        self._turns: dict[int, itertools.count[int]] = {}
        self._benched: dict[tuple[int, int], float] = {}  # (channel, key index) -> until

    def order(self, channel: ChannelSpec) -> list[int]:
        """The key indexes to try for one call: the next in turn first, benched keys last."""
        count = len(channel.keys)
        if count < 2:
            return [0]
        turn = self._turns.setdefault(channel.id, itertools.count())
        start = next(turn) % count
        indexes = [(start + step) % count for step in range(count)]
        if not self._benched:
            return indexes
        now = self._clock()
        ready = [i for i in indexes if self._benched.get((channel.id, i), 0.0) <= now]
        return ready + [i for i in indexes if i not in ready]

    def bench(self, channel_id: int, index: int, status: int, retry_after: bytes | None) -> None:
        """Set a key aside after the upstream refused it."""
        seconds = self.bench_seconds
        if status == 429 and retry_after:
            try:
                hint = float(retry_after)
            except ValueError:
                hint = math.nan  # an HTTP date: keep the default
            if math.isfinite(hint):
                seconds = min(max(hint, 1.0), _MAX_RETRY_AFTER)
        self._benched[(channel_id, index)] = self._clock() + seconds

    def benched(self, channel_id: int, key_count: int) -> list[int]:
        """The channel's keys set aside now (for the operator's health view)."""
        now = self._clock()
        return [i for i in range(key_count) if self._benched.get((channel_id, i), 0.0) > now]
