"""The relay's rule cache: users without rules never reach the loader, a change applies at
once on its replica and at the next poll on another (two caches over one kv), and a load
that raced a change is not kept."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from relaygate.kv.memory import MemoryCounter
from relaygate.rules.cache import RuleCache
from relaygate.rules.engine import RuleSet
from relaygate.rules.schema import RuleDoc


def doc(name: str, enabled: bool = True) -> RuleDoc:
    return RuleDoc.model_validate(
        {"name": name, "enabled": enabled, "actions": [{"type": "block", "message": name}]}
    )


class Store:
    """The database side: each user's rules, and how often they were read."""

    def __init__(self) -> None:
        self.rules: dict[int, list[tuple[int, RuleDoc]]] = {}
        self.reads: list[int] = []
        self.user_reads = 0
        self.gate: asyncio.Event | None = None  # set: loads wait for it

    async def load(self, user_id: int) -> Sequence[tuple[int, RuleDoc]]:
        self.reads.append(user_id)
        found = [(i, d) for i, d in self.rules.get(user_id, []) if d.enabled]
        if self.gate is not None:  # the rows were read; the answer is still on its way
            await self.gate.wait()
        return found

    async def users(self) -> set[int]:
        self.user_reads += 1
        return {u for u, rules in self.rules.items() if any(d.enabled for _, d in rules)}


async def rules_of(cache: RuleCache, user_id: int) -> RuleSet:
    found = cache.cached(user_id)
    return found if found is not None else await cache.load(user_id)


def names(ruleset: RuleSet) -> list[str]:
    return [rule.name for rule in ruleset.rules]


async def test_users_without_rules_never_reach_the_loader() -> None:
    store = Store()
    store.rules[1] = [(10, doc("a"))]
    cache = RuleCache(store.load, MemoryCounter(), store.users, poll_s=3600)
    await cache.start()
    try:
        assert cache.cached(2) is RuleSet.EMPTY  # known to have none: no await at all
        assert cache.cached(1) is None  # has rules, not loaded yet
        assert names(await rules_of(cache, 1)) == ["a"]
        assert names(await rules_of(cache, 1)) == ["a"]
        assert store.reads == [1]
    finally:
        await cache.close()


async def test_without_a_users_loader_every_user_is_looked_up_once() -> None:
    store = Store()
    cache = RuleCache(store.load, MemoryCounter())
    assert cache.cached(5) is None
    assert await cache.load(5) is RuleSet.EMPTY
    assert cache.cached(5) is RuleSet.EMPTY
    assert store.reads == [5]


async def test_a_change_applies_at_once_on_this_replica() -> None:
    store = Store()
    cache = RuleCache(store.load, MemoryCounter(), store.users, poll_s=3600)
    await cache.start()
    try:
        assert cache.cached(1) is RuleSet.EMPTY
        store.rules[1] = [(10, doc("first"))]  # the user's first rule
        await cache.changed(1)
        assert names(await rules_of(cache, 1)) == ["first"]
        store.rules[1] = [(10, doc("first", enabled=False))]  # switched off again
        await cache.changed(1)
        assert not await rules_of(cache, 1)
        assert cache.cached(1) is RuleSet.EMPTY  # back on the fast path
    finally:
        await cache.close()


async def test_another_replica_sees_a_change_at_its_next_poll() -> None:
    store, counters = Store(), MemoryCounter()
    store.rules[1] = [(10, doc("old"))]
    here = RuleCache(store.load, counters, store.users, poll_s=3600)
    there = RuleCache(store.load, counters, store.users, poll_s=3600)
    await here.start()
    await there.start()
    try:
        assert names(await rules_of(there, 1)) == ["old"]
        assert there.cached(3) is RuleSet.EMPTY
        store.rules[1] = [(10, doc("new"))]
        store.rules[3] = [(11, doc("third"))]
        await here.changed(1)
        await here.changed(3)
        assert names(await rules_of(there, 1)) == ["old"]  # not polled yet
        await there.sync()  # what its poll task does every second
        assert names(await rules_of(there, 1)) == ["new"]
        assert names(await rules_of(there, 3)) == ["third"]
    finally:
        await here.close()
        await there.close()


async def test_a_stale_entry_whose_user_did_not_change_is_not_reloaded() -> None:
    store, counters = Store(), MemoryCounter()
    store.rules[1] = [(10, doc("one"))]
    store.rules[2] = [(20, doc("two"))]
    here = RuleCache(store.load, counters, store.users, poll_s=3600)
    there = RuleCache(store.load, counters, store.users, poll_s=3600)
    await there.start()
    await rules_of(there, 1)
    await rules_of(there, 2)
    await here.changed(2)
    await there.sync()
    store.reads.clear()
    assert names(await rules_of(there, 1)) == ["one"]
    assert names(await rules_of(there, 2)) == ["two"]
    assert store.reads == [2]  # user 1: one kv read, no database read
    await there.close()


async def test_a_load_that_raced_a_change_is_not_kept() -> None:
    store = Store()
    store.rules[1] = [(10, doc("old"))]
    cache = RuleCache(store.load, MemoryCounter())
    store.gate = asyncio.Event()
    loading = asyncio.create_task(cache.load(1))
    await asyncio.sleep(0)
    store.rules[1] = [(10, doc("new"))]
    await cache.changed(1)  # while the old rules were being read
    store.gate.set()
    assert names(await loading) == ["old"]  # that call had asked before the change
    assert cache.cached(1) is None
    assert names(await cache.load(1)) == ["new"]


async def test_the_poll_runs_by_itself() -> None:
    store, counters = Store(), MemoryCounter()
    here = RuleCache(store.load, counters, store.users, poll_s=3600)
    there = RuleCache(store.load, counters, store.users, poll_s=0.01)
    await there.start()
    try:
        assert there.cached(1) is RuleSet.EMPTY
        store.rules[1] = [(10, doc("a"))]
        await here.changed(1)
        for _ in range(500):
            if there.cached(1) is not RuleSet.EMPTY:
                break
            await asyncio.sleep(0.01)
        assert names(await rules_of(there, 1)) == ["a"]
    finally:
        await there.close()
