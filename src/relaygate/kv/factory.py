"""Pick the KV implementation from ``settings.kv_url``: the one place that knows both."""

from __future__ import annotations

from urllib.parse import urlsplit

from relaygate.kv.memory import MemoryKV
from relaygate.kv.protocols import KV

__all__ = ["open_kv"]

_REDIS_SCHEMES = frozenset({"redis", "rediss", "unix"})


def open_kv(url: str, prefix: str = "relaygate:", *, max_connections: int = 64) -> KV:
    """``memory://`` (one process) or ``redis://host:port/db`` / ``rediss://`` / ``unix://``.

    Nothing is connected yet; the first command connects. ``prefix`` namespaces every Redis
    key and channel and is ignored in memory.
    """
    scheme = urlsplit(url).scheme
    if scheme == "memory":
        return MemoryKV()
    if scheme in _REDIS_SCHEMES:
        # imported only when used: the Redis client costs the embedded mode ~8 MB of RSS
        from relaygate.kv.redis import RedisKV

        return RedisKV.from_url(url, prefix, max_connections=max_connections)
    raise ValueError(f"unsupported kv url scheme {scheme!r}: use memory:// or redis://")
