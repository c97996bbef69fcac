"""Redis KV for the scale-out mode: one limit, one hold total, one signal across replicas.

The check-and-add operations run as Lua scripts, so no two replicas can both take the last
unit. Rate windows use the Redis server's clock (``TIME``), never the replicas' clocks, so
replicas with skewed clocks still share one window. All keys and channels carry
``prefix``, so several deployments (or test runs) can share one Redis database.

Multi-key calls (``hit_many``) need all keys on one node: fine for a single Redis or a
primary with replicas; a Redis Cluster would need hash tags in the caller's keys.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from types import TracebackType
from typing import Self

import redis.asyncio as aioredis
from redis.asyncio.client import PubSub as _RedisPubSub
from redis.exceptions import ConnectionError as _RedisConnectionError
from redis.exceptions import TimeoutError as _RedisTimeout

from relaygate.core.errors import ServiceUnavailable
from relaygate.kv.protocols import RateHit, WindowCount, validate_hits

__all__ = ["RedisCache", "RedisCounter", "RedisKV", "RedisPubSub", "RedisRateCounter"]

# Mirrors relaygate.kv.window (keep the two in step). KEYS: one hash per window, fields
# i (bucket number), c (current count), p (previous count). ARGV: window_s, cost, limit
# (-1: none) per key. Returns allowed (1/0), then count and wait in ms per key.
_RATE_SCRIPT = """
local t = redis.call('TIME')
local sec, usec = tonumber(t[1]), tonumber(t[2])
local eps = 1e-9
local st = {}
local allowed = true
for i = 1, #KEYS do
  local w, cost, limit = tonumber(ARGV[3*i-2]), tonumber(ARGV[3*i-1]), tonumber(ARGV[3*i])
  local index = math.floor(sec / w)
  local elapsed = (sec - index * w) + usec / 1000000
  local h = redis.call('HMGET', KEYS[i], 'i', 'c', 'p')
  local bi, curr, prev = tonumber(h[1]) or index, tonumber(h[2]) or 0, tonumber(h[3]) or 0
  if index == bi + 1 then prev = curr; curr = 0
  elseif index > bi + 1 then prev = 0; curr = 0
  elseif index < bi then index = bi end
  if limit >= 0 and prev * (1 - elapsed / w) + curr + cost > limit + eps then
    allowed = false
  end
  st[i] = {w, cost, limit, index, elapsed, curr, prev}
end
local out = {allowed and 1 or 0}
for i = 1, #KEYS do
  local w, cost, limit, index, elapsed, curr, prev = unpack(st[i])
  if allowed then
    curr = curr + cost
    redis.call('HSET', KEYS[i], 'i', string.format('%d', index),
      'c', string.format('%d', curr), 'p', string.format('%d', prev))
    redis.call('PEXPIREAT', KEYS[i], string.format('%d', (index + 2) * w * 1000))
  end
  local est = prev * (1 - elapsed / w) + curr
  local wait = 0
  if limit >= 0 and est + cost > limit + eps then
    if cost > limit then wait = w
    elseif curr + cost <= limit then wait = w * (1 - (limit - cost - curr) / prev) - elapsed
    else wait = (w - elapsed) + w * (1 - (limit - cost) / curr) end
    if wait < 0 then wait = 0 end
  end
  out[#out + 1] = math.max(0, math.ceil(est - eps))
  out[#out + 1] = math.ceil(wait * 1000)
end
return out
"""

# KEYS[1]: the counter. ARGV: amount, ceiling, floor ('' = none), ttl in ms ('' = keep).
# Returns applied (1/0) and the total.
_ADD_SCRIPT = """
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
local total = current + tonumber(ARGV[1])
local over = ARGV[2] ~= '' and total > tonumber(ARGV[2])
local under = ARGV[3] ~= '' and total < tonumber(ARGV[3])
if over or under then return {0, current} end
redis.call('SET', KEYS[1], string.format('%d', total), 'KEEPTTL')
if ARGV[4] ~= '' then redis.call('PEXPIRE', KEYS[1], ARGV[4]) end
return {1, total}
"""


UNREACHABLE = "The gateway's shared store is unreachable; try again in a moment."


@contextmanager
def _reachable() -> Iterator[None]:
    """Redis away: a typed 503 the routes render in their own format, never a 500."""
    try:
        yield
    except (_RedisConnectionError, _RedisTimeout, OSError) as err:
        raise ServiceUnavailable(UNREACHABLE) from err


def _ttl_ms(ttl_s: float | None) -> int | None:
    if ttl_s is None:
        return None
    if ttl_s <= 0:
        raise ValueError("ttl_s must be positive")
    return max(1, math.ceil(ttl_s * 1000))


class RedisRateCounter:
    def __init__(self, client: aioredis.Redis, prefix: str) -> None:
        self._prefix = prefix + "rate:"
        self._script = client.register_script(_RATE_SCRIPT)

    async def hit(
        self, key: str, window_s: int, cost: int = 1, limit: int | None = None
    ) -> WindowCount:
        (result,) = await self.hit_many([RateHit(key, window_s, cost, limit)])
        return result

    async def hit_many(self, hits: Sequence[RateHit]) -> tuple[WindowCount, ...]:
        validate_hits(hits)
        args: list[int] = []
        for hit in hits:
            args += [hit.window_s, hit.cost, -1 if hit.limit is None else hit.limit]
        with _reachable():
            raw = await self._script(keys=[self._prefix + hit.key for hit in hits], args=args)
        allowed = bool(raw[0])
        return tuple(
            WindowCount(allowed, int(raw[1 + 2 * i]), hit.limit, int(raw[2 + 2 * i]) / 1000)
            for i, hit in enumerate(hits)
        )


class RedisCounter:
    def __init__(self, client: aioredis.Redis, prefix: str) -> None:
        self._client = client
        self._prefix = prefix + "ctr:"
        self._script = client.register_script(_ADD_SCRIPT)

    async def add(
        self,
        key: str,
        amount: int,
        *,
        ceiling: int | None = None,
        floor: int | None = None,
        ttl_s: float | None = None,
    ) -> tuple[bool, int]:
        ttl_ms = _ttl_ms(ttl_s)
        if ceiling is None and floor is None and ttl_ms is None:
            with _reachable():
                return True, int(await self._client.incrby(self._prefix + key, amount))
        args = ["" if v is None else str(v) for v in (amount, ceiling, floor, ttl_ms)]
        with _reachable():
            applied, total = await self._script(keys=[self._prefix + key], args=args)
        return bool(applied), int(total)

    async def get(self, key: str) -> int:
        with _reachable():
            value = await self._client.get(self._prefix + key)
        return 0 if value is None else int(value)

    async def set(self, key: str, value: int, ttl_s: float | None = None) -> None:
        with _reachable():
            await self._client.set(self._prefix + key, value, px=_ttl_ms(ttl_s))

    async def delete(self, key: str) -> None:
        with _reachable():
            await self._client.delete(self._prefix + key)


class RedisCache:
    def __init__(self, client: aioredis.Redis, prefix: str) -> None:
        self._client = client
        self._prefix = prefix + "cache:"

    async def get(self, key: str) -> bytes | None:
        with _reachable():
            value = await self._client.get(self._prefix + key)
        return value.encode() if isinstance(value, str) else value

    async def set(self, key: str, value: bytes, ttl_s: float | None = None) -> None:
        with _reachable():
            await self._client.set(self._prefix + key, value, px=_ttl_ms(ttl_s))

    async def delete(self, key: str) -> None:
        with _reachable():
            await self._client.delete(self._prefix + key)


class _RedisSubscription:
    """Holds one connection from the pool while live (Redis pub/sub needs its own)."""

    def __init__(self, owner: RedisPubSub, channel: str) -> None:
        self._owner = owner
        self._channel = channel
        self._pubsub: _RedisPubSub | None = None
        self._closed = False

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> bytes:
        pubsub = self._pubsub or await self._start()
        while not self._closed:
            message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=None)
            if message is not None and message["type"] == "message":
                return bytes(message["data"])
        raise StopAsyncIteration

    async def __aenter__(self) -> Self:
        await self._start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        self._closed = True
        self._owner.forget(self)
        if self._pubsub is not None:
            pubsub, self._pubsub = self._pubsub, None
            await pubsub.aclose()

    async def _start(self) -> _RedisPubSub:
        if self._closed:
            raise StopAsyncIteration
        if self._pubsub is not None:
            return self._pubsub
        pubsub = self._owner.client.pubsub()
        self._pubsub = pubsub
        self._owner.track(self)
        await pubsub.subscribe(self._channel)
        # Wait for the server's confirmation: only then is a later publish delivered.
        while True:
            message = await pubsub.get_message(timeout=None)
            if message is not None and message["type"] == "subscribe":
                return pubsub


class RedisPubSub:
    def __init__(self, client: aioredis.Redis, prefix: str) -> None:
        self.client = client
        self._prefix = prefix + "chan:"
        self._live: set[_RedisSubscription] = set()

    async def publish(self, channel: str, message: bytes) -> None:
        with _reachable():
            await self.client.publish(self._prefix + channel, message)

    def subscribe(self, channel: str) -> _RedisSubscription:
        return _RedisSubscription(self, self._prefix + channel)

    def track(self, subscription: _RedisSubscription) -> None:
        self._live.add(subscription)

    def forget(self, subscription: _RedisSubscription) -> None:
        self._live.discard(subscription)

    async def close(self) -> None:
        for subscription in list(self._live):
            await subscription.aclose()


class RedisKV:
    """The scale-out bundle: one bounded connection pool shared by all four parts."""

    def __init__(self, client: aioredis.Redis, prefix: str = "relaygate:") -> None:
        self._client = client
        self.counters = RedisCounter(client, prefix)
        self.rates = RedisRateCounter(client, prefix)
        self.cache = RedisCache(client, prefix)
        self.pubsub = RedisPubSub(client, prefix)

    @classmethod
    def from_url(
        cls, url: str, prefix: str = "relaygate:", *, max_connections: int = 64
    ) -> RedisKV:
        """Connects lazily; a full pool makes callers wait (up to 10 s), never fail at once."""
        pool = aioredis.BlockingConnectionPool.from_url(
            url, max_connections=max_connections, timeout=10
        )
        return cls(aioredis.Redis.from_pool(pool), prefix)

    async def ping(self) -> None:
        """Fail fast at start-up when Redis is unreachable."""
        await self._client.ping()

    async def close(self) -> None:
        await self.pubsub.close()
        await self._client.aclose()
