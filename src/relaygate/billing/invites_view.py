"""Who a user invited, and what each invitation earned (referrals.py grants the rewards).

An invitee is shown by a masked address (``al***@example.com``): the inviter knows whom
they invited, the page need not repeat whole addresses. A rewarded referral gave both
sides a package of source ``referral``. The invitee's is theirs alone (an invitee has one
referral); the inviter's is not tied to the referral by any column, so each rewarded
referral is paired with the inviter's first unpaired referral package granted at or
after it, in time order (the grant follows the referral's commit at once; two
invitations redeemed in the same instant may swap their rewards, which are of one type).
The inviter's own reward as someone's invitee is kept out of the pairing the same way.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from relaygate.accounts.models import Referral, User
from relaygate.billing.models import Package
from relaygate.billing.referrals import SOURCE
from relaygate.db.engine import Database

__all__ = ["InviteeLine", "InvitesView", "Reward", "mask_email"]


@dataclass(frozen=True, slots=True)
class Reward:
    package_id: int
    name: str
    amount: int  # micro-units at official prices
    remaining: int
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class InviteeLine:
    masked_email: str
    joined_at: datetime  # when the referral was recorded
    rewarded: bool  # False: not eligible (domain, a mailbox rewarded before)
    reward: Reward | None  # what the inviter received for this invitee


def mask_email(email: str) -> str:
    """``alice@example.com`` → ``al***@example.com`` (one letter kept for short names)."""
    local, _, domain = email.partition("@")
    keep = 2 if len(local) > 3 else 1
    return f"{local[:keep]}***@{domain}" if domain else f"{local[:keep]}***"


def _reward(row: Package) -> Reward:
    return Reward(row.id, row.name, row.amount, row.remaining, row.expires_at)


def _pair(
    referrals: Sequence[tuple[datetime, bool, bool]], packages: Sequence[Package]
) -> list[Package | None]:
    """For each referral (at, rewarded, as inviter), its package (see the module doc)."""
    left = sorted(packages, key=lambda p: (p.created_at, p.id))
    paired: list[Package | None] = []
    for at, rewarded, _ in referrals:
        found = next((p for p in left if p.created_at >= at), None) if rewarded else None
        if found is not None:
            left.remove(found)
        paired.append(found)
    return paired


class InvitesView:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def invitees(self, user_id: int) -> tuple[InviteeLine, ...]:
        """``user_id``'s invitees, oldest first, with the reward each produced."""
        async with self.db.session() as session:
            invited = (
                await session.execute(
                    select(Referral.created_at, Referral.rewarded, User.email)
                    .join(User, User.id == Referral.invitee_id)
                    .where(Referral.inviter_id == user_id)
                    .order_by(Referral.created_at, Referral.id)
                )
            ).all()
            own = (
                await session.execute(
                    select(Referral.created_at, Referral.rewarded).where(
                        Referral.invitee_id == user_id
                    )
                )
            ).all()
            packages = list(
                await session.scalars(
                    select(Package).where(Package.user_id == user_id, Package.source == SOURCE)
                )
            )
        timeline = sorted(
            [(at, bool(r), True) for at, r, _ in invited] + [(at, bool(r), False) for at, r in own],
            key=lambda item: item[0],
        )
        paired = dict(zip(range(len(timeline)), _pair(timeline, packages), strict=True))
        mine = [i for i, item in enumerate(timeline) if item[2]]
        return tuple(
            InviteeLine(
                mask_email(email),
                at,
                bool(rewarded),
                None if (p := paired[index]) is None else _reward(p),
            )
            for (at, rewarded, email), index in zip(invited, mine, strict=True)
        )
