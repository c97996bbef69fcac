"""One call's row of ``usage_records``: a named record whose fields are the columns.

The relay builds it (``CallContext.record``) and the bill writer inserts it; the column
list of the writer's INSERT is derived from the fields here, so the two cannot drift
apart as a positional tuple and a parallel column list could.

A slotted dataclass, not a NamedTuple: measured on CPython 3.11 with 34 fields, building
one by keyword costs a little less (1.75 µs against 1.95, best of runs) and reading its
values into a plain tuple costs the same (one ``attrgetter`` call, ~0.4 µs); and a
dataclass cannot be indexed or sliced by position, the mistake this record replaces. A
NamedTuple bound as it is would cost more, not less: sqlite3 binds a tuple subclass
about 2.5 times slower than an exact tuple. ``bench/bill_cost.py`` measures the whole
build, bind and write of a bill.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime

__all__ = ["USAGE_COLUMNS", "UsageRow"]


@dataclass(slots=True)
class UsageRow:
    """The columns of ``billing.models.UsageRecord`` but ``id``, for one relayed call."""

    request_id: str
    created_at: datetime  # aware UTC; the writer stores it in the database's own form
    user_id: int | None
    key_id: int | None
    model: str
    upstream_model: str
    channel_id: int | None
    endpoint: str
    status: int
    stream: bool
    prompt_tokens: int
    completion_tokens: int
    cached_tokens: int
    reasoning_tokens: int
    usage_estimated: bool
    rurt_ms: int
    ttfb_ms: int | None
    duration_ms: int
    client_ip: str
    error: str | None
    official_cost: int  # micro-units, at official prices
    amount: int  # micro-units charged (the free part included)
    free_amount: int
    multiplier: str  # the product of the four below, an exact decimal string
    package_amount: int
    attempts: int
    images: int
    characters: int
    audio_ms: int
    route_group: str
    model_multiplier: str
    route_multiplier: str
    tier_multiplier: str
    group_multiplier: str
    rules: str | None = None  # the override rules that fired, "12,15" (docs/rules.md)


USAGE_COLUMNS: tuple[str, ...] = tuple(f.name for f in fields(UsageRow))
