"""Resource packages: prepaid amounts spent first, at official prices, inside a scope.

A package type says how much (micro-units at *official* prices), where (route groups such
as ``cc-omg``, and/or model name patterns such as ``claude-*``) and for how long. A grant
copies the type onto the user, with its own expiry. A call inside a package's scope is paid
from the package first, without multipliers, and its bill amount is 0; if the package runs
out mid-call, the rest is charged to the balance at the multiplied price. Packages never
lift the 402 rule: a balance at or below zero is refused whatever packages remain.

Every change of ``remaining`` is a ledger entry (``package_amount``), so for every package
``SUM(package_amount) == remaining``.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from relaygate.accounts.audit import changes_detail, stage
from relaygate.billing.models import LedgerEntry, Package, PackageType
from relaygate.core.clock import utcnow
from relaygate.core.errors import InvalidRequest, NotFound
from relaygate.db.engine import Database

__all__ = [
    "grant_in",
    "PACKAGE_GRANT",
    "PACKAGE_USE",
    "PackageService",
    "PackageView",
    "split_official",
]

PACKAGE_GRANT = "package_grant"
PACKAGE_USE = "package_use"
REFERRAL_SOURCE = "referral"  # the source of referral rewards (billing/referrals.py)


@dataclass(slots=True)
class PackageView:
    """A package as the hot path sees it."""

    id: int
    remaining: int
    routes: frozenset[str]
    models: tuple[str, ...]
    expires_at: datetime

    def covers(self, route: str, model: str, now: datetime) -> bool:
        if now >= self.expires_at:
            return False
        if self.routes and route not in self.routes:
            return False
        return not self.models or any(fnmatch.fnmatchcase(model, p) for p in self.models)


def split_official(
    official: int,
    packages: list[PackageView],
    pending: dict[int, int],
    where: tuple[str, str],
    now: datetime,
) -> list[tuple[int, int]]:
    """``(package id, amount)`` each covering package pays of ``official``, soonest-expiring
    first; ``pending`` is what this process has spent from each but not committed yet."""
    route, model = where
    uses: list[tuple[int, int]] = []
    left = official
    for package in sorted(packages, key=lambda p: (p.expires_at, p.id)):
        if left <= 0:
            break
        available = package.remaining - pending.get(package.id, 0)
        if available > 0 and package.covers(route, model, now):
            take = min(left, available)
            uses.append((package.id, take))
            left -= take
    return uses


def _view(row: Package) -> PackageView:
    return PackageView(
        row.id,
        row.remaining,
        frozenset(str(r) for r in row.scope_routes or []),
        tuple(str(m) for m in row.scope_models or []),
        row.expires_at,
    )


async def grant_in(session: AsyncSession, user_id: int, kind: PackageType, source: str) -> Package:
    """The package and its ledger entry, in the caller's transaction (a redemption code
    grants its package in the redemption's own transaction)."""
    row = Package(
        user_id=user_id,
        type_id=kind.id,
        name=kind.name,
        amount=kind.amount,
        remaining=kind.amount,
        scope_routes=list(kind.scope_routes or []),
        scope_models=list(kind.scope_models or []),
        source=source,
        expires_at=utcnow() + timedelta(days=kind.validity_days),
    )
    session.add(row)
    await session.flush()
    session.add(
        LedgerEntry(
            user_id=user_id,
            kind=PACKAGE_GRANT,
            package_id=row.id,
            package_amount=kind.amount,
            memo=f"{source}: {kind.name}"[:500],
        )
    )
    return row


class PackageService:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def create_type(
        self, fields: dict[str, Any], *, actor_id: int | None = None
    ) -> PackageType:
        """Define a package type (audit line ``package_type.create``)."""
        async with self.db.session() as session:
            try:
                async with session.begin():
                    row = PackageType(**fields)
                    session.add(row)
                    await session.flush()
                    detail = {"type_id": row.id, **changes_detail(fields)}
                    stage(
                        session,
                        "package_type.create",
                        actor_id=actor_id,
                        subject_user_id=None,
                        detail=detail,
                    )
            except IntegrityError as exc:
                raise InvalidRequest("A package type with this name exists.", param="name") from exc
        return row

    async def update_type(
        self, type_id: int, changes: dict[str, Any], *, actor_id: int | None = None
    ) -> PackageType:
        """Change a package type (audit line ``package_type.edit``). Packages granted
        before keep what they were granted: a grant copies the type."""
        async with self.db.session() as session:
            try:
                async with session.begin():
                    row = await session.get(PackageType, type_id)
                    if row is None:
                        raise NotFound(f"No package type with id {type_id}.")
                    for name, value in changes.items():
                        setattr(row, name, value)
                    detail = {"type_id": type_id, **changes_detail(changes)}
                    stage(
                        session,
                        "package_type.edit",
                        actor_id=actor_id,
                        subject_user_id=None,
                        detail=detail,
                    )
            except IntegrityError as exc:
                raise InvalidRequest("A package type with this name exists.", param="name") from exc
        return row

    async def set_type_active(
        self, type_id: int, active: bool, *, actor_id: int | None = None
    ) -> PackageType:
        """Disable a type (no more operator grants) or enable it again (audit line
        ``package_type.disable`` / ``package_type.enable``)."""
        async with self.db.session() as session, session.begin():
            row = await session.get(PackageType, type_id)
            if row is None:
                raise NotFound(f"No package type with id {type_id}.")
            row.active = active
            action = "package_type.enable" if active else "package_type.disable"
            detail = {"type_id": type_id, "name": row.name}
            stage(session, action, actor_id=actor_id, subject_user_id=None, detail=detail)
        return row

    async def type_by_id(self, type_id: int) -> PackageType:
        async with self.db.session() as session:
            row = await session.get(PackageType, type_id)
        if row is None:
            raise NotFound(f"No package type with id {type_id}.")
        return row

    async def types(self) -> list[PackageType]:
        async with self.db.session() as session:
            return list(await session.scalars(select(PackageType).order_by(PackageType.id)))

    async def type_named(self, name: str) -> PackageType | None:
        async with self.db.session() as session:
            return await session.scalar(select(PackageType).where(PackageType.name == name))

    async def grant(
        self, user_id: int, type_id: int, source: str = "operator", *, actor_id: int | None = None
    ) -> Package:
        """Give ``user_id`` a package of type ``type_id``, with its ledger entry and its
        audit line (``package.grant``). A disabled type is refused, except as the
        referral reward, which the settings choose (``referral_package_type``)."""
        async with self.db.session() as session, session.begin():
            kind = await session.get(PackageType, type_id)
            if kind is None:
                raise NotFound(f"No package type with id {type_id}.")
            if not kind.active and source != REFERRAL_SOURCE:
                raise InvalidRequest(
                    f"The package type '{kind.name}' is disabled.", param="type_id"
                )
            row = await grant_in(session, user_id, kind, source)
            detail = {"package_id": row.id, "type_id": kind.id, "name": kind.name, "source": source}
            stage(
                session, "package.grant", actor_id=actor_id, subject_user_id=user_id, detail=detail
            )
        return row

    async def of_user(self, user_id: int, include_expired: bool = True) -> list[Package]:
        query = select(Package).where(Package.user_id == user_id).order_by(Package.id)
        if not include_expired:
            query = query.where(Package.expires_at > utcnow())
        async with self.db.session() as session:
            return list(await session.scalars(query))

    async def active(self, user_id: int) -> list[PackageView]:
        return [_view(row) for row in await self.of_user(user_id, include_expired=False)]
