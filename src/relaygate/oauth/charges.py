"""Apps charging users (§5 "charge user fees"): money moves from the user's paid balance
to the app owner's, less the operator's commission, as three ledger entries written in
ONE transaction with the charge's idempotency record.

Each charge first touches the wallets it changes (an UPDATE that changes nothing, in user
id order): on PostgreSQL that takes their row locks, on SQLite the database's write lock,
before anything is read. So the idempotency record is looked up only once no other charge
on those wallets can commit in between: the same key sent 50 times at once charges once,
and the others answer the first result."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import ROUND_FLOOR, Decimal

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from relaygate.accounts.models import User
from relaygate.billing.models import LedgerEntry, Wallet
from relaygate.core.errors import InsufficientBalance, InvalidRequest
from relaygate.db.engine import Database
from relaygate.oauth.models import OAuthCharge
from relaygate.oauth.records import ChargeResult, TokenOwner

__all__ = ["CHARGE_KINDS", "ChargeRequest", "Charges"]

PAID = "oauth_charge"  # the user's entry (negative)
REVENUE = "oauth_revenue"  # the app owner's
COMMISSION = "oauth_commission"  # the operator's
CHARGE_KINDS = (PAID, REVENUE, COMMISSION)
_KEY = re.compile(r"^[A-Za-z0-9_.:-]{1,100}$")
INSUFFICIENT = (
    "User balance is insufficient, your request has been rejected, please recharge in time."
)


@dataclass(frozen=True, slots=True)
class ChargeRequest:
    amount: int  # micro-units, > 0
    remark: str
    idempotency_key: str


def _result(row: OAuthCharge, replayed: bool) -> ChargeResult:
    return ChargeResult(row.id, row.amount, row.commission, row.balance_after, replayed)


class Charges:
    def __init__(
        self, db: Database, commission_percent: Decimal, forget: Callable[[int], None]
    ) -> None:
        self.db = db
        self.percent = commission_percent
        self.forget = forget  # the relay's cached balance of a user, dropped after a charge

    def commission(self, amount: int) -> int:
        """The operator's part, rounded down to the micro-unit (the remainder is the app's)."""
        exact = Decimal(amount) * self.percent / Decimal(100)
        return int(exact.to_integral_value(rounding=ROUND_FLOOR))

    async def charge(self, who: TokenOwner, req: ChargeRequest) -> ChargeResult:
        if req.amount <= 0:
            raise InvalidRequest("'amount' must be positive.", param="amount")
        if not _KEY.match(req.idempotency_key):
            raise InvalidRequest(
                "'idempotency_key' must be 1-100 letters, digits or _.:-", param="idempotency_key"
            )
        async with self.db.session() as session:
            operator_id = await session.scalar(
                select(User.id).where(User.is_operator.is_(True)).order_by(User.id).limit(1)
            )
        payees = {who.owner_id, operator_id or who.owner_id}
        await self._ensure_wallets(payees)
        async with self.db.session() as session, session.begin():
            for user_id in sorted({who.user_id, *payees}):
                await session.execute(
                    update(Wallet).where(Wallet.user_id == user_id).values(balance=Wallet.balance)
                )
            seen = await session.scalar(
                select(OAuthCharge).where(
                    OAuthCharge.app_id == who.app_id,
                    OAuthCharge.user_id == who.user_id,
                    OAuthCharge.idempotency_key == req.idempotency_key,
                )
            )
            if seen is not None:
                return _result(seen, replayed=True)
            row = await self._move(session, who, req, operator_id or who.owner_id)
        for user_id in {who.user_id, *payees}:
            self.forget(user_id)
        return _result(row, replayed=False)

    async def _ensure_wallets(self, user_ids: set[int]) -> None:
        """The payees' wallets exist before the charge locks them: two first charges to a
        new developer would otherwise both insert the wallet, and one would fail."""
        for user_id in user_ids:
            try:
                async with self.db.session() as session, session.begin():
                    if await session.get(Wallet, user_id) is None:
                        session.add(
                            Wallet(user_id=user_id, balance=0, free_balance=0, topped_up_total=0)
                        )
            except IntegrityError:  # another charge made it first: exactly what we wanted
                continue

    async def _move(
        self, session: AsyncSession, who: TokenOwner, req: ChargeRequest, operator_id: int
    ) -> OAuthCharge:
        payer = await session.get(Wallet, who.user_id)
        if payer is None or payer.balance <= 0 or payer.balance < req.amount:
            raise InsufficientBalance(INSUFFICIENT)
        commission = self.commission(req.amount)
        payer.balance -= req.amount
        row = OAuthCharge(
            app_id=who.app_id,
            user_id=who.user_id,
            idempotency_key=req.idempotency_key,
            amount=req.amount,
            commission=commission,
            balance_after=payer.balance,
            remark=req.remark[:500],
        )
        session.add(row)
        await session.flush()
        memo = f"app {who.app_id}: {req.remark}"[:500]
        moves: list[tuple[int, str, int]] = [
            (who.user_id, PAID, -req.amount),
            (who.owner_id, REVENUE, req.amount - commission),
        ]
        if commission:
            moves.append((operator_id, COMMISSION, commission))
        for user_id, kind, amount in moves:
            if kind != PAID:  # the same wallet object when the payer is the owner
                wallet = await session.get(Wallet, user_id)
                if wallet is None:
                    wallet = Wallet(user_id=user_id, balance=0, free_balance=0, topped_up_total=0)
                    session.add(wallet)
                wallet.balance += amount
            session.add(
                LedgerEntry(
                    user_id=user_id,
                    kind=kind,
                    amount=amount,
                    free_amount=0,
                    request_id=f"oauth-{row.id}",
                    memo=memo,
                )
            )
        row.balance_after = payer.balance
        return row
