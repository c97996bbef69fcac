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

from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime, timedelta
from typing import Any

from relaygate.billing.usage_row import UsageRow

__all__ = [
    "DAILY_SQL",
    "RULE_HITS_SQL",
    "rule_hit_rows",
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

# override rule hits per rule and UTC day (docs/rules.md), from the bills' ``rules`` column
RULE_HITS_SQL = (
    "INSERT INTO override_rule_hits (rule_id, day, user_id, hits, last_hit_at) "
    "VALUES (?, ?, ?, ?, ?) ON CONFLICT (rule_id, day) DO UPDATE SET "
    "hits = override_rule_hits.hits + excluded.hits, last_hit_at = excluded.last_hit_at"
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


def rule_hit_rows(
    rows: Iterable[UsageRow], day: Callable[[date], Any], moment: Callable[[datetime], Any]
) -> list[tuple[Any, ...]]:
    """The rule hits' upsert parameters for ``rows`` (those a rule fired for), sorted by
    (rule, day) so concurrent writers lock in one order; ``day``/``moment``: the
    database's own forms of a date and a time."""
    hits: dict[tuple[int, date], list[Any]] = {}  # -> [user id, hits, last hit]
    for row in rows:
        if not row.rules or row.user_id is None:
            continue
        on = row.created_at.astimezone(UTC).date()
        for rule_id in row.rules.split(","):
            found = hits.get((int(rule_id), on))
            if found is None:
                hits[(int(rule_id), on)] = [row.user_id, 1, row.created_at]
            else:
                found[1] += 1
                found[2] = max(found[2], row.created_at)
    return [
        (rule_id, day(on), user_id, count, moment(last))
        for (rule_id, on), (user_id, count, last) in sorted(hits.items())
    ]


def day_window(now: datetime, days: int) -> tuple[date, ...]:
    """The last ``days`` UTC days, oldest first, today (``now``'s UTC day) last."""
    today = now.astimezone(UTC).date()
    return tuple(today - timedelta(days=back) for back in range(days - 1, -1, -1))
