"""In-process cache of authenticated keys, so the hot path costs no database round trip.

An entry is fresh for half of ``ttl`` (default 1 s); in the second half it is still used
while a fresh copy is read behind the call, so a key in steady use never waits for the
database; an entry older than ``ttl`` is read again before it answers. So a key disabled
or deleted on another replica is refused everywhere within ``ttl`` (plus one database
read), whether it was busy or idle. Should that read fail (the database away), a known
key keeps its last entry rather than fail the call. Changes made through this process
are invalidated at once.
Concurrent misses for one key share a single database lookup.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

from relaygate.accounts.principal import Principal

__all__ = ["KeyCache", "Lookup"]

# A principal, or the reason the key is refused.
Lookup = Principal | str

_MAX_ENTRIES = 100_000
log = logging.getLogger(__name__)


class KeyCache:
    def __init__(self, load: Callable[[str], Awaitable[Lookup]], ttl: float) -> None:
        self._load = load
        self._ttl = ttl
        self._entries: dict[str, tuple[Lookup, float]] = {}
        self._pending: dict[str, asyncio.Future[Lookup]] = {}
        self._refreshing: set[asyncio.Future[None]] = set()

    async def get(self, digest: str) -> Lookup:
        entry = self._entries.get(digest)
        if entry is None:
            return await self._shared_load(digest)
        age = time.monotonic() - entry[1]
        if age < self._ttl / 2:
            return entry[0]
        known = entry[0] if isinstance(entry[0], Principal) else None
        if known is not None and age < self._ttl:
            # Ageing but known: answer now and refresh behind, so a busy key never waits
            # for the database (a key disabled elsewhere is refused once the refresh lands).
            if digest not in self._pending:
                task = asyncio.ensure_future(self._refresh(digest))
                self._refreshing.add(task)
                task.add_done_callback(self._refreshing.discard)
            return known
        try:
            return await self._shared_load(digest)
        except Exception:
            if known is None:
                raise
            # the database is away: a key known a moment ago still serves (module doc)
            log.warning("reading a cached key failed; using the last entry", exc_info=True)
            return known

    async def _refresh(self, digest: str) -> None:
        try:
            await self._shared_load(digest)
        except Exception:  # noqa: BLE001 - the stale entry stays; the next call retries
            log.warning("refreshing a cached key failed", exc_info=True)

    async def _shared_load(self, digest: str) -> Lookup:
        """Load ``digest``, sharing a load already under way."""
        pending = self._pending.get(digest)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[Lookup] = asyncio.get_running_loop().create_future()
        self._pending[digest] = future
        try:
            value = await self._load(digest)
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # mark retrieved: waiters re-raise it themselves
            raise
        else:
            future.set_result(value)
            if len(self._entries) >= _MAX_ENTRIES:
                self._entries.clear()
            self._entries[digest] = (value, time.monotonic())
            return value
        finally:
            del self._pending[digest]

    def invalidate(self, digest: str | None = None) -> None:
        if digest is None:
            self._entries.clear()
        else:
            self._entries.pop(digest, None)
