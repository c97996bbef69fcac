"""Membership from cumulative top-ups, counted from the first payment (the seed's rules)."""

from __future__ import annotations

from datetime import UTC, datetime

from relaygate.billing.membership import add_months, membership

FIRST = datetime(2026, 1, 31, 12, 0, tzinfo=UTC)
YUAN = 1_000_000


def test_never_topped_up_is_free() -> None:
    assert membership(0, None, FIRST).level == "free"


def test_twenty_gives_one_month_from_the_first_payment() -> None:
    status = membership(20 * YUAN, FIRST, datetime(2026, 2, 10, tzinfo=UTC))
    assert status.level == "vip"
    assert status.expire_at == datetime(2026, 2, 28, 12, 0, tzinfo=UTC)


def test_the_seed_example_twenty_again_after_a_lapse_gives_five_more_months() -> None:
    lapsed = membership(20 * YUAN, FIRST, datetime(2026, 3, 15, tzinfo=UTC))
    assert lapsed.level == "free"
    renewed = membership(40 * YUAN, FIRST, datetime(2026, 3, 15, tzinfo=UTC))
    assert renewed.level == "vip"
    assert renewed.expire_at == datetime(2026, 7, 31, 12, 0, tzinfo=UTC)
    assert (renewed.expire_at.month - 3) == 4  # from mid-March: the rest of March + 4 months


def test_premium_beats_vip_and_below_the_first_threshold_is_free() -> None:
    assert membership(300 * YUAN, FIRST, FIRST).level == "premium"
    assert membership(19_999_999, FIRST, FIRST).level == "free"


def test_add_months_clamps_to_the_month_end() -> None:
    assert add_months(datetime(2024, 1, 31, tzinfo=UTC), 1) == datetime(2024, 2, 29, tzinfo=UTC)
    assert add_months(datetime(2025, 11, 30, tzinfo=UTC), 3) == datetime(2026, 2, 28, tzinfo=UTC)
