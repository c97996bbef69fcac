"""The user's bill, a page at a time: the rows of the console's bills page, its CSV
export and its per-line explanation all read through here.

Scoped to one user: a key, a line or a cursor position of another user's is simply not
there (a key filter naming another user's key is :class:`NotFound`, as a line id is).
Pages follow a keyset cursor (core/pagination.py) over the index ``(user_id,
created_at, id)``, so a deep page costs what the first costs; the filters (time range,
key, model, status or status class, route group) narrow that range. A page read
``before`` a position (the "newer" link of a page reached through a cursor) reads the
same index upwards and is returned newest first like every page.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import select

from relaygate.accounts.models import ApiKey
from relaygate.billing.models import LedgerEntry, Package, UsageRecord
from relaygate.billing.packages import PACKAGE_USE
from relaygate.billing.repository import BillLine, UsageRepository
from relaygate.billing.schemas import UsageQuery
from relaygate.core.errors import NotFound
from relaygate.core.pagination import Position
from relaygate.db.engine import Database

__all__ = [
    "NO_FILTERS",
    "BillFilters",
    "BillPage",
    "BillRow",
    "BillsView",
    "PackagePaid",
    "bill_row",
]

MAX_PAGE = 500


@dataclass(frozen=True, slots=True)
class BillFilters:
    """What to show; ``since`` inclusive, ``until`` exclusive (aware UTC);
    ``status_class`` the hundreds digit (4 for 4xx); ``route_group`` "" is ``/v1``."""

    since: datetime | None = None
    until: datetime | None = None
    key_id: int | None = None
    model: str | None = None
    status: int | None = None
    status_class: int | None = None
    route_group: str | None = None


NO_FILTERS = BillFilters()


@dataclass(frozen=True, slots=True)
class BillRow:
    """One call as the bills page shows it: the platform's columns (time, model,
    promptTokens, completionTokens, RURT, TPS, Free, amount), then package use, route
    group and what the explanation links to. Money in micro-units."""

    id: int
    request_id: str
    time: datetime
    key_id: int | None
    key_remark: str | None  # None: no key, or the key was deleted
    model: str
    endpoint: str
    status: int
    stream: bool
    prompt_tokens: int
    completion_tokens: int
    cached_tokens: int
    rurt_ms: int  # "RURT": request upload time
    tps: Decimal  # "TPS": the call's duration in seconds (the platform's name)
    free: bool  # "Free": free balance paid for (some of) it
    free_amount: int
    amount: int  # charged, free part included
    official_cost: int
    package_amount: int  # paid by resource packages, at official prices
    package_used: bool
    route_group: str  # "" for /v1
    multiplier: str  # the product applied, exact decimal text
    rules: tuple[int, ...] = ()  # the override rules that rewrote the call, in run order


@dataclass(frozen=True, slots=True)
class BillPage:
    rows: tuple[BillRow, ...]  # newest first
    next: Position | None  # the cursor of the next (older) page (None: the last page)
    prev: Position | None = None  # the cursor of the newer page (None: the first page)


@dataclass(frozen=True, slots=True)
class PackagePaid:
    """What one resource package paid for a call, at official prices (micro-units, > 0)."""

    package_id: int
    name: str
    amount: int


def bill_row(line: BillLine) -> BillRow:
    r = line.record
    return BillRow(
        id=r.id,
        request_id=r.request_id,
        time=r.created_at,
        key_id=r.key_id,
        key_remark=line.key_remark,
        model=r.model,
        endpoint=r.endpoint,
        status=r.status,
        stream=r.stream,
        prompt_tokens=r.prompt_tokens,
        completion_tokens=r.completion_tokens,
        cached_tokens=r.cached_tokens,
        rurt_ms=r.rurt_ms,
        tps=Decimal(r.duration_ms) / 1000,
        free=r.free_amount > 0,
        free_amount=r.free_amount,
        amount=r.amount,
        official_cost=r.official_cost,
        package_amount=r.package_amount,
        package_used=r.package_amount > 0,
        route_group=r.route_group,
        multiplier=r.multiplier,
        rules=r.rule_ids,
    )


class BillsView:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def page(
        self,
        user_id: int,
        filters: BillFilters = NO_FILTERS,
        *,
        limit: int = 50,
        after: Position | None = None,
        before: Position | None = None,
    ) -> BillPage:
        """Up to ``limit`` (1 to :data:`MAX_PAGE`) of ``user_id``'s calls, newest first,
        below ``after`` (or just above ``before``: the newer page); a ``key_id`` that is
        not the user's is :class:`NotFound`."""
        limit = max(1, min(limit, MAX_PAGE))
        async with self.db.session() as session:
            if filters.key_id is not None:
                owner = await session.scalar(
                    select(ApiKey.user_id).where(ApiKey.id == filters.key_id)
                )
                if owner != user_id:
                    raise NotFound("No such API key.", param="key")
            query = _query(user_id, filters, limit + 1, after, before)
            lines = await UsageRepository(session).bill_lines(query)
        more = len(lines) > limit
        if before is not None:
            if not lines:  # nothing newer (any more): the first page
                return await self.page(user_id, filters, limit=limit)
            rows = tuple(bill_row(line) for line in reversed(lines[:limit]))
            return BillPage(rows, _position(rows[-1]), _position(rows[0]) if more else None)
        rows = tuple(bill_row(line) for line in lines[:limit])
        older = _position(rows[-1]) if more else None
        return BillPage(rows, older, _position(rows[0]) if after is not None and rows else None)

    async def by_request(self, user_id: int, request_id: str) -> BillRow:
        """The bill line of the call ``request_id`` (the relay's ``x-request-id``), so a
        page that made the call can show its exact charge; another user's call, or one
        whose bill is not written yet, is :class:`NotFound`."""
        query = UsageQuery(user_id=user_id, request_id=request_id, limit=1)
        async with self.db.session() as session:
            lines = await UsageRepository(session).bill_lines(query)
        if not lines:
            raise NotFound(f"No bill line for request {request_id}.")
        return bill_row(lines[0])

    async def packages_paid(self, user_id: int, request_id: str) -> tuple[PackagePaid, ...]:
        """The packages that paid (part of) the call ``request_id``, by name: a call paid
        by a package costs the balance nothing, and a page showing only ``amount`` would
        say the call was free. Read from the call's ``package_use`` ledger entries
        (unique index on kind, request id, package id); another user's call has none."""
        query = (
            select(Package.id, Package.name, LedgerEntry.package_amount)
            .join(Package, Package.id == LedgerEntry.package_id)
            .where(
                LedgerEntry.kind == PACKAGE_USE,
                LedgerEntry.request_id == request_id,
                LedgerEntry.user_id == user_id,
            )
            .order_by(LedgerEntry.id)
        )
        async with self.db.session() as session:
            rows = (await session.execute(query)).all()
        return tuple(PackagePaid(int(pid), name, -int(amount)) for pid, name, amount in rows)

    async def record(self, user_id: int, usage_id: int) -> UsageRecord:
        """One of ``user_id``'s usage records; another user's id is :class:`NotFound`."""
        async with self.db.session() as session:
            row = await session.get(UsageRecord, usage_id)
        if row is None or row.user_id != user_id:
            raise NotFound(f"No bill line with id {usage_id}.")
        return row


def _position(row: BillRow) -> Position:
    return Position(row.time, row.id)


def _query(
    user_id: int,
    filters: BillFilters,
    limit: int,
    after: Position | None,
    before: Position | None = None,
) -> UsageQuery:
    return UsageQuery(
        user_id=user_id,
        key_id=filters.key_id,
        model=filters.model,
        since=filters.since,
        until=filters.until,
        status=filters.status,
        status_class=filters.status_class,
        route_group=filters.route_group,
        limit=limit,
        after=after,
        before=before,
    )
