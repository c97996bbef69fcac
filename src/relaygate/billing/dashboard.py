"""The user's dashboard, read for one user: money, membership, rate tier, a month of
spend and use, and the packages still working.

Sums over the last 30 UTC days come from the daily roll-up (``usage_daily``, kept by the
bill writer in the bills' own transaction: rollup.py), so the page costs a few small
index reads whatever the user's history. Money is in micro-units (exact integers); a
day without calls is a zero, so the chart always has 30 points.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Protocol

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from relaygate.accounts.models import User
from relaygate.billing.membership import membership
from relaygate.billing.models import Package, UsageDaily, Wallet
from relaygate.billing.rollup import LEVEL_USER, LEVEL_USER_MODEL, day_window
from relaygate.billing.tier_rules import DEFAULT_SOURCE, TierSource
from relaygate.core.clock import utcnow
from relaygate.core.errors import NotFound
from relaygate.db.engine import Database

__all__ = [
    "ActivePackage",
    "Dashboard",
    "DashboardQueries",
    "DaySpend",
    "ModelUse",
    "RateTier",
    "RpmStanding",
    "rpm_standing",
]

DAYS = 30


class RateTier(Protocol):
    """A rate-limit tier (``limits.policy.Tier`` is one): ``rpm`` from a cumulative
    top-up of ``min_topup`` micro-units."""

    @property
    def min_topup(self) -> int: ...

    @property
    def rpm(self) -> int: ...


@dataclass(frozen=True, slots=True)
class RpmStanding:
    """The user's requests-per-minute tier and the next one (None: at the top)."""

    rpm: int
    topped_up_total: int
    next_rpm: int | None
    next_min_topup: int | None  # the cumulative top-up the next tier needs
    topup_to_next: int | None  # what is still to top up to reach it (> 0)


@dataclass(frozen=True, slots=True)
class DaySpend:
    day: date  # UTC
    amount: int  # charged (free part included), micro-units
    calls: int


@dataclass(frozen=True, slots=True)
class ModelUse:
    model: str
    calls: int
    failed: int
    prompt_tokens: int
    completion_tokens: int
    amount: int


@dataclass(frozen=True, slots=True)
class ActivePackage:
    id: int
    name: str
    amount: int
    remaining: int
    scope_routes: tuple[str, ...]  # () = every route
    scope_models: tuple[str, ...]  # () = every model
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class Dashboard:
    user_id: int
    balance: int
    free_balance: int
    topped_up_total: int
    membership: str  # "free", "vip" or "premium"
    membership_expires_at: datetime | None  # also set for a lapsed membership
    rpm: RpmStanding
    spend_per_day: tuple[DaySpend, ...]  # 30 UTC days, oldest first, today last
    by_model: tuple[ModelUse, ...]  # last 30 days, most spent first
    packages: tuple[ActivePackage, ...]  # unexpired with something left, soonest first


def rpm_standing(topped_up_total: int, tiers: Sequence[RateTier]) -> RpmStanding:
    """Where ``topped_up_total`` stands among ``tiers`` (the limiter's own rule: the
    highest tier reached; tiers start at 0, as ``limits.policy.tiers_from_units`` checks)."""
    ordered = sorted(tiers, key=lambda tier: tier.min_topup)
    reached = [tier for tier in ordered if topped_up_total >= tier.min_topup]
    current = reached[-1].rpm if reached else 0
    ahead = [tier for tier in ordered if tier.min_topup > topped_up_total]
    if not ahead:
        return RpmStanding(current, topped_up_total, None, None, None)
    step = ahead[0]
    return RpmStanding(
        current, topped_up_total, step.rpm, step.min_topup, step.min_topup - topped_up_total
    )


class DashboardQueries:
    def __init__(
        self,
        db: Database,
        tiers: TierSource = DEFAULT_SOURCE,
    ) -> None:
        self.db = db
        self.tiers = tiers  # read at each dashboard: the operator's edits show at once

    async def for_user(self, user_id: int, now: datetime | None = None) -> Dashboard:
        """The dashboard of ``user_id`` as of ``now`` (default: the clock); an unknown
        user is :class:`NotFound`."""
        now = now or utcnow()
        days = day_window(now, DAYS)
        async with self.db.session() as session:
            if await session.get(User, user_id) is None:
                raise NotFound(f"No user with id {user_id}.")
            wallet = await session.get(Wallet, user_id)
            spend = await session.execute(
                select(UsageDaily.day, UsageDaily.amount, UsageDaily.calls).where(
                    UsageDaily.level == LEVEL_USER,
                    UsageDaily.user_id == user_id,
                    UsageDaily.day >= days[0].isoformat(),
                )
            )
            by_day = {day: (int(amount), int(calls)) for day, amount, calls in spend}
            models = await _by_model(session, user_id, days[0])
            packages = await session.scalars(
                select(Package)
                .where(Package.user_id == user_id, Package.expires_at > now, Package.remaining > 0)
                .order_by(Package.expires_at, Package.id)
            )
            active = tuple(_active(row) for row in packages)
        balance, free, total, first = (
            (wallet.balance, wallet.free_balance, wallet.topped_up_total, wallet.first_topup_at)
            if wallet is not None
            else (0, 0, 0, None)
        )
        tables = self.tiers.current
        level = membership(total, first, now, tables.membership)
        series = tuple(DaySpend(d, *by_day.get(d.isoformat(), (0, 0))) for d in days)
        return Dashboard(
            user_id=user_id,
            balance=balance,
            free_balance=free,
            topped_up_total=total,
            membership=level.level,
            membership_expires_at=level.expire_at,
            rpm=rpm_standing(total, tables.rpm),
            spend_per_day=series,
            by_model=models,
            packages=active,
        )


async def _by_model(session: AsyncSession, user_id: int, first: date) -> tuple[ModelUse, ...]:
    d = UsageDaily
    rows = await session.execute(
        select(
            d.model,
            func.sum(d.calls),
            func.sum(d.failed),
            func.sum(d.prompt_tokens),
            func.sum(d.completion_tokens),
            func.sum(d.amount),
        )
        .where(d.level == LEVEL_USER_MODEL, d.user_id == user_id, d.day >= first.isoformat())
        .group_by(d.model)
    )
    uses = [ModelUse(str(m), *(int(v or 0) for v in sums)) for m, *sums in rows]
    return tuple(sorted(uses, key=lambda use: (-use.amount, -use.calls, use.model)))


def _active(row: Package) -> ActivePackage:
    return ActivePackage(
        id=row.id,
        name=row.name,
        amount=row.amount,
        remaining=row.remaining,
        scope_routes=tuple(str(r) for r in row.scope_routes or []),
        scope_models=tuple(str(m) for m in row.scope_models or []),
        expires_at=row.expires_at,
    )
