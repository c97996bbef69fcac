"""A table that every replica keeps in memory, and the kv counter that says it changed.

The relay reads some control-plane tables (channels, prices) from an in-memory snapshot,
so a call costs no database query for them. With several replicas a change made on one
must reach the others' snapshots: the replica that made it writes a new version to the
kv after its commit and reloads its own snapshot at once; every replica reads the
version once per ``interval`` (one kv read, about a second) and reloads only when it
changed. The version is read *before* the table, so a change committed after that read
writes a version other than the recorded one and is picked up at the next check.

A version is a random 62-bit number, not a count: a kv that lost it (a Redis restarted
without its data) and then saw a new change cannot come back to the very value a
replica recorded before (a counter restarting from 0 could, and that replica would miss
the change). A kv without the key reads 0, which differs from any recorded version, so
the replicas reload. A failed write (the kv away at that moment) is covered by a full
reload every ``resync_ticks`` checks, version or not. ``billing/tier_config.py`` and
``rules/cache.py`` use counters in the same way.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Awaitable, Callable

from relaygate.kv.protocols import Counter

__all__ = ["RESYNC_TICKS", "ChangeSignal"]

log = logging.getLogger(__name__)

RESYNC_TICKS = 30  # checks between full reloads, counter or not


class ChangeSignal:
    """Keeps one in-memory snapshot in step across replicas (module docstring).

    ``reload`` reads the table and installs the snapshot; it runs one at a time, so a
    periodic reload that read the table before a change committed cannot install its
    older snapshot after the change's own reload.
    """

    def __init__(
        self,
        counters: Counter,
        key: str,
        reload: Callable[[], Awaitable[object]],
        *,
        resync_ticks: int = RESYNC_TICKS,
    ) -> None:
        self._counters = counters
        self.key = key
        self._reload = reload
        self._resync_ticks = resync_ticks
        self._seen: int | None = None  # the counter as of the last reload
        self._lock = asyncio.Lock()

    async def reload(self) -> None:
        """Read the counter, then the table (the order matters: module docstring)."""
        async with self._lock:
            try:
                version: int | None = await self._counters.get(self.key)
            except Exception:  # noqa: BLE001 - the kv is away: reload, check again later
                log.warning("reading the %s version failed", self.key, exc_info=True)
                version = None
            await self._reload()
            self._seen = version

    async def changed(self) -> None:
        """The table changed here (after the commit): tell every replica, reload here."""
        try:
            await self._counters.set(self.key, secrets.randbits(62) or 1)
        except Exception:  # noqa: BLE001 - committed already; the resync brings it elsewhere
            log.warning("telling the replicas that %s changed failed", self.key, exc_info=True)
        await self.reload()

    async def check(self, resync: bool = False) -> bool:
        """Reload when the counter moved (or ``resync``); True when it reloaded."""
        if not resync and await self._counters.get(self.key) == self._seen:
            return False
        await self.reload()
        return True

    async def watch(self, interval: float) -> None:
        """Check every ``interval`` seconds until cancelled (a background task)."""
        ticks = 0
        while True:
            await asyncio.sleep(interval)
            ticks += 1
            try:
                await self.check(resync=ticks % self._resync_ticks == 0)
            except Exception:  # noqa: BLE001 - a background loop: keep the last snapshot
                log.warning("refreshing %s failed; keeping the last", self.key, exc_info=True)
