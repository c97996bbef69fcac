"""The daily roll-up of usage (``usage_daily``), as the bill writer keeps it.

The console's dashboard and overview ask for sums over a month: spend per day, calls and
tokens per model, top users and models. Summing a month of usage records costs tens of
milliseconds per page at a million records; summing a month of roll-up rows costs well
under one. The bill writer adds each batch's sums to the roll-up in the batch's own
transaction, so the roll-up never disagrees with the records (a failed commit rolls both
back). A batch adds one row per (day, user, model) it touched at each of three levels
(see ``billing.models.UsageDaily``), sorted, so two writers (replicas on PostgreSQL) take
the rows' locks in the same order.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta

from relaygate.billing.usage_row import UsageRow

__all__ = [
    "DAILY_SQL",
    "day_window",
    "LEVEL_MODEL_ALL_USERS",
    "LEVEL_USER",
    "LEVEL_USER_MODEL",
    "daily_rows",
]

LEVEL_USER_MODEL = 0  # one user, one model
LEVEL_USER = 1  # one user, every model (model "")
LEVEL_MODEL_ALL_USERS = 2  # every user (user_id 0), one model

_SUMS = (
    "calls",
    "failed",
    "prompt_tokens",
    "completion_tokens",
    "amount",
    "official_cost",
    "package_amount",
    "free_amount",
)
DAILY_SQL = (
    f"INSERT INTO usage_daily (level, user_id, day, model, {', '.join(_SUMS)}) "
    f"VALUES ({', '.join('?' for _ in range(4 + len(_SUMS)))}) "
    "ON CONFLICT (level, user_id, day, model) DO UPDATE SET "
    + ", ".join(f"{name} = usage_daily.{name} + excluded.{name}" for name in _SUMS)
)

_Group = tuple[str, int | None, str]  # (day, user id, model)
_Key = tuple[int, int, str, str]  # (level, user id, day, model)


def _fold(into: dict[_Key, list[int]], key: _Key, sums: list[int]) -> None:
    found = into.get(key)
    if found is None:
        into[key] = list(sums)
    else:
        for i, value in enumerate(sums):
            found[i] += value


def daily_rows(rows: Iterable[UsageRow]) -> list[tuple[int | str, ...]]:
    """The roll-up's upsert parameters for ``rows``: per UTC day, levels 0 to 2.

    One dictionary step per row (a batch's rows mostly share a day, a user and a model);
    the levels are folded from those groups.
    """
    groups: dict[_Group, list[int]] = {}
    for row in rows:
        group = (row.created_at.date().isoformat(), row.user_id, row.model)
        sums = groups.get(group)
        if sums is None:
            sums = groups[group] = [0, 0, 0, 0, 0, 0, 0, 0]
        sums[0] += 1
        if row.status >= 400:
            sums[1] += 1
        sums[2] += row.prompt_tokens
        sums[3] += row.completion_tokens
        sums[4] += row.amount
        sums[5] += row.official_cost
        sums[6] += row.package_amount
        sums[7] += row.free_amount
    levels: dict[_Key, list[int]] = {}
    for (day, user_id, model), sums in groups.items():
        _fold(levels, (LEVEL_MODEL_ALL_USERS, 0, day, model), sums)
        if user_id is not None:
            _fold(levels, (LEVEL_USER_MODEL, user_id, day, model), sums)
            _fold(levels, (LEVEL_USER, user_id, day, ""), sums)
    return [(*key, *values) for key, values in sorted(levels.items())]


def day_window(now: datetime, days: int) -> tuple[date, ...]:
    """The last ``days`` UTC days, oldest first, today (``now``'s UTC day) last."""
    today = now.astimezone(UTC).date()
    return tuple(today - timedelta(days=back) for back in range(days - 1, -1, -1))
