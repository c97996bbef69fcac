"""The search cache: identical searches answered from the kv for a while.

Keyed by the tool and the normalised query (parameter names sorted, the query's case and
runs of whitespace folded), so ``Rust  async`` and ``rust async`` with the same options
share an answer. The answer is kept as the upstream sent it. It lives in the kv's cache
(in-process, or Redis shared by every replica), which may drop an entry early: a miss
simply calls the upstream. The operator decides what a hit costs (``search_cache_hit_billing``:
``full``, ``free`` or a percent of the call's price: :func:`hit_share`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from typing import Any

import orjson

from relaygate.kv.protocols import Cache

__all__ = ["MAX_CACHED_BYTES", "SearchCache", "hit_share", "search_key"]

MAX_CACHED_BYTES = 1 << 20  # a larger answer is relayed, never kept
_PREFIX = "tools:search:"


def hit_share(setting: str) -> Fraction:
    """The part of a search's price a cache hit is billed at: ``full`` (1), ``free``
    (0) or a percent from 0 to 100 (``"25"`` or ``"25%"``)."""
    text = setting.strip().lower()
    if text == "full":
        return Fraction(1)
    if text == "free":
        return Fraction(0)
    try:
        percent = Decimal(text.removesuffix("%"))
    except InvalidOperation:
        percent = Decimal(-1)
    if not percent.is_finite() or not 0 <= percent <= 100:
        raise ValueError("must be 'full', 'free' or a percent from 0 to 100")
    return Fraction(percent) / 100


def search_key(tool: str, params: Mapping[str, Any]) -> str:
    """The cache key of a search: the tool and its parameters, normalised."""
    normal = {
        name: " ".join(value.split()).casefold() if name == "q" else value
        for name, value in sorted(params.items())
    }
    digest = hashlib.sha256(orjson.dumps([tool, normal])).hexdigest()
    return f"{_PREFIX}{tool}:{digest}"


class SearchCache:
    def __init__(self, cache: Cache, seconds: float, hit_billing: str) -> None:
        self.cache = cache
        self.seconds = seconds  # 0: off
        self.hit_share = hit_share(hit_billing)

    @property
    def enabled(self) -> bool:
        return self.seconds > 0

    async def get(self, key: str) -> bytes | None:
        return await self.cache.get(key) if self.enabled else None

    async def put(self, key: str, answer: bytes) -> None:
        if self.enabled and len(answer) <= MAX_CACHED_BYTES:
            await self.cache.set(key, answer, ttl_s=self.seconds)
