"""The two-bucket window arithmetic, driven by a fake clock (no sleeping)."""

from __future__ import annotations

import pytest

from relaygate.kv.memory import MemoryKV, MemoryRateCounter
from relaygate.kv.window import Buckets, count_of, roll, wait_for_room


class FakeClock:
    def __init__(self, now: float = 0.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_roll_moves_current_to_previous_then_clears() -> None:
    state = Buckets(index=10, curr=7, prev=3)
    roll(state, 10)
    assert (state.index, state.curr, state.prev) == (10, 7, 3)
    roll(state, 11)
    assert (state.index, state.curr, state.prev) == (11, 0, 7)
    roll(state, 13)
    assert (state.index, state.curr, state.prev) == (13, 0, 0)


@pytest.mark.parametrize(
    ("state", "elapsed", "cost", "limit", "expected"),
    [
        (Buckets(0, curr=1), 0.0, 1, 2, 0.0),  # fits now
        (Buckets(0, curr=1), 0.0, 1, None, 0.0),  # no limit
        (Buckets(0, curr=2), 15.0, 1, 2, 45.0 + 30.0),  # next bucket, then half decays
        (Buckets(0, prev=10), 30.0, 1, 5, 6.0),  # weight must fall from 0.5 to 0.4
        (Buckets(0), 0.0, 11, 10, 60.0),  # can never fit: one window
    ],
)
def test_wait_for_room(
    state: Buckets, elapsed: float, cost: int, limit: int | None, expected: float
) -> None:
    assert wait_for_room(state, elapsed, 60, cost, limit) == pytest.approx(expected)


def test_count_rounds_up_but_ignores_float_noise() -> None:
    assert count_of(2.0000000000004) == 2
    assert count_of(2.2) == 3
    assert count_of(-0.5) == 0


async def test_previous_bucket_decays_linearly() -> None:
    clock = FakeClock(600.0)  # the start of a 60 s bucket
    rates = MemoryRateCounter(clock)
    for _ in range(10):
        assert (await rates.hit("k", 60, limit=10)).allowed
    clock.now = 660.0 + 30.0  # half-way through the next bucket: 10 * 0.5 still counts
    result = await rates.hit("k", 60, limit=10)
    assert result.allowed and result.count == 6
    for _ in range(4):
        assert (await rates.hit("k", 60, limit=10)).allowed
    refused = await rates.hit("k", 60, limit=10)
    assert not refused.allowed
    # 5 (previous, weight 0.5) + 5 (current) = 10: one unit frees when the weight hits 0.4.
    assert refused.reset_after_s == pytest.approx(6.0)
    clock.now += 6.0
    assert (await rates.hit("k", 60, limit=10)).allowed


async def test_memory_drops_expired_windows() -> None:
    clock = FakeClock()
    kv = MemoryKV(clock)
    for i in range(5000):
        await kv.rates.hit(f"k{i}", 1)
    clock.now = 10.0
    for i in range(5000):
        await kv.rates.hit(f"fresh{i}", 1)
    assert len(kv.rates._windows._entries) < 9000  # the sweep dropped the old windows
