"""Membership (Free, VIP, Premium) earned by cumulative top-ups. Pure.

The platform's rule: membership is a gift that comes with topping up; its length depends
on the *cumulative* amount topped up and always counts from the *first* payment. With the
default tiers, ¥20 gives one month of VIP and ¥40 six months: a user who topped up ¥20
(one month, now lapsed) and tops up ¥20 again has ¥40 in all, so VIP runs six months from
the first payment, five more months.
"""

from __future__ import annotations

import calendar
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

__all__ = ["DEFAULT_TIERS", "Membership", "MembershipTier", "add_months", "membership"]


@dataclass(frozen=True, slots=True)
class MembershipTier:
    name: str  # "vip" or "premium"
    min_total: int  # cumulative top-up in micro-units
    months: int


DEFAULT_TIERS = (
    MembershipTier("vip", 20_000_000, 1),
    MembershipTier("vip", 40_000_000, 6),
    MembershipTier("premium", 300_000_000, 12),
)


@dataclass(frozen=True, slots=True)
class Membership:
    level: str  # "free", "vip" or "premium"
    expire_at: datetime | None


def add_months(moment: datetime, months: int) -> datetime:
    """The same day ``months`` later, clamped to the month's last day (Jan 31 + 1 = Feb 28/29)."""
    index = moment.month - 1 + months
    year, month = moment.year + index // 12, index % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


def membership(
    topped_up_total: int,
    first_topup_at: datetime | None,
    now: datetime,
    tiers: Sequence[MembershipTier] = DEFAULT_TIERS,
) -> Membership:
    """The membership earned by ``topped_up_total``; "free" when none or when it lapsed."""
    earned = [t for t in tiers if topped_up_total >= t.min_total]
    if not earned or first_topup_at is None:
        return Membership("free", None)
    best = max(earned, key=lambda t: (t.name == "premium", t.months))
    expire_at = add_months(first_topup_at, best.months)
    return Membership(best.name if now < expire_at else "free", expire_at)
