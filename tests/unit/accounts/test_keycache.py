"""KeyCache: one database lookup for concurrent misses; entries expire after the TTL."""

from __future__ import annotations

import asyncio

import pytest

from relaygate.accounts.keycache import KeyCache, Lookup


class CountingLoader:
    def __init__(self) -> None:
        self.calls = 0

    async def __call__(self, digest: str) -> Lookup:
        self.calls += 1
        await asyncio.sleep(0.01)
        return f"refused:{digest}"


async def test_concurrent_misses_share_one_lookup() -> None:
    loader = CountingLoader()
    cache = KeyCache(loader, ttl=60)
    results = await asyncio.gather(*(cache.get("d") for _ in range(50)))
    assert set(results) == {"refused:d"}
    assert loader.calls == 1


async def test_entries_expire_and_invalidate() -> None:
    loader = CountingLoader()
    cache = KeyCache(loader, ttl=0.05)
    await cache.get("d")
    await cache.get("d")
    assert loader.calls == 1
    await asyncio.sleep(0.06)
    await cache.get("d")
    assert loader.calls == 2
    cache.invalidate("d")
    await cache.get("d")
    assert loader.calls == 3


async def test_a_failed_lookup_is_not_cached() -> None:
    attempts = 0

    async def flaky(digest: str) -> Lookup:
        nonlocal attempts
        attempts += 1
        if attempts == 1:
            raise ConnectionError("db away")
        return "ok"

    cache = KeyCache(flaky, ttl=60)
    with pytest.raises(ConnectionError):
        await cache.get("d")
    assert await cache.get("d") == "ok"


async def test_a_stale_known_key_answers_at_once_and_refreshes_behind() -> None:
    from relaygate.accounts.principal import Principal

    versions = iter([False, True])
    calls = 0

    async def load(digest: str) -> Lookup:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.01)
        return Principal(1, 1, next(versions), False, None, None)

    cache = KeyCache(load, ttl=10)
    first = await cache.get("d")
    _age(cache, "d", 6)  # past half the ttl, within it
    stale = await cache.get("d")  # answered from the ageing entry, no wait
    assert stale is first
    await asyncio.sleep(0)
    assert calls == 2  # ...while the refresh runs behind
    await asyncio.sleep(0.02)
    fresh = await cache.get("d")
    assert isinstance(fresh, Principal) and fresh.is_admin is True


def _age(cache: KeyCache, digest: str, seconds: float) -> None:
    """Make the entry ``seconds`` older (no sleeping on the clock)."""
    value, loaded = cache._entries[digest]
    cache._entries[digest] = (value, loaded - seconds)


async def test_an_entry_past_its_ttl_is_read_again_before_it_answers() -> None:
    """An idle key disabled elsewhere is refused on its next call, not one call later."""
    from relaygate.accounts.principal import Principal

    answers: list[Lookup] = [Principal(1, 1, False, False, None, None), "disabled"]

    async def load(digest: str) -> Lookup:
        return answers.pop(0)

    cache = KeyCache(load, ttl=10)
    assert isinstance(await cache.get("d"), Principal)
    _age(cache, "d", 11)
    assert await cache.get("d") == "disabled"


async def test_a_known_key_survives_a_failed_read() -> None:
    from relaygate.accounts.principal import Principal

    known = Principal(1, 1, False, False, None, None)
    answers: list[Lookup | Exception] = [known, ConnectionError("db away")]

    async def load(digest: str) -> Lookup:
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    cache = KeyCache(load, ttl=10)
    await cache.get("d")
    _age(cache, "d", 11)
    assert await cache.get("d") is known
