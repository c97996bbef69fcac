"""Shared short-lived state: rate windows, counters (holds), caches, pub/sub.

``open_kv(settings.kv_url)`` returns the in-process implementation (``memory://``) or the
Redis one (``redis://``); both honour the Protocols in :mod:`relaygate.kv.protocols`.
"""

from relaygate.kv.factory import open_kv
from relaygate.kv.protocols import (
    KV,
    Cache,
    Counter,
    PubSub,
    RateCounter,
    RateHit,
    Subscription,
    WindowCount,
)

__all__ = [
    "KV",
    "Cache",
    "Counter",
    "PubSub",
    "RateCounter",
    "RateHit",
    "Subscription",
    "WindowCount",
    "open_kv",
]
