"""The daily roll-up's sums, as the bill writer adds them (billing/rollup.py)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from relaygate.billing.rollup import (
    LEVEL_MODEL_ALL_USERS,
    LEVEL_USER,
    LEVEL_USER_MODEL,
    daily_rows,
    day_window,
    rule_hit_rows,
)
from relaygate.billing.usage_row import UsageRow

NOON = datetime(2026, 12, 7, 12, tzinfo=UTC)


def _row(
    user: int | None, model: str, at: datetime, status: int = 200, amount: int = 10
) -> UsageRow:
    return UsageRow(
        request_id="r", created_at=at, user_id=user, key_id=None, model=model,
        upstream_model=model, channel_id=None, endpoint="chat/completions", status=status,
        stream=False, prompt_tokens=100, completion_tokens=20, cached_tokens=0,
        reasoning_tokens=0, usage_estimated=False, rurt_ms=0, ttfb_ms=None, duration_ms=0,
        client_ip="", error=None, official_cost=amount, amount=amount, free_amount=1,
        multiplier="1", package_amount=2, attempts=1, images=0, characters=0, audio_ms=0,
        route_group="", model_multiplier="1", route_multiplier="1", tier_multiplier="1",
        group_multiplier="1",
    )  # fmt: skip


def test_daily_rows_sum_each_level_by_utc_day() -> None:
    late = NOON.replace(hour=23, minute=59)
    rows = [
        _row(1, "a", NOON),
        _row(1, "a", late, status=500),
        _row(1, "b", late + timedelta(minutes=2)),  # the next UTC day
        _row(2, "a", NOON, amount=7),
        _row(None, "a", NOON),  # no user: only the every-user level
    ]
    sums = {r[:4]: r[4:] for r in daily_rows(rows)}
    assert sums[(LEVEL_USER_MODEL, 1, "2026-12-07", "a")] == (2, 1, 200, 40, 20, 20, 4, 2)
    assert sums[(LEVEL_USER, 1, "2026-12-07", "")][0] == 2
    assert sums[(LEVEL_USER, 1, "2026-12-08", "")][0] == 1
    assert sums[(LEVEL_MODEL_ALL_USERS, 0, "2026-12-07", "a")][:2] == (4, 1)
    assert sums[(LEVEL_MODEL_ALL_USERS, 0, "2026-12-07", "a")][4] == 37
    assert len(sums) == 8  # levels 0 and 1: three (user, day) groups each; level 2: two
    assert list(sums) == sorted(sums)  # locks taken in one order


def test_day_window_ends_today_in_utc() -> None:
    east = datetime(2026, 12, 8, 1, tzinfo=UTC).astimezone()  # any zone: UTC day counts
    days = day_window(east, 30)
    assert len(days) == 30 and days[-1] == date(2026, 12, 8) and days[0] == date(2026, 11, 9)


def test_rule_hits_per_rule_and_utc_day() -> None:
    late = NOON.replace(hour=23, minute=59)
    rows = [_row(1, "a", NOON), _row(1, "a", late), _row(1, "a", late + timedelta(minutes=2))]
    rows += [_row(2, "a", NOON), _row(None, "a", NOON)]
    rows[0].rules, rows[1].rules, rows[2].rules = "12,15", "12", "12"
    rows[3].rules, rows[4].rules = "20", "99"  # no user: never counted
    iso = date.isoformat
    assert rule_hit_rows(rows, iso, datetime.isoformat) == [
        (12, "2026-12-07", 1, 2, late.isoformat()),
        (12, "2026-12-08", 1, 1, (late + timedelta(minutes=2)).isoformat()),
        (15, "2026-12-07", 1, 1, NOON.isoformat()),
        (20, "2026-12-07", 2, 1, NOON.isoformat()),
    ]
    assert rule_hit_rows(rows[3:3], iso, datetime.isoformat) == []
