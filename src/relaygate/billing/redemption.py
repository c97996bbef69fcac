"""Redemption codes: the operator generates batches, users redeem codes for money or a package.

A code is 16 characters from an alphabet without look-alikes (no 0/O, 1/I/L), about 80
random bits, shown in groups of four (``ABCD-EFGH-JKMN-PQRS``); input is read without
the dashes, spaces or case. Codes are stored as issued, like a gift card's number,
because the operator exports a batch as CSV whenever they need to hand it out; only
operator routes read them back (docs/payments.md).

A redemption is one transaction: the code's ``used`` moves by a conditional UPDATE
(``used < max_redemptions``), so of many concurrent redemptions of a single-use code
exactly one wins; the redemption row is unique per (code, user), so a user redeems a code
once; the money (ledger entry ``redeem``) or the package grant commits with it.

Guessing is throttled before the code is looked up, per user and per client IP, and every
refusal (unknown, used up, expired, disabled, already redeemed by this user) is the same
answer, so the answer tells a guesser nothing about which codes exist.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import case, func, insert, select, update
from sqlalchemy.engine import CursorResult
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from relaygate.accounts.audit import stage
from relaygate.billing.ledger import REDEEM, wallet_for_update
from relaygate.billing.models import (
    LedgerEntry,
    PackageType,
    Redemption,
    RedemptionBatch,
    RedemptionCode,
)
from relaygate.billing.packages import grant_in
from relaygate.core.clock import utcnow
from relaygate.core.errors import InvalidRequest, NotFound, RateLimited
from relaygate.db.engine import Database
from relaygate.kv.protocols import RateCounter, RateHit

__all__ = [
    "CODE_ALPHABET",
    "CODE_LENGTH",
    "MAX_BATCH",
    "REFUSED",
    "BatchView",
    "NewBatch",
    "Redeemed",
    "RedeemLimits",
    "RedemptionService",
    "format_code",
    "new_code",
    "normalise_code",
]

CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
CODE_LENGTH = 16
MAX_BATCH = 10_000
REFUSED = "This code is invalid, already used or expired."
REDEEM_SOURCE = "redeem"  # the source of packages granted by a code
_ATTEMPTS = 3  # a batch insert retried after a (vanishingly rare) code collision

log = logging.getLogger(__name__)


def new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def format_code(code: str) -> str:
    """Groups of four, for reading aloud and copying by hand."""
    return "-".join(code[i : i + 4] for i in range(0, len(code), 4))


def normalise_code(text: str) -> str | None:
    """The stored form (no separators, upper case), or None if it cannot be a code."""
    code = "".join(c for c in text.upper() if c not in "- \t")
    if len(code) != CODE_LENGTH or any(c not in CODE_ALPHABET for c in code):
        return None
    return code


@dataclass(frozen=True, slots=True)
class RedeemLimits:
    """Redemption attempts per window, per user and per client IP; 0 turns one off.
    Every attempt counts (a success too): honest users redeem a few codes, guessers many."""

    per_user_per_minute: int = 10
    per_user_per_hour: int = 50
    per_ip_per_minute: int = 30

    def hits(self, user_id: int, client_ip: str | None) -> list[RateHit]:
        hits = [
            RateHit(f"redeem:user:{user_id}:m", 60, 1, self.per_user_per_minute),
            RateHit(f"redeem:user:{user_id}:h", 3600, 1, self.per_user_per_hour),
        ]
        if client_ip:
            hits.append(RateHit(f"redeem:ip:{client_ip}:m", 60, 1, self.per_ip_per_minute))
        return [hit for hit in hits if hit.limit]


@dataclass(frozen=True, slots=True)
class NewBatch:
    """What the operator asks for: money (micro-units) or a package type, not both."""

    name: str
    amount: int
    package_type_id: int | None
    max_redemptions: int
    quantity: int
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class BatchView:
    batch: RedemptionBatch
    package_name: str | None
    redeemed: int  # redemptions so far, over every code of the batch
    codes_used_up: int  # codes that reached max_redemptions


@dataclass(frozen=True, slots=True)
class Redeemed:
    """What a redemption gave: money, or the package granted."""

    redemption_id: int
    batch_name: str
    amount: int
    package_id: int | None
    package_name: str | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class _Found:
    code: RedemptionCode
    batch: RedemptionBatch


class _Refused(Exception):
    """Rolls the redemption back; answered as :data:`REFUSED`."""


class RedemptionService:
    def __init__(
        self,
        db: Database,
        rates: RateCounter | None = None,
        limits: RedeemLimits = RedeemLimits(),
        forget: Callable[[int], None] = lambda _user: None,
    ) -> None:
        self.db = db
        self.rates = rates
        self.limits = limits
        self.forget = forget  # drops a user's cached balance after a credit

    # ------------------------------------------------------------ operator

    async def create_batch(self, spec: NewBatch, *, actor_id: int | None = None) -> RedemptionBatch:
        """Generate the batch's codes (audit line ``redemption_batch.create``)."""
        _check_spec(spec)
        for attempt in range(_ATTEMPTS):
            try:
                return await self._insert_batch(spec, actor_id)
            except IntegrityError:
                if attempt == _ATTEMPTS - 1:
                    raise
                log.warning("a redemption code collided; generating the batch again")
        raise AssertionError("unreachable")

    async def _insert_batch(self, spec: NewBatch, actor_id: int | None) -> RedemptionBatch:
        codes = {new_code() for _ in range(spec.quantity)}
        while len(codes) < spec.quantity:
            codes.add(new_code())
        async with self.db.session() as session, session.begin():
            if spec.package_type_id is not None:
                kind = await session.get(PackageType, spec.package_type_id)
                if kind is None:
                    raise NotFound(f"No package type with id {spec.package_type_id}.")
            batch = RedemptionBatch(
                name=spec.name,
                amount=spec.amount,
                package_type_id=spec.package_type_id,
                max_redemptions=spec.max_redemptions,
                quantity=spec.quantity,
                expires_at=spec.expires_at,
                created_by=actor_id,
            )
            session.add(batch)
            await session.flush()
            await session.execute(
                insert(RedemptionCode),
                [{"batch_id": batch.id, "code": code, "used": 0} for code in codes],
            )
            detail: dict[str, Any] = {
                "batch_id": batch.id,
                "name": spec.name,
                "amount": spec.amount,
                "package_type_id": spec.package_type_id,
                "quantity": spec.quantity,
                "max_redemptions": spec.max_redemptions,
                "expires_at": spec.expires_at.isoformat(),
            }
            stage(
                session,
                "redemption_batch.create",
                actor_id=actor_id,
                subject_user_id=None,
                detail=detail,
            )
        return batch

    async def set_active(
        self, batch_id: int, active: bool, *, actor_id: int | None = None
    ) -> RedemptionBatch:
        """Disable a batch (its codes are refused from now on) or enable it again (audit
        line ``redemption_batch.disable`` / ``.enable``)."""
        async with self.db.session() as session, session.begin():
            batch = await session.get(RedemptionBatch, batch_id)
            if batch is None:
                raise NotFound(f"No redemption batch with id {batch_id}.")
            batch.active = active
            action = "redemption_batch.enable" if active else "redemption_batch.disable"
            detail = {"batch_id": batch_id, "name": batch.name}
            stage(session, action, actor_id=actor_id, subject_user_id=None, detail=detail)
        return batch

    async def batches(self) -> list[BatchView]:
        """Every batch, newest first, with its usage."""
        async with self.db.session() as session:
            rows = list(
                await session.scalars(select(RedemptionBatch).order_by(RedemptionBatch.id.desc()))
            )
            usage = await _usage(session)
            names = await _package_names(session)
        return [_batch_view(row, usage, names) for row in rows]

    async def batch(self, batch_id: int) -> BatchView:
        async with self.db.session() as session:
            row = await session.get(RedemptionBatch, batch_id)
            if row is None:
                raise NotFound(f"No redemption batch with id {batch_id}.")
            usage = await _usage(session, batch_id)
            names = await _package_names(session)
        return _batch_view(row, usage, names)

    async def codes(self, batch_id: int) -> list[RedemptionCode]:
        """The batch's codes, as issued (the operator's CSV export)."""
        await self.batch(batch_id)
        async with self.db.session() as session:
            query = (
                select(RedemptionCode)
                .where(RedemptionCode.batch_id == batch_id)
                .order_by(RedemptionCode.id)
            )
            return list(await session.scalars(query))

    # ------------------------------------------------------------ users

    async def redeem(self, user_id: int, text: str, client_ip: str | None = None) -> Redeemed:
        """Redeem ``text`` for ``user_id``: throttled first, then one transaction; every
        refusal is the same :class:`InvalidRequest` (param ``code``)."""
        await self._within_limits(user_id, client_ip)
        code = normalise_code(text)
        if code is None:
            raise InvalidRequest(REFUSED, param="code")
        try:
            async with self.db.session() as session, session.begin():
                done = await _redeem_in(session, user_id, code)
        except (_Refused, IntegrityError) as exc:
            raise InvalidRequest(REFUSED, param="code") from exc
        self.forget(user_id)
        return done

    async def history(self, user_id: int, limit: int = 100) -> list[Redeemed]:
        """A user's redemptions, newest first (never the codes themselves)."""
        async with self.db.session() as session:
            rows = await session.execute(
                select(Redemption, RedemptionBatch.name, PackageType.name)
                .join(RedemptionBatch, RedemptionBatch.id == Redemption.batch_id)
                .outerjoin(PackageType, PackageType.id == RedemptionBatch.package_type_id)
                .where(Redemption.user_id == user_id)
                .order_by(Redemption.id.desc())
                .limit(limit)
            )
            return [
                Redeemed(r.id, batch, r.amount, r.package_id, package, r.created_at)
                for r, batch, package in rows
            ]

    async def _within_limits(self, user_id: int, client_ip: str | None) -> None:
        hits = self.limits.hits(user_id, client_ip)
        if self.rates is None or not hits:
            return
        counted = await self.rates.hit_many(hits)
        if all(window.allowed for window in counted):
            return
        log.info("redemption attempts of user %s (client %s) throttled", user_id, client_ip)
        retry = str(max(1, round(max(window.reset_after_s for window in counted))))
        raise RateLimited(
            f"Too many redemption attempts; try again in {retry} s.",
            headers={"retry-after": retry},
        )


def _check_spec(spec: NewBatch) -> None:
    if (spec.amount > 0) == (spec.package_type_id is not None):
        raise InvalidRequest("Give either 'amount' or 'package_type_id'.", param="amount")
    if not 1 <= spec.quantity <= MAX_BATCH:
        raise InvalidRequest(f"'quantity' must be 1 to {MAX_BATCH}.", param="quantity")
    if spec.max_redemptions < 1:
        raise InvalidRequest("'max_redemptions' must be at least 1.", param="max_redemptions")
    if spec.expires_at <= utcnow():
        raise InvalidRequest("'expires_at' must be in the future.", param="expires_at")


async def _find(session: AsyncSession, code: str) -> _Found:
    row = (
        await session.execute(
            select(RedemptionCode, RedemptionBatch)
            .join(RedemptionBatch, RedemptionBatch.id == RedemptionCode.batch_id)
            .where(RedemptionCode.code == code)
        )
    ).first()
    if row is None:
        raise _Refused
    found = _Found(row[0], row[1])
    if not found.batch.active or found.batch.expires_at <= utcnow():
        raise _Refused
    return found


async def _redeem_in(session: AsyncSession, user_id: int, code: str) -> Redeemed:
    """The redemption's one transaction: claim a use, record it, pay it out."""
    found = await _find(session, code)
    batch = found.batch
    again = await session.scalar(
        select(Redemption.id).where(
            Redemption.code_id == found.code.id, Redemption.user_id == user_id
        )
    )
    if again is not None:
        raise _Refused
    claimed = await session.execute(
        update(RedemptionCode)
        .where(
            RedemptionCode.id == found.code.id,
            RedemptionCode.used < batch.max_redemptions,
        )
        .values(used=RedemptionCode.used + 1)
    )
    if cast(CursorResult[Any], claimed).rowcount != 1:
        raise _Refused
    package_id, package_name = None, None
    memo = f"redemption code, batch {batch.id} ({batch.name})"[:500]
    if batch.package_type_id is not None:
        kind = await session.get(PackageType, batch.package_type_id)
        if kind is None:
            raise _Refused
        package = await grant_in(session, user_id, kind, REDEEM_SOURCE)
        package_id, package_name = package.id, kind.name
    else:
        wallet = await wallet_for_update(session, user_id)
        wallet.balance += batch.amount
        session.add(LedgerEntry(user_id=user_id, kind=REDEEM, amount=batch.amount, memo=memo))
    redemption = Redemption(
        code_id=found.code.id,
        batch_id=batch.id,
        user_id=user_id,
        amount=batch.amount,
        package_id=package_id,
    )
    session.add(redemption)
    await session.flush()  # the (code, user) unique key: a concurrent double of one user
    return Redeemed(
        redemption.id, batch.name, batch.amount, package_id, package_name, redemption.created_at
    )


async def _usage(session: AsyncSession, batch_id: int | None = None) -> dict[int, tuple[int, int]]:
    """Per batch: (redemptions, codes used up)."""
    full = func.sum(case((RedemptionCode.used >= RedemptionBatch.max_redemptions, 1), else_=0))
    query = (
        select(RedemptionCode.batch_id, func.coalesce(func.sum(RedemptionCode.used), 0), full)
        .join(RedemptionBatch, RedemptionBatch.id == RedemptionCode.batch_id)
        .group_by(RedemptionCode.batch_id)
    )
    if batch_id is not None:
        query = query.where(RedemptionCode.batch_id == batch_id)
    rows = await session.execute(query)
    return {int(bid): (int(used or 0), int(up or 0)) for bid, used, up in rows}


async def _package_names(session: AsyncSession) -> dict[int, str]:
    rows = await session.execute(select(PackageType.id, PackageType.name))
    return {int(pid): str(name) for pid, name in rows}


def _batch_view(
    row: RedemptionBatch, usage: dict[int, tuple[int, int]], names: dict[int, str]
) -> BatchView:
    redeemed, used_up = usage.get(row.id, (0, 0))
    name = names.get(row.package_type_id) if row.package_type_id is not None else None
    return BatchView(row, name, redeemed, used_up)
