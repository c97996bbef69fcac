"""Each user's compiled rules, for the relay path (docs/rules.md "How rules apply").

The relay asks for a user's :class:`~relaygate.rules.engine.RuleSet` on every call, so
the answer must almost always come from memory:

* **Users without rules pay nothing.** The cache keeps the set of users that have
  enabled rules (one query at start, kept up to date on changes); for anyone else
  :meth:`RuleCache.cached` is one set lookup and the relay skips the engine entirely.
* **A change applies at once on this replica**: the rule service calls :meth:`changed`
  after its commit, which drops the user's compiled rules here and bumps two counters in
  the kv: ``rules:ver`` (any change) and ``rules:ver:<user_id>``.
* **And within a second on the others**: every replica polls ``rules:ver`` once a second
  in a small task of its own (never on a call). When it moved, the replica reloads the
  set of users with rules and marks its compiled entries stale; a stale entry costs its
  user one kv read of ``rules:ver:<user_id>`` on the next call, and a reload only when
  that user's version moved too.

A load that raced a change (an invalidation or a poll happened while it read the
database) is used for its own call but not kept, so a stale rule set is never cached.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass

from relaygate.core.tasks import cancel_and_wait
from relaygate.kv.protocols import Counter
from relaygate.rules.engine import RuleSet, compile_rules
from relaygate.rules.schema import RuleDoc

__all__ = ["GLOBAL_VERSION", "LoadRules", "LoadUsers", "RuleCache", "user_version"]

log = logging.getLogger(__name__)

LoadRules = Callable[[int], Awaitable[Sequence[tuple[int, RuleDoc]]]]  # a user's enabled rules
LoadUsers = Callable[[], Awaitable[Collection[int]]]  # the users that have enabled rules
GLOBAL_VERSION = "rules:ver"


def user_version(user_id: int) -> str:
    return f"{GLOBAL_VERSION}:{user_id}"


@dataclass(frozen=True, slots=True)
class _Entry:
    rules: RuleSet
    version: int  # the user's kv version read before the rules were loaded


class RuleCache:
    """The relay's view of every user's rules (module docstring)."""

    def __init__(
        self,
        load: LoadRules,
        counters: Counter,
        load_users: LoadUsers | None = None,
        poll_s: float = 1.0,
    ) -> None:
        self._load_rules = load
        self._load_users = load_users
        self._counters = counters
        self.poll_s = poll_s
        # users that may have enabled rules; None: not known (every user is looked up)
        self._users: set[int] | None = None
        self._entries: dict[int, _Entry] = {}
        self._stale: set[int] = set()
        self._epoch = 0  # moves on every invalidation and every seen change elsewhere
        self._seen = 0  # the last ``rules:ver`` this replica acted on
        self._task: asyncio.Task[None] | None = None

    # ------------------------------------------------------------------ the relay path
    def cached(self, user_id: int) -> RuleSet | None:
        """The user's rules when memory knows them (``RuleSet.EMPTY`` for a user without
        rules); None: call :meth:`load`."""
        users = self._users
        if users is not None and user_id not in users:
            return RuleSet.EMPTY
        entry = self._entries.get(user_id)
        if entry is None or user_id in self._stale:
            return None
        return entry.rules

    async def load(self, user_id: int) -> RuleSet:
        """The user's rules, from the database when memory has none or they may be stale."""
        entry = self._entries.get(user_id)
        epoch = self._epoch
        version = await self._counters.get(user_version(user_id))
        if entry is not None and entry.version == version and epoch == self._epoch:
            self._stale.discard(user_id)  # checked: nothing changed for this user
            return entry.rules
        rules = compile_rules(await self._load_rules(user_id))
        if epoch == self._epoch:  # nothing changed while the database was read
            self._entries[user_id] = _Entry(rules, version)
            self._stale.discard(user_id)
            if not rules and self._users is not None:
                self._users.discard(user_id)
        return rules

    # ------------------------------------------------------------------ changes
    def invalidate(self, user_id: int) -> None:
        """Forget the user's compiled rules on this replica (the next call reloads them)."""
        self._epoch += 1
        self._entries.pop(user_id, None)
        self._stale.discard(user_id)
        if self._users is not None:
            self._users.add(user_id)  # may have rules now: the next load decides

    async def changed(self, user_id: int) -> None:
        """The user's rules changed (the rule service calls this after its commit): at
        once here, and on the other replicas at their next poll."""
        self.invalidate(user_id)
        await self._counters.add(user_version(user_id), 1)
        await self._counters.add(GLOBAL_VERSION, 1)

    async def sync(self) -> None:
        """Act on changes made elsewhere (module docstring); the poll calls this."""
        version = await self._counters.get(GLOBAL_VERSION)
        if version == self._seen:
            return
        self._epoch += 1
        users = set(await self._load_users()) if self._load_users is not None else None
        self._seen = version
        self._users = users
        self._stale = set(self._entries)

    # ------------------------------------------------------------------ the poll
    async def start(self) -> None:
        """Learn who has rules, then poll for changes (composition root)."""
        with contextlib.suppress(Exception):  # the kv or the database is away: poll later
            self._seen = await self._counters.get(GLOBAL_VERSION)
            if self._load_users is not None:
                self._users = set(await self._load_users())
        if self._task is None:
            self._task = asyncio.create_task(self._poll(), name="rule-cache-poll")

    async def close(self) -> None:
        await cancel_and_wait(self._task)
        self._task = None

    async def _poll(self) -> None:
        while True:
            await asyncio.sleep(self.poll_s)
            try:
                await self.sync()
            except Exception:  # a poll loop must outlive a kv or database hiccup
                log.exception("checking for changed override rules failed")
