"""A user's resource packages, and the calls that drew on each.

Every draw on a package is a ledger entry (``package_use``, with the package's id and
the call's request id: writer.py), so a package's calls are its entries, newest first, a
page at a time (keyset on the entry id, over the partial index
``ix_ledger_entries_package_id``), each joined to its usage record by the request id
(unique). Scoped to the user: another user's package id is :class:`NotFound`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from relaygate.billing.models import LedgerEntry, Package, UsageRecord
from relaygate.billing.packages import PACKAGE_USE
from relaygate.core.clock import utcnow
from relaygate.core.errors import NotFound
from relaygate.core.pagination import Position
from relaygate.db.engine import Database

__all__ = ["DrawPage", "PackageDraw", "PackageLine", "PackagesView"]

MAX_PAGE = 200


@dataclass(frozen=True, slots=True)
class PackageLine:
    """A package as the packages page shows it (money in micro-units at official prices)."""

    id: int
    name: str
    amount: int  # granted
    remaining: int
    used: int  # amount - remaining
    scope_routes: tuple[str, ...]  # () = every route group and /v1
    scope_models: tuple[str, ...]  # glob patterns; () = every model
    source: str  # "operator", "referral", ...
    granted_at: datetime
    expires_at: datetime
    active: bool  # unexpired, with something left


@dataclass(frozen=True, slots=True)
class PackageDraw:
    """One call's draw on a package. The call fields are None when the usage record is
    not there (a draw is committed with its record, so only if the record was removed)."""

    entry_id: int
    at: datetime
    amount: int  # taken from the package, at official prices (> 0)
    request_id: str
    usage_id: int | None
    model: str | None
    route_group: str | None
    status: int | None


@dataclass(frozen=True, slots=True)
class DrawPage:
    draws: tuple[PackageDraw, ...]  # newest first
    next: Position | None  # None: the last page


def _line(row: Package, now: datetime) -> PackageLine:
    return PackageLine(
        id=row.id,
        name=row.name,
        amount=row.amount,
        remaining=row.remaining,
        used=row.amount - row.remaining,
        scope_routes=tuple(str(r) for r in row.scope_routes or []),
        scope_models=tuple(str(m) for m in row.scope_models or []),
        source=row.source,
        granted_at=row.created_at,
        expires_at=row.expires_at,
        active=row.expires_at > now and row.remaining > 0,
    )


class PackagesView:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def packages(self, user_id: int, now: datetime | None = None) -> tuple[PackageLine, ...]:
        """Every package of ``user_id``, expired ones included, newest first."""
        now = now or utcnow()
        query = select(Package).where(Package.user_id == user_id).order_by(Package.id.desc())
        async with self.db.session() as session:
            return tuple(_line(row, now) for row in await session.scalars(query))

    async def draws(
        self, user_id: int, package_id: int, *, limit: int = 50, after: Position | None = None
    ) -> DrawPage:
        """The calls that drew on ``package_id``, newest first; a package that is not
        ``user_id``'s is :class:`NotFound`."""
        limit = max(1, min(limit, MAX_PAGE))
        e, u = LedgerEntry, UsageRecord
        query = (
            select(e.id, e.created_at, e.package_amount, e.request_id, u.id, u.model)
            .add_columns(u.route_group, u.status)
            .outerjoin(u, u.request_id == e.request_id)
            .where(e.package_id == package_id, e.kind == PACKAGE_USE)
            .order_by(e.id.desc())
            .limit(limit + 1)
        )
        if after is not None:
            query = query.where(e.id < after.id)
        async with self.db.session() as session:
            package = await session.get(Package, package_id)
            if package is None or package.user_id != user_id:
                raise NotFound(f"No package with id {package_id}.")
            rows = (await session.execute(query)).all()
        draws = tuple(
            PackageDraw(eid, at, -int(amount), str(rid or ""), uid, model, group, status)
            for eid, at, amount, rid, uid, model, group, status in rows[:limit]
        )
        more = len(rows) > limit
        return DrawPage(draws, Position(draws[-1].at, draws[-1].entry_id) if more else None)
