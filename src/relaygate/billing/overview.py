"""The operator's overview: traffic and errors now, money over a month, who and what
spends, and which channels are in trouble.

The last hour and day are read from usage records by time (index ``(created_at, id)``,
and the partial index over failed calls for the error counts); the month comes from the
daily roll-up (rollup.py) and the ledger's credits (a partial index of migration 0015),
so the page's cost does not grow with the table. Money is in micro-units.

Channels live in another capability: the caller passes the channel list and this
replica's breakers (``channels.health.ChannelHealth`` is one), and gets back those whose
breaker is not closed or whose calls in the last hour failed too often.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, Protocol

from sqlalchemy import ColumnElement, case, func, literal_column, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from relaygate.accounts.models import User
from relaygate.billing.ledger import ADJUSTMENT, FREE_GRANT, TOPUP
from relaygate.billing.models import LedgerEntry, UsageDaily, UsageRecord
from relaygate.billing.rollup import LEVEL_MODEL_ALL_USERS, LEVEL_USER, day_window
from relaygate.core.clock import utcnow
from relaygate.db.engine import Database

__all__ = [
    "ChannelTrouble",
    "DayMoney",
    "ErrorRate",
    "MinuteCount",
    "Overview",
    "OverviewQueries",
    "TopModel",
    "TopUser",
]

DAYS = 30
TOP = 10
TROUBLE_RATE = Decimal("0.2")  # a channel failing a fifth of its calls in the hour
TROUBLE_MIN_CALLS = 5  # ... of at least this many calls
_FAILED: ColumnElement[int] = literal_column(
    "400"
)  # literal: the partial index's own predicate (repository.py)
# the partial index ix_ledger_entries_credits has this very text as its predicate
_CREDITS = text(f"kind IN ('{TOPUP}', '{FREE_GRANT}', '{ADJUSTMENT}')")


class ChannelRef(Protocol):
    """A channel as the caller lists it (``channels.models.Channel`` is one)."""

    @property
    def id(self) -> int: ...

    @property
    def name(self) -> str: ...


class Breakers(Protocol):
    """This replica's breakers (``channels.health.ChannelHealth`` is one)."""

    def state(self, channel_id: int) -> dict[str, Any]: ...


@dataclass(frozen=True, slots=True)
class MinuteCount:
    minute: datetime  # the minute's start, UTC
    calls: int
    failed: int


@dataclass(frozen=True, slots=True)
class ErrorRate:
    calls: int
    failed: int  # answered 400 or above

    @property
    def rate(self) -> Decimal:
        """failed / calls, 4 decimal places (0 without calls)."""
        if not self.calls:
            return Decimal(0)
        return (Decimal(self.failed) / Decimal(self.calls)).quantize(Decimal("0.0001"))


@dataclass(frozen=True, slots=True)
class DayMoney:
    day: date  # UTC
    spend: int  # charged for calls (free part included)
    topped_up: int  # top-ups (payments and the operator's top-ups)
    credited: int  # free grants and adjustments (an adjustment may be negative)


@dataclass(frozen=True, slots=True)
class TopUser:
    user_id: int
    email: str
    amount: int
    calls: int


@dataclass(frozen=True, slots=True)
class TopModel:
    model: str
    amount: int
    calls: int
    prompt_tokens: int
    completion_tokens: int


@dataclass(frozen=True, slots=True)
class ChannelTrouble:
    channel_id: int
    name: str
    breaker: str  # "closed", "open" or "half_open" (this replica)
    consecutive_failures: int
    calls_last_hour: int
    failed_last_hour: int
    reasons: tuple[str, ...]  # "breaker_open", "breaker_half_open", "error_rate"


@dataclass(frozen=True, slots=True)
class Overview:
    calls_per_minute: tuple[MinuteCount, ...]  # the last 60 minutes, oldest first
    errors_last_hour: ErrorRate
    errors_last_day: ErrorRate
    money_per_day: tuple[DayMoney, ...]  # 30 UTC days, oldest first, today last
    top_users: tuple[TopUser, ...]  # by spend over the 30 days
    top_models: tuple[TopModel, ...]


class OverviewQueries:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def overview(self, now: datetime | None = None, top: int = TOP) -> Overview:
        """Everything on the page but the channels (:meth:`channels_in_trouble`)."""
        now = now or utcnow()
        async with self.db.session() as session:  # one connection for the page's reads
            hour = await self._last_hour(session, now)
            return Overview(
                calls_per_minute=hour,
                errors_last_hour=ErrorRate(sum(m.calls for m in hour), sum(m.failed for m in hour)),
                errors_last_day=await self._errors_since(session, now - timedelta(days=1)),
                money_per_day=await self._money(session, now),
                top_users=await self._top_users(session, now, top),
                top_models=await self._top_models(session, now, top),
            )

    @staticmethod
    async def _last_hour(session: AsyncSession, now: datetime) -> tuple[MinuteCount, ...]:
        """Two index-only reads: every call's time from ``(created_at, id)``, the failed
        ones' from the partial index over failed calls (no row is read)."""
        end = now.replace(second=0, microsecond=0) + timedelta(minutes=1)
        start = end - timedelta(minutes=60)
        u = UsageRecord
        window = (u.created_at >= start, u.created_at < end)
        calls = await session.scalars(select(u.created_at).where(*window))
        failed = await session.scalars(select(u.created_at).where(*window, u.status >= _FAILED))
        counts: dict[datetime, list[int]] = {}
        for index, times in enumerate((calls, failed)):
            for created_at in times:
                minute = created_at.replace(second=0, microsecond=0)
                counts.setdefault(minute, [0, 0])[index] += 1
        minutes = (start + timedelta(minutes=i) for i in range(60))
        return tuple(MinuteCount(m, *counts.get(m, (0, 0))) for m in minutes)

    @staticmethod
    async def _errors_since(session: AsyncSession, since: datetime) -> ErrorRate:
        u = UsageRecord
        calls = await session.scalar(select(func.count()).where(u.created_at >= since))
        failed = await session.scalar(
            select(func.count()).where(u.created_at >= since, u.status >= _FAILED)
        )
        return ErrorRate(int(calls or 0), int(failed or 0))

    @staticmethod
    async def _money(session: AsyncSession, now: datetime) -> tuple[DayMoney, ...]:
        days = day_window(now, DAYS)
        first = days[0]
        d, e = UsageDaily, LedgerEntry
        start = datetime(first.year, first.month, first.day, tzinfo=now.tzinfo)
        spend = await session.execute(
            select(d.day, func.sum(d.amount))
            .where(d.level == LEVEL_MODEL_ALL_USERS, d.user_id == 0, d.day >= first.isoformat())
            .group_by(d.day)
        )
        by_day = {str(day): int(total or 0) for day, total in spend}
        credits = await session.execute(
            select(e.created_at, e.kind, e.amount, e.free_amount).where(
                _CREDITS, e.created_at >= start
            )
        )
        topped: dict[date, int] = {}
        credited: dict[date, int] = {}
        for created_at, kind, amount, free in credits:
            into = topped if kind == TOPUP else credited
            into[created_at.date()] = into.get(created_at.date(), 0) + amount + free
        return tuple(
            DayMoney(day, by_day.get(day.isoformat(), 0), topped.get(day, 0), credited.get(day, 0))
            for day in days
        )

    @staticmethod
    async def _top_users(session: AsyncSession, now: datetime, top: int) -> tuple[TopUser, ...]:
        first = day_window(now, DAYS)[0].isoformat()
        d = UsageDaily
        amount = func.sum(d.amount).label("amount")
        rows = (
            await session.execute(
                select(d.user_id, amount, func.sum(d.calls))
                .where(d.level == LEVEL_USER, d.day >= first)
                .group_by(d.user_id)
                .order_by(amount.desc(), d.user_id)
                .limit(top)
            )
        ).all()
        ids = [int(row[0]) for row in rows]
        emails = dict(
            (await session.execute(select(User.id, User.email).where(User.id.in_(ids))))
            .tuples()
            .all()
        )
        return tuple(
            TopUser(int(uid), emails.get(int(uid), ""), int(total or 0), int(calls or 0))
            for uid, total, calls in rows
        )

    @staticmethod
    async def _top_models(session: AsyncSession, now: datetime, top: int) -> tuple[TopModel, ...]:
        first = day_window(now, DAYS)[0].isoformat()
        d = UsageDaily
        amount = func.sum(d.amount).label("amount")
        rows = await session.execute(
            select(
                d.model,
                amount,
                func.sum(d.calls),
                func.sum(d.prompt_tokens),
                func.sum(d.completion_tokens),
            )
            .where(d.level == LEVEL_MODEL_ALL_USERS, d.user_id == 0, d.day >= first)
            .group_by(d.model)
            .order_by(amount.desc(), d.model)
            .limit(top)
        )
        return tuple(TopModel(str(m), *(int(v or 0) for v in sums)) for m, *sums in rows)

    async def channels_in_trouble(
        self, channels: Sequence[ChannelRef], breakers: Breakers, now: datetime | None = None
    ) -> tuple[ChannelTrouble, ...]:
        """The channels whose breaker (on this replica) is not closed, or whose calls of
        the last hour failed at :data:`TROUBLE_RATE` or more (of at least
        :data:`TROUBLE_MIN_CALLS`); worst first."""
        now = now or utcnow()
        u = UsageRecord
        async with self.db.session() as session:
            rows = await session.execute(
                select(u.channel_id, func.count(), func.sum(_failed_case()))
                .where(u.created_at >= now - timedelta(hours=1), u.channel_id.is_not(None))
                .group_by(u.channel_id)
            )
            recent = {int(cid): (int(n), int(f or 0)) for cid, n, f in rows}
        found = [
            trouble
            for channel in channels
            if (trouble := _trouble(channel, breakers.state(channel.id), recent)) is not None
        ]
        return tuple(sorted(found, key=lambda t: (t.breaker == "closed", -t.failed_last_hour)))


def _failed_case() -> Any:
    return case((UsageRecord.status >= 400, 1), else_=0)


def _trouble(
    channel: ChannelRef, state: Mapping[str, Any], recent: Mapping[int, tuple[int, int]]
) -> ChannelTrouble | None:
    calls, failed = recent.get(channel.id, (0, 0))
    breaker = str(state.get("state", "closed"))
    reasons: list[str] = []
    if breaker != "closed":
        reasons.append(f"breaker_{breaker}")
    if calls >= TROUBLE_MIN_CALLS and Decimal(failed) >= TROUBLE_RATE * calls:
        reasons.append("error_rate")
    if not reasons:
        return None
    return ChannelTrouble(
        channel.id,
        channel.name,
        breaker,
        int(state.get("consecutive_failures", 0)),
        calls,
        failed,
        tuple(reasons),
    )
