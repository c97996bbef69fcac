"""ChangeSignal: a change made on one replica reloads the others' snapshots."""

from __future__ import annotations

from relaygate.kv.memory import MemoryCounter
from relaygate.kv.signal import ChangeSignal


class Table:
    """A replica's snapshot of a shared table: counts its reloads."""

    def __init__(self, rows: list[str]) -> None:
        self.rows = rows
        self.snapshot: list[str] = []
        self.reloads = 0

    async def reload(self) -> None:
        self.reloads += 1
        self.snapshot = list(self.rows)


async def test_a_change_here_reaches_a_replica_at_its_next_check() -> None:
    counters, rows = MemoryCounter(), ["a"]
    here, there = Table(rows), Table(rows)
    mine, theirs = (
        ChangeSignal(counters, "t:v", here.reload),
        ChangeSignal(counters, "t:v", there.reload),
    )
    await mine.reload()
    await theirs.reload()
    assert not await theirs.check()  # nothing moved: no database read
    rows.append("b")
    await mine.changed()
    assert here.snapshot == ["a", "b"]  # at once where the change was made
    assert there.snapshot == ["a"]
    assert await theirs.check()
    assert there.snapshot == ["a", "b"] and there.reloads == 2


async def test_a_lost_counter_reloads_and_a_resync_reloads_anyway() -> None:
    counters = MemoryCounter()
    table = Table(["a"])
    signal = ChangeSignal(counters, "t:v", table.reload)
    await counters.add("t:v", 5)
    await signal.reload()
    await counters.set("t:v", 0)  # a Redis restarted without its data
    assert await signal.check()
    assert await signal.check(resync=True)
    assert table.reloads == 3


async def test_a_change_after_a_lost_version_is_never_missed() -> None:
    """A counter would restart at 0 and could reach the recorded value again (one
    change before the loss, one after): a random version cannot."""
    counters, rows = MemoryCounter(), ["a"]
    here, there = Table(rows), Table(rows)
    mine, theirs = (
        ChangeSignal(counters, "t:v", here.reload),
        ChangeSignal(counters, "t:v", there.reload),
    )
    await mine.changed()
    await theirs.reload()
    await counters.delete("t:v")  # Redis restarted; no check ran meanwhile
    rows.append("b")
    await mine.changed()
    assert await theirs.check()
    assert there.snapshot == ["a", "b"]


class BrokenCounter(MemoryCounter):
    async def set(self, key: str, value: int, ttl_s: float | None = None) -> None:
        raise ConnectionError("kv away")


async def test_a_failed_bump_still_reloads_here() -> None:
    table = Table(["a"])
    signal = ChangeSignal(BrokenCounter(), "t:v", table.reload)
    await signal.changed()
    assert table.snapshot == ["a"]
