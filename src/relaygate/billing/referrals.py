"""Referral rewards: a new user who signs up with (or later enters) someone's invite code
earns both of them a resource package.

It lives in billing, not accounts, because granting a package is a billing act and billing
sits above accounts; accounts tells this service about new users through
``SignupService.on_new_user``. Rules, in order: the code must exist and its owner be
active (else 400); nobody may invite themselves, by account or by mailbox (400); a code can
be redeemed only within the terms' ``redeem_days`` of sign-up (400), so old accounts cannot farm
rewards from each other; an invitee has at most one referral (the unique ``invitee_id``,
400 on a second); an address whose domain is not eligible (allow/deny lists, e.g.
disposable mail) is recorded but not rewarded (200, ``rewarded: false``); and a mailbox
earns one reward, whatever address variant it signs up with (``accounts.signup.mailbox``:
case, ``+tags``, Gmail's dots and googlemail.com), so a second variant is recorded but not
rewarded. "Self" is judged by mailbox too: ``b.o.b+2@gmail.com`` cannot redeem
``bob@gmail.com``'s code.

The referral row is committed before the packages are granted, so a crash in between can
lose a reward (``rewarded`` stays false, visible to the operator) but never pay it twice.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError

from relaygate.accounts.models import Referral, User
from relaygate.accounts.signup import (
    NewUser,
    SignupService,
    email_disqualification,
    mailbox,
    normalise_invite_code,
    same_mailbox,
)
from relaygate.billing.packages import REFERRAL_SOURCE, PackageService
from relaygate.billing.tier_rules import DEFAULT_REFERRAL, ReferralTerms, TierSource
from relaygate.core.clock import utcnow
from relaygate.core.errors import ClientError, InvalidRequest, NotFound
from relaygate.db.engine import Database

__all__ = ["DEFAULT_PACKAGE", "NewTypeTerms", "ReferralOffer", "ReferralService", "Redeemed"]

log = logging.getLogger(__name__)

DEFAULT_PACKAGE = DEFAULT_REFERRAL.package_type
SOURCE = REFERRAL_SOURCE
MAILBOX_REWARDED = "this mailbox has already earned a referral reward"


@dataclass(frozen=True, slots=True)
class NewTypeTerms:
    """The terms of the reward's package type when it has to be created: the settings'
    default type does not exist until the first reward (or the operator makes it)."""

    amount: int = 20_000_000  # micro-units: 20 currency units
    scope_routes: tuple[str, ...] = ("cc-omg", "codex-omg")
    validity_days: int = 30


@dataclass(frozen=True, slots=True)
class ReferralOffer:
    """What an invitation promises both sides, and on which conditions (the invite page)."""

    package_name: str
    amount: int  # micro-units at official prices
    validity_days: int
    scope_routes: tuple[str, ...]  # empty: every route
    scope_models: tuple[str, ...]  # empty: every model
    redeem_days: int
    domains_limited: bool  # some email domains earn no reward


@dataclass(frozen=True, slots=True)
class Redeemed:
    rewarded: bool
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class _Claim:
    referral_id: int
    rewardable: bool  # the row holds the invitee's mailbox: this referral pays


class ReferralService:
    def __init__(
        self,
        db: Database,
        packages: PackageService,
        signup: SignupService,
        tiers: TierSource,
        on_granted: Callable[[int], None] = lambda _user_id: None,
        new_type: NewTypeTerms = NewTypeTerms(),
    ) -> None:
        """``on_granted(user_id)`` runs after each grant (the composition root passes
        ``Charging.forget``, so the next call sees the new package). The terms are read
        from ``tiers`` at each use: what the operator saved applies to the next code."""
        self.db = db
        self.packages = packages
        self.signup = signup
        self.tiers = tiers
        self.new_type = new_type
        self.on_granted = on_granted

    @property
    def rules(self) -> ReferralTerms:
        return self.tiers.current.referral

    async def on_signup(self, new: NewUser) -> None:
        """Listener for new users: the link has already signed them in, so a code that no
        longer qualifies is logged rather than failing the sign-in."""
        if not new.invite_code:
            return
        try:
            await self.redeem(new.user_id, new.invite_code)
        except ClientError as exc:
            log.info("invite code of new user %d not applied: %s", new.user_id, exc.message)

    async def redeem(self, invitee_id: int, code_text: str) -> Redeemed:
        """Apply ``code_text`` for ``invitee_id`` and reward both sides if it qualifies."""
        inviter = await self._inviter(code_text)
        invitee = await self._user(invitee_id)
        if inviter.id == invitee.id or same_mailbox(inviter.email, invitee.email):
            raise InvalidRequest("You cannot use your own invite code.", param="code")
        rules = self.rules
        if utcnow() - invitee.created_at > rules.redeem_window:
            raise InvalidRequest(
                f"Invite codes can be entered only in the first {rules.redeem_days} days.",
                param="code",
            )
        reason = email_disqualification(
            invitee.email, list(rules.allowed_domains), list(rules.denied_domains)
        )
        box = None if reason is not None else mailbox(invitee.email)
        claim = await self._claim(inviter.id, invitee.id, box)
        if not claim.rewardable:
            return Redeemed(False, reason or MAILBOX_REWARDED)
        type_id = await self._package_type_id(rules.package_type)
        for user_id in (inviter.id, invitee.id):
            await self.packages.grant(user_id, type_id, source=SOURCE)
            self.on_granted(user_id)
        async with self.db.session() as session, session.begin():
            await session.execute(
                update(Referral).where(Referral.id == claim.referral_id).values(rewarded=True)
            )
        return Redeemed(True)

    async def _inviter(self, code_text: str) -> User:
        code = normalise_invite_code(code_text)
        owner = None if code is None else await self.signup.code_owner(code)
        if owner is None or owner.is_disabled:
            raise InvalidRequest("Unknown invite code.", param="code")
        return owner

    async def _user(self, user_id: int) -> User:
        async with self.db.session() as session:
            user = await session.get(User, user_id)
        if user is None:
            raise NotFound(f"No user with id {user_id}.")
        return user

    async def _claim(self, inviter_id: int, invitee_id: int, box: str | None) -> _Claim:
        """Record the referral, holding the invitee's mailbox ``box`` if it is to pay.

        The unique ``invitee_id`` makes a second referral of an account fail (400); the
        unique ``mailbox`` makes a second reward of a mailbox fail, even between racing
        variants: the referral is then recorded without it, and pays nothing.
        """
        try:
            async with self.db.session() as session, session.begin():
                row = Referral(
                    inviter_id=inviter_id, invitee_id=invitee_id, rewarded=False, mailbox=box
                )
                session.add(row)
        except IntegrityError as exc:
            if box is not None:  # the mailbox was rewarded before, or the account referred
                return await self._claim(inviter_id, invitee_id, None)
            raise InvalidRequest(
                "An invite code has already been applied to this account.", param="code"
            ) from exc
        return _Claim(row.id, rewardable=box is not None)

    async def offer(self) -> ReferralOffer:
        """The reward's terms: the package type as stored, or as it will be created."""
        rules, new = self.rules, self.new_type
        found = await self.packages.type_named(rules.package_type)
        limited = bool(rules.allowed_domains or rules.denied_domains)
        if found is None:
            return ReferralOffer(
                rules.package_type,
                new.amount,
                new.validity_days,
                new.scope_routes,
                (),
                rules.redeem_days,
                limited,
            )
        return ReferralOffer(
            found.name,
            found.amount,
            found.validity_days,
            tuple(str(r) for r in found.scope_routes),
            tuple(str(m) for m in found.scope_models),
            rules.redeem_days,
            limited,
        )

    async def _package_type_id(self, name: str) -> int:
        """The reward's package type, created with the default terms if it is missing."""
        found = await self.packages.type_named(name)
        if found is not None:
            return found.id
        fields = {
            "name": name,
            "amount": self.new_type.amount,
            "scope_routes": list(self.new_type.scope_routes),
            "scope_models": [],
            "validity_days": self.new_type.validity_days,
        }
        try:
            return (await self.packages.create_type(fields)).id
        except InvalidRequest:  # created concurrently
            found = await self.packages.type_named(name)
            if found is None:
                raise
            return found.id
