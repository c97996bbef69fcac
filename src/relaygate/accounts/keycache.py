"""In-process cache of authenticated keys, so the hot path costs no database round trip.

An entry lives ``ttl`` seconds (default 1 s): a key disabled on another replica is refused
everywhere within that time. Changes made through this process are invalidated at once.
Concurrent misses for one key share a single database lookup.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from relaygate.accounts.principal import Principal

__all__ = ["KeyCache", "Lookup"]

# A principal, or the reason the key is refused.
Lookup = Principal | str

_MAX_ENTRIES = 100_000


class KeyCache:
    def __init__(self, load: Callable[[str], Awaitable[Lookup]], ttl: float) -> None:
        self._load = load
        self._ttl = ttl
        self._entries: dict[str, tuple[Lookup, float]] = {}
        self._pending: dict[str, asyncio.Future[Lookup]] = {}

    async def get(self, digest: str) -> Lookup:
        entry = self._entries.get(digest)
        if entry is not None and time.monotonic() - entry[1] < self._ttl:
            return entry[0]
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
