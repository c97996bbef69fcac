"""The pure pieces of the console's read models: the daily roll-up's sums, the RPM
standing, CSV cells, masked addresses and the charge explanation's arithmetic."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from fractions import Fraction

from relaygate.billing.bills_export import COLUMNS, csv_rows, safe_cell
from relaygate.billing.bills_view import BillRow
from relaygate.billing.charge_explain import explain
from relaygate.billing.dashboard import rpm_standing
from relaygate.billing.invites_view import mask_email
from relaygate.billing.models import UsageRecord
from relaygate.billing.pricing import Price, charge, official_cost
from relaygate.billing.rollup import (
    LEVEL_MODEL_ALL_USERS,
    LEVEL_USER,
    LEVEL_USER_MODEL,
    daily_rows,
    day_window,
)
from relaygate.billing.usage_row import UsageRow
from relaygate.core.units import Usage
from relaygate.limits.policy import DEFAULT_TIERS

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


def test_rpm_standing_names_the_next_tier() -> None:
    low = rpm_standing(5_000_000, DEFAULT_TIERS)
    assert (low.rpm, low.next_rpm, low.topup_to_next) == (60, 1000, 15_000_000)
    top = rpm_standing(300_000_000, DEFAULT_TIERS)
    assert (top.rpm, top.next_rpm, top.topup_to_next) == (10_000, None, None)


def test_csv_cells_that_a_spreadsheet_would_run_are_quoted() -> None:
    for text in ("=1+1", "+1", "-2", "@SUM(A1)", "\tx", "\rx"):
        assert safe_cell(text) == "'" + text
    assert safe_cell("gpt-4o") == "gpt-4o" and safe_cell(12) == 12
    assert safe_cell(True) == "true" and safe_cell(None) == ""


def test_csv_rows_have_the_header_and_exact_money() -> None:
    row = BillRow(
        id=1, request_id="=cmd", time=NOON, key_id=None, key_remark=None, model="m",
        endpoint="chat/completions", status=200, stream=True, prompt_tokens=3,
        completion_tokens=4, cached_tokens=0, rurt_ms=5, tps=Decimal("1.5"), free=False,
        free_amount=0, amount=1_234_567, official_cost=2, package_amount=0,
        package_used=False, route_group="cc-omg", multiplier="0.2",
    )  # fmt: skip
    [parsed] = list(csv.DictReader(io.StringIO(csv_rows([row], header=True))))
    assert tuple(parsed) == COLUMNS
    assert parsed["amount"] == "1.234567" and parsed["requestId"] == "'=cmd"
    assert parsed["time"] == "2026-12-07T12:00:00Z" and parsed["TPS"] == "1.5"


def test_masked_emails_keep_the_domain() -> None:
    assert mask_email("alice@example.com") == "al***@example.com"
    assert mask_email("bob@example.com") == "b***@example.com"


def _record(**fields: object) -> UsageRecord:
    base: dict[str, object] = {
        "id": 1, "model": "m", "route_group": "", "prompt_tokens": 0, "completion_tokens": 0,
        "cached_tokens": 0, "reasoning_tokens": 0, "images": 0, "characters": 0, "audio_ms": 0,
        "official_cost": 0, "package_amount": 0, "multiplier": "1", "model_multiplier": "1",
        "route_multiplier": "1", "tier_multiplier": "1", "group_multiplier": "1", "amount": 0,
        "free_amount": 0,
    }  # fmt: skip
    base.update(fields)
    return UsageRecord(**base)


def test_explanation_applies_the_multiplier_to_the_exact_official_cost() -> None:
    price = Price(input=3, output=7)  # a third of a micro-unit per ... : fractions matter
    units = Usage(prompt_tokens=333_333, completion_tokens=1)
    exact = official_cost(price, units)
    billed = charge(exact, Decimal("1.5"))
    row = _record(
        prompt_tokens=333_333,
        completion_tokens=1,
        official_cost=charge(exact, Decimal(1)),
        multiplier="1.5",
        model_multiplier="1.5",
        amount=billed,
    )
    told = explain(row, price)
    assert told.official_exact == exact and told.official_recomputed
    assert told.derived_amount == billed and told.exact
    assert told.official_exact != Fraction(told.official_cost)  # the rounding mattered


def test_explanation_with_a_package_starts_from_the_rounded_rest() -> None:
    row = _record(official_cost=1000, package_amount=400, multiplier="0.25", amount=150)
    told = explain(row, Price())
    assert told.rest_official == Fraction(600) and told.derived_amount == 150 and told.exact


def test_changed_prices_are_reported_not_hidden() -> None:
    row = _record(prompt_tokens=1_000_000, official_cost=5, amount=5)
    told = explain(row, Price(input=9))
    assert not told.official_recomputed and told.derived_amount == 5
