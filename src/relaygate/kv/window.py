"""The two-bucket sliding-window arithmetic, pure, shared by the memory implementation.

``redis.py`` carries the same arithmetic in Lua (it must run inside the server to be
atomic); the contract suite keeps the two in step. Buckets are fixed spans of
``window_s`` seconds aligned to the clock's zero, numbered by ``floor(now / window_s)``.

The estimate at ``elapsed`` seconds into the current bucket is
``prev * (1 - elapsed / window_s) + curr``: the previous bucket's count, weighted by the
part of it the sliding window still covers, plus the current bucket's count.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["EPSILON", "Buckets", "count_of", "estimate", "fits", "roll", "wait_for_room"]

# Float slack so that e.g. 49.999999 + 1 <= 50 holds; the Lua script uses the same value.
EPSILON = 1e-9


@dataclass(slots=True)
class Buckets:
    """A window's state: the current bucket's number and the two counts."""

    index: int
    curr: int = 0
    prev: int = 0


def roll(state: Buckets, index: int) -> None:
    """Move ``state`` forward to bucket ``index`` (the current bucket becomes the previous)."""
    if index == state.index + 1:
        state.prev, state.curr = state.curr, 0
    elif index > state.index + 1:
        state.prev, state.curr = 0, 0
    state.index = max(state.index, index)


def estimate(state: Buckets, elapsed: float, window_s: int) -> float:
    return state.prev * (1.0 - elapsed / window_s) + state.curr


def count_of(value: float) -> int:
    """The estimate as the integer count callers see (rounded up, ignoring float noise)."""
    return max(0, math.ceil(value - EPSILON))


def fits(state: Buckets, elapsed: float, window_s: int, cost: int, limit: int | None) -> bool:
    """Whether a hit of ``cost`` fits under ``limit`` now."""
    return limit is None or estimate(state, elapsed, window_s) + cost <= limit + EPSILON


def wait_for_room(
    state: Buckets, elapsed: float, window_s: int, cost: int, limit: int | None
) -> float:
    """Seconds until a hit of ``cost`` fits, ``0.0`` if it fits now."""
    if limit is None or fits(state, elapsed, window_s, cost, limit):
        return 0.0
    if cost > limit:  # never fits; one window is as honest a retry hint as any
        return float(window_s)
    if state.curr + cost <= limit:
        # The previous bucket's weight decays to zero by the end of this bucket.
        wait = window_s * (1.0 - (limit - cost - state.curr) / state.prev) - elapsed
    else:
        # Wait for the next bucket, then for the current count (then previous) to decay.
        wait = (window_s - elapsed) + window_s * (1.0 - (limit - cost) / state.curr)
    return max(0.0, wait)
