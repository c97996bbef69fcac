"""The operator's users page: find a user by email or id, and read a user's ledger.

Both list newest first, a page at a time, continuing below the last id (keyset): users
by their primary key, a user's ledger entries over the index on ``user_id`` (SQLite
keeps the row id in it, so a deep page is a range read). The changes the page makes are
the services' own, each with its audit line: ``LedgerService.credit`` (a top-up, free
grant or adjustment, with a memo), ``PackageService.grant``, ``AccountService.set_group``
and ``AccountService.set_disabled`` (then ``Charging.forget`` the user, as the JSON
routes do, so the next call sees the change).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, or_, select

from relaygate.accounts.models import User
from relaygate.billing.models import LedgerEntry, Wallet
from relaygate.core.pagination import MAX_ID, Position
from relaygate.db.engine import Database

__all__ = ["LedgerLine", "LedgerPage", "UserLine", "UserPage", "UsersView"]

MAX_PAGE = 200


@dataclass(frozen=True, slots=True)
class UserLine:
    id: int
    email: str
    name: str
    group: str
    is_operator: bool
    is_disabled: bool
    created_at: datetime
    balance: int  # micro-units
    free_balance: int
    topped_up_total: int


@dataclass(frozen=True, slots=True)
class UserPage:
    users: tuple[UserLine, ...]  # newest first
    next: Position | None


@dataclass(frozen=True, slots=True)
class LedgerLine:
    id: int
    at: datetime
    kind: str  # topup, free_grant, adjustment, charge, package_grant, package_use, refund, ...
    amount: int  # change of the balance (micro-units; a charge is negative)
    free_amount: int  # change of the free balance
    package_id: int | None
    package_amount: int  # change of the package's remaining amount
    request_id: str | None  # the call, for charges and package uses
    memo: str


@dataclass(frozen=True, slots=True)
class LedgerPage:
    entries: tuple[LedgerLine, ...]  # newest first
    next: Position | None


def _escape(term: str) -> str:
    return term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


class UsersView:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def search(
        self, term: str = "", *, limit: int = 50, after: Position | None = None
    ) -> UserPage:
        """Users whose email contains ``term`` (any case) or whose id is ``term``;
        every user for an empty term."""
        limit = max(1, min(limit, MAX_PAGE))
        term = term.strip()
        query = (
            select(User, Wallet.balance, Wallet.free_balance, Wallet.topped_up_total)
            .outerjoin(Wallet, Wallet.user_id == User.id)
            .order_by(User.id.desc())
            .limit(limit + 1)
        )
        if term:
            matches: ColumnElement[bool] = User.email.ilike(
                f"%{_escape(term.lower())}%", escape="\\"
            )
            if term.isdigit() and int(term) <= MAX_ID:
                matches = or_(matches, User.id == int(term))
            query = query.where(matches)
        if after is not None:
            query = query.where(User.id < after.id)
        async with self.db.session() as session:
            rows = (await session.execute(query)).all()
        users = tuple(
            UserLine(
                u.id,
                u.email,
                u.name,
                u.group,
                u.is_operator,
                u.is_disabled,
                u.created_at,
                int(balance or 0),
                int(free or 0),
                int(total or 0),
            )  # fmt: skip
            for u, balance, free, total in rows[:limit]
        )
        more = len(rows) > limit
        return UserPage(users, Position(users[-1].created_at, users[-1].id) if more else None)

    async def ledger(
        self, user_id: int, *, limit: int = 50, after: Position | None = None
    ) -> LedgerPage:
        """``user_id``'s ledger entries, newest first (empty for an unknown user)."""
        limit = max(1, min(limit, MAX_PAGE))
        e = LedgerEntry
        query = select(e).where(e.user_id == user_id).order_by(e.id.desc()).limit(limit + 1)
        if after is not None:
            query = query.where(e.id < after.id)
        async with self.db.session() as session:
            rows = list(await session.scalars(query))
        entries = tuple(
            LedgerLine(
                r.id,
                r.created_at,
                r.kind,
                r.amount,
                r.free_amount,
                r.package_id,
                r.package_amount,
                r.request_id,
                r.memo,
            )  # fmt: skip
            for r in rows[:limit]
        )
        more = len(rows) > limit
        return LedgerPage(entries, Position(entries[-1].at, entries[-1].id) if more else None)
