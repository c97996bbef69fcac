"""The dashboard's RPM standing (billing/dashboard.py)."""

from __future__ import annotations

from relaygate.billing.dashboard import rpm_standing
from relaygate.limits.policy import DEFAULT_TIERS


def test_rpm_standing_names_the_next_tier() -> None:
    low = rpm_standing(5_000_000, DEFAULT_TIERS)
    assert (low.rpm, low.next_rpm, low.topup_to_next) == (60, 1000, 15_000_000)
    top = rpm_standing(300_000_000, DEFAULT_TIERS)
    assert (top.rpm, top.next_rpm, top.topup_to_next) == (10_000, None, None)
