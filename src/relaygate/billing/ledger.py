"""Balances and the append-only ledger.

Every change of a balance is a ledger entry written in the same transaction as the
wallet update; ``SUM(amount)`` over a user's entries is the balance and ``SUM(free_amount)``
the free balance. Charges for relayed calls are written in batches by
:class:`~relaygate.billing.writer.BillWriter`; the one-off changes (top-ups, operator
adjustments) go through :class:`LedgerService`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from relaygate.accounts.audit import stage
from relaygate.accounts.models import ApiKey
from relaygate.billing.models import LedgerEntry, Wallet
from relaygate.core.clock import utcnow
from relaygate.core.errors import InvalidRequest
from relaygate.db.engine import Database

__all__ = [
    "ADJUSTMENT",
    "CHARGE",
    "DISPUTE",
    "DISPUTE_REVERSAL",
    "FREE_GRANT",
    "REDEEM",
    "REFUND",
    "STORAGE",
    "TOPUP",
    "Balance",
    "LedgerService",
    "Split",
    "post",
    "wallet_for_update",
]

TOPUP = "topup"
FREE_GRANT = "free_grant"
ADJUSTMENT = "adjustment"
CHARGE = "charge"
REFUND = "refund"  # a paid top-up given back (payments): takes back what it counted
DISPUTE = "dispute"  # a paid top-up disputed by the payer's bank (payments)
DISPUTE_REVERSAL = "dispute_reversal"  # a dispute won: its amount given back (payments)
_TAKES_BACK_TOPUP = (REFUND, DISPUTE)
REDEEM = "redeem"  # a redemption code's money (billing/redemption.py)
STORAGE = "storage"  # the daily charge for stored files (storage/service.py)


@dataclass(frozen=True, slots=True)
class Balance:
    balance: int
    free_balance: int
    topped_up_total: int
    first_topup_at: datetime | None

    @property
    def spendable(self) -> int:
        return self.balance + self.free_balance


@dataclass(slots=True)
class Split:
    """An amount of money as it falls on the paid and the free balance: a running sum of
    charges (per user, not yet committed; per wallet, within one batch), so mutable."""

    paid: int = 0
    free: int = 0

    @property
    def total(self) -> int:
        return self.paid + self.free


async def wallet_for_update(session: AsyncSession, user_id: int) -> Wallet:
    """The user's wallet row, locked for this transaction (created at zero if missing);
    other services that credit in their own transaction (redemption codes) use it."""
    return await _wallet(session, user_id)


async def _wallet(session: AsyncSession, user_id: int) -> Wallet:
    wallet = await session.get(Wallet, user_id, with_for_update=True)
    if wallet is None:
        wallet = Wallet(user_id=user_id, balance=0, free_balance=0, topped_up_total=0)
        session.add(wallet)
    return wallet


def _view(wallet: Wallet | None) -> Balance:
    if wallet is None:
        return Balance(0, 0, 0, None)
    return Balance(
        wallet.balance, wallet.free_balance, wallet.topped_up_total, wallet.first_topup_at
    )


async def post(
    session: AsyncSession,
    user_id: int,
    amount: int,
    kind: str,
    memo: str = "",
    request_id: str | None = None,
    *,
    actor_id: int | None = None,
) -> Balance:
    """The wallet change, its ledger entry and its audit line, inside the caller's
    transaction: a service that changes its own rows with the money (a payment order
    turning paid) commits both or neither. A refund or dispute may take the balance
    below zero and takes back from the cumulative top-up what it counted; a dispute
    reversal (the dispute won) counts it again."""
    wallet = await _wallet(session, user_id)
    free = amount if kind == FREE_GRANT else 0
    paid = amount - free
    wallet.balance += paid
    wallet.free_balance += free
    if kind == TOPUP:
        wallet.topped_up_total += amount
        wallet.first_topup_at = wallet.first_topup_at or utcnow()
    elif kind in _TAKES_BACK_TOPUP:
        wallet.topped_up_total = max(0, wallet.topped_up_total + amount)
    elif kind == DISPUTE_REVERSAL:  # the top-up counts again
        wallet.topped_up_total += amount
    session.add(
        LedgerEntry(
            user_id=user_id,
            kind=kind,
            amount=paid,
            free_amount=free,
            request_id=request_id,
            memo=memo[:500],
        )
    )
    stage(
        session,
        f"balance.{kind}",
        actor_id=actor_id,
        subject_user_id=user_id,
        detail={"amount": amount, "memo": memo[:500]},
    )
    await session.flush()
    return _view(wallet)


class LedgerService:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def balance(self, user_id: int) -> Balance:
        async with self.db.session() as session:
            return _view(await session.get(Wallet, user_id))

    async def credit(
        self,
        user_id: int,
        amount: int,
        kind: str,
        memo: str = "",
        request_id: str | None = None,
        *,
        actor_id: int | None = None,
    ) -> Balance:
        """Add (or, for an adjustment, possibly remove) money, with its ledger entry.

        ``topup`` counts toward the cumulative top-up (membership, rate tiers);
        ``free_grant`` adds to the free balance; ``adjustment`` is an operator correction.
        The audit line (``balance.<kind>``, with the memo) commits with the entry.
        """
        if kind in (TOPUP, FREE_GRANT) and amount <= 0:
            raise InvalidRequest("A top-up must be positive.", param="amount")
        async with self.db.session() as session, session.begin():
            return await post(session, user_id, amount, kind, memo, request_id, actor_id=actor_id)

    async def charge_once(
        self, user_id: int, amount: int, kind: str, request_id: str, memo: str = ""
    ) -> bool:
        """Take ``amount`` (micro-units) from the balance unless an entry of ``kind`` with
        ``request_id`` exists: a periodic charge (file storage, per user and day) that two
        replicas or a retried round may both attempt is made once. The wallet's row lock
        orders the attempts, so the second sees the first's entry. False: made before."""
        async with self.db.session() as session, session.begin():
            await _wallet(session, user_id)
            done = await session.scalar(
                select(LedgerEntry.id).where(
                    LedgerEntry.kind == kind, LedgerEntry.request_id == request_id
                )
            )
            if done is not None:
                return False
            await post(session, user_id, -amount, kind, memo, request_id)
        return True

    async def entries(self, user_id: int, limit: int = 100) -> list[LedgerEntry]:
        async with self.db.session() as session:
            query = (
                select(LedgerEntry)
                .where(LedgerEntry.user_id == user_id)
                .order_by(LedgerEntry.id.desc())
                .limit(limit)
            )
            return list(await session.scalars(query))

    async def package_sums(self, user_id: int) -> dict[int, int]:
        """The ledger's view of each package's remaining amount."""
        async with self.db.session() as session:
            rows = await session.execute(
                select(LedgerEntry.package_id, func.sum(LedgerEntry.package_amount))
                .where(LedgerEntry.user_id == user_id, LedgerEntry.package_id.is_not(None))
                .group_by(LedgerEntry.package_id)
            )
            return {int(pid or 0): int(total or 0) for pid, total in rows}

    async def key_used_fee(self, key_id: int) -> int:
        """What a key has spent, as committed (for its ``max_fee`` cap)."""
        async with self.db.session() as session:
            used = await session.scalar(select(ApiKey.used_fee).where(ApiKey.id == key_id))
        return int(used or 0)

    async def entries_sum(self, user_id: int) -> tuple[int, int]:
        """The ledger's view of the balance (for invariant checks and audits)."""
        async with self.db.session() as session:
            row = (
                await session.execute(
                    select(
                        func.coalesce(func.sum(LedgerEntry.amount), 0),
                        func.coalesce(func.sum(LedgerEntry.free_amount), 0),
                    ).where(LedgerEntry.user_id == user_id)
                )
            ).one()
        return int(row[0]), int(row[1])
