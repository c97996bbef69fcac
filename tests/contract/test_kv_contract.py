"""One contract for every KV implementation: the same tests on memory and on real Redis.

Redis (127.0.0.1:6379) is required, never skipped: a limit that only holds in memory is
not a limit. Each Redis run uses its own key prefix and deletes its keys afterwards.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis

from relaygate.kv import KV, RateHit, open_kv

REDIS_URL = "redis://127.0.0.1:6379/0"


async def _purge(prefix: str) -> None:
    client = aioredis.Redis.from_url(REDIS_URL)
    try:
        keys = [key async for key in client.scan_iter(match=f"{prefix}*", count=1000)]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()


@pytest.fixture(params=["memory", "redis"])
async def kv(request: pytest.FixtureRequest) -> AsyncIterator[KV]:
    if request.param == "memory":
        store = open_kv("memory://")
        yield store
        await store.close()
        return
    prefix = f"relaygate-test:{uuid.uuid4().hex}:"
    store = open_kv(REDIS_URL, prefix=prefix)
    try:
        yield store
    finally:
        await store.close()
        await _purge(prefix)


def _key() -> str:
    return uuid.uuid4().hex


# --- rate windows -------------------------------------------------------------------


async def test_rate_counts_then_refuses_at_limit(kv: KV) -> None:
    key = _key()
    results = [await kv.rates.hit(key, 60, limit=3) for _ in range(3)]
    assert [r.allowed for r in results] == [True, True, True]
    assert [r.count for r in results] == [1, 2, 3]
    assert results[0].reset_after_s == 0.0
    assert results[0].remaining == 2
    refused = await kv.rates.hit(key, 60, limit=3)
    assert not refused.allowed
    assert refused.count == 3
    assert refused.remaining == 0
    assert 0 < refused.reset_after_s <= 120
    again = await kv.rates.hit(key, 60, limit=3)
    assert again.count == 3, "a refused hit is not counted"


async def test_rate_without_limit_always_counts(kv: KV) -> None:
    key = _key()
    for _ in range(5):
        result = await kv.rates.hit(key, 60)
    assert result.allowed and result.count == 5 and result.limit is None
    assert result.remaining is None


async def test_rate_cost_counts_units(kv: KV) -> None:
    key = _key()
    assert (await kv.rates.hit(key, 60, cost=60, limit=100)).allowed
    refused = await kv.rates.hit(key, 60, cost=50, limit=100)
    assert not refused.allowed and refused.count == 60
    fits = await kv.rates.hit(key, 60, cost=40, limit=100)
    assert fits.allowed and fits.count == 100
    never = await kv.rates.hit(_key(), 60, cost=101, limit=100)
    assert not never.allowed and never.reset_after_s > 0


async def test_rate_admits_again_after_reset_after(kv: KV) -> None:
    key = _key()
    assert (await kv.rates.hit(key, 1, limit=2)).allowed
    assert (await kv.rates.hit(key, 1, limit=2)).allowed
    refused = await kv.rates.hit(key, 1, limit=2)
    assert not refused.allowed
    assert 0 < refused.reset_after_s <= 2
    await asyncio.sleep(refused.reset_after_s + 0.05)
    assert (await kv.rates.hit(key, 1, limit=2)).allowed


async def test_rate_window_empties_after_two_windows(kv: KV) -> None:
    key = _key()
    await kv.rates.hit(key, 1, limit=5)
    await kv.rates.hit(key, 1, limit=5)
    await asyncio.sleep(2.05)
    fresh = await kv.rates.hit(key, 1, limit=5)
    assert fresh.allowed and fresh.count == 1


async def test_rate_is_atomic_under_concurrency(kv: KV) -> None:
    key = _key()
    results = await asyncio.gather(*(kv.rates.hit(key, 60, limit=50) for _ in range(200)))
    assert sum(r.allowed for r in results) == 50
    assert max(r.count for r in results) == 50


async def test_hit_many_is_all_or_nothing(kv: KV) -> None:
    wide, narrow = _key(), _key()
    hits = [RateHit(wide, 60, 1, 5), RateHit(narrow, 60, 1, 2)]
    outcomes = [await kv.rates.hit_many(hits) for _ in range(3)]
    assert [all(r.allowed for r in o) for o in outcomes] == [True, True, False]
    wide_r, narrow_r = outcomes[2]
    assert not wide_r.allowed and not narrow_r.allowed
    assert wide_r.count == 2, "the refused call counted nothing in the window with room"
    assert wide_r.reset_after_s == 0.0 and narrow_r.reset_after_s > 0


async def test_hit_many_is_atomic_under_concurrency(kv: KV) -> None:
    wide, narrow = _key(), _key()
    hits = [RateHit(wide, 60, 1, 100), RateHit(narrow, 60, 1, 30)]
    outcomes = await asyncio.gather(*(kv.rates.hit_many(hits) for _ in range(200)))
    assert sum(o[0].allowed for o in outcomes) == 30
    assert (await kv.rates.hit(wide, 60, cost=0)).count == 30


@pytest.mark.parametrize(
    "hits",
    [
        [RateHit("a", 0)],
        [RateHit("a", 60, cost=-1)],
        [RateHit("a", 60, limit=-1)],
        [RateHit("a", 60), RateHit("a", 60)],
    ],
)
async def test_rate_rejects_invalid_hits(kv: KV, hits: list[RateHit]) -> None:
    with pytest.raises(ValueError):
        await kv.rates.hit_many(hits)


# --- counters -----------------------------------------------------------------------


async def test_counter_add_get_set_delete(kv: KV) -> None:
    key = _key()
    assert await kv.counters.get(key) == 0
    assert await kv.counters.add(key, 5) == (True, 5)
    assert await kv.counters.add(key, -2) == (True, 3)
    await kv.counters.set(key, 40)
    assert await kv.counters.get(key) == 40
    await kv.counters.delete(key)
    assert await kv.counters.get(key) == 0


async def test_counter_ceiling_and_floor_refuse_whole_amounts(kv: KV) -> None:
    key = _key()
    assert await kv.counters.add(key, 8, ceiling=10) == (True, 8)
    assert await kv.counters.add(key, 3, ceiling=10) == (False, 8)
    assert await kv.counters.add(key, 2, ceiling=10) == (True, 10)
    assert await kv.counters.add(key, -11, floor=0) == (False, 10)
    assert await kv.counters.add(key, -10, floor=0) == (True, 0)


async def test_counter_money_scale_amounts(kv: KV) -> None:
    key = _key()
    big = 9_000_000_000_000  # 9 million currency units in micro-units
    assert await kv.counters.add(key, big, ceiling=big) == (True, big)
    assert await kv.counters.add(key, 1, ceiling=big) == (False, big)
    assert await kv.counters.get(key) == big


async def test_counter_ceiling_holds_under_concurrency(kv: KV) -> None:
    key = _key()
    outcomes = await asyncio.gather(*(kv.counters.add(key, 5, ceiling=333) for _ in range(200)))
    assert sum(applied for applied, _ in outcomes) == 66
    assert max(total for _, total in outcomes) <= 333
    assert await kv.counters.get(key) == 330


async def test_counter_ttl_expires(kv: KV) -> None:
    set_key, add_key, kept = _key(), _key(), _key()
    await kv.counters.set(set_key, 7, ttl_s=0.2)
    await kv.counters.add(add_key, 3, ceiling=10, ttl_s=0.2)
    await kv.counters.set(kept, 1, ttl_s=0.2)
    await kv.counters.add(kept, 1, ceiling=10)  # no ttl_s: the existing expiry is kept
    assert await kv.counters.get(set_key) == 7
    await asyncio.sleep(0.35)
    assert await kv.counters.get(set_key) == 0
    assert await kv.counters.get(add_key) == 0
    assert await kv.counters.get(kept) == 0


async def test_counter_rejects_non_positive_ttl(kv: KV) -> None:
    with pytest.raises(ValueError):
        await kv.counters.set(_key(), 1, ttl_s=0)


# --- cache --------------------------------------------------------------------------


async def test_cache_get_set_delete(kv: KV) -> None:
    key = _key()
    assert await kv.cache.get(key) is None
    await kv.cache.set(key, b"\x00value\xff")
    assert await kv.cache.get(key) == b"\x00value\xff"
    await kv.cache.set(key, b"other")
    assert await kv.cache.get(key) == b"other"
    await kv.cache.delete(key)
    assert await kv.cache.get(key) is None
    await kv.cache.delete(key)  # deleting a missing key is fine


async def test_cache_ttl_expires(kv: KV) -> None:
    short, long = _key(), _key()
    await kv.cache.set(short, b"a", ttl_s=0.2)
    await kv.cache.set(long, b"b", ttl_s=30)
    assert await kv.cache.get(short) == b"a"
    await asyncio.sleep(0.35)
    assert await kv.cache.get(short) is None
    assert await kv.cache.get(long) == b"b"


# --- pub/sub ------------------------------------------------------------------------


async def test_pubsub_delivers_to_every_live_subscriber_in_order(kv: KV) -> None:
    channel = _key()
    async with kv.pubsub.subscribe(channel) as first, kv.pubsub.subscribe(channel) as second:
        await kv.pubsub.publish(_key(), b"elsewhere")
        await kv.pubsub.publish(channel, b"one")
        await kv.pubsub.publish(channel, b"two")
        for subscription in (first, second):
            got = [await asyncio.wait_for(anext(subscription), 2) for _ in range(2)]
            assert got == [b"one", b"two"]


async def test_pubsub_iteration_and_close(kv: KV) -> None:
    channel = _key()
    subscription = kv.pubsub.subscribe(channel)
    async with subscription:
        await kv.pubsub.publish(channel, b"x")
        async for message in subscription:
            assert message == b"x"
            break
    await kv.pubsub.publish(channel, b"after close")  # no subscriber left: no error


async def test_close_with_live_subscription(kv: KV) -> None:
    subscription = kv.pubsub.subscribe(_key())
    await subscription.__aenter__()
    await kv.close()  # must not hang or leak; the fixture's close is then a no-op
