"""Signing up and in by email: magic-link tokens, console sessions and invite codes.

Why magic links: the platform has no passwords to leak or reset; owning the mailbox is the
credential. A login token is random, stored only as a SHA-256 digest, valid for 15 minutes
and consumed by one conditional UPDATE, so two racing clicks cannot both succeed. Verifying
creates the user on first use and opens a session (a random token, also stored hashed; a
new one on each sign-in, since a stored digest cannot be handed out again).

Every user has an 8-character invite code (A-Z, 0-9), made when the user is created or
lazily on first request. Rewards for invites live in ``billing.referrals`` (billing sits
above accounts); this module tells it about new users through ``on_new_user`` listeners,
wired in the composition root.

The pure rules (code format, email normalisation, the mailbox behind an address, referral
eligibility of an address) are module functions so they are unit-tested without a
database. An account is keyed by its trimmed, lower-cased address; the mailbox
(:func:`mailbox`) only limits referral rewards and sign-in links.
"""

from __future__ import annotations

import secrets
import string
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, cast

from sqlalchemy import func, select, update
from sqlalchemy.engine import CursorResult
from sqlalchemy.exc import IntegrityError

from relaygate.accounts.mailer import Mailer
from relaygate.accounts.models import InviteCode, LoginToken, Referral, User
from relaygate.accounts.sessions import SESSION_PREFIX, BrowserSessions, SessionClient
from relaygate.core.clock import utcnow
from relaygate.core.errors import AuthenticationFailed, InvalidRequest, PermissionDenied
from relaygate.core.ids import hash_key
from relaygate.db.engine import Database

__all__ = [
    "INVITE_ALPHABET",
    "INVITE_LENGTH",
    "SESSION_PREFIX",
    "Invite",
    "NewUser",
    "SignupService",
    "Verified",
    "email_disqualification",
    "is_invite_code",
    "mailbox",
    "new_invite_code",
    "normalise_email",
    "normalise_invite_code",
    "same_mailbox",
]

INVITE_ALPHABET = string.ascii_uppercase + string.digits
INVITE_LENGTH = 8
_ATTEMPTS = 5  # retries after a unique-key race (same new user, or a code collision)


# ---------------------------------------------------------------- pure rules


def new_invite_code() -> str:
    return "".join(secrets.choice(INVITE_ALPHABET) for _ in range(INVITE_LENGTH))


def is_invite_code(text: str) -> bool:
    return len(text) == INVITE_LENGTH and all(c in INVITE_ALPHABET for c in text)


def normalise_invite_code(text: str) -> str | None:
    """The code in canonical form (trimmed, upper case), or None if it cannot be one."""
    code = text.strip().upper()
    return code if is_invite_code(code) else None


def normalise_email(text: str) -> str:
    """Trimmed and lower-cased; raises :class:`InvalidRequest` if it is not an address."""
    email = text.strip().lower()
    local, at, domain = email.rpartition("@")
    if not at or not local or "." not in domain or len(email) > 320 or " " in email:
        raise InvalidRequest("'email' must be an email address.", param="email")
    return email


def _domain(email: str) -> str:
    return email.rpartition("@")[2].lower()


def _domain_in(domain: str, listed: list[str]) -> bool:
    """True when ``domain`` is a listed domain or one of its subdomains."""
    return any(domain == d or domain.endswith("." + d) for d in (x.lower() for x in listed))


def email_disqualification(email: str, allowed: list[str], denied: list[str]) -> str | None:
    """Why ``email`` earns no referral reward, or None when it qualifies.

    Disposable mailboxes make rewards free to farm, so operators deny their domains (or
    allow only some); an empty allow-list allows every domain not denied.
    """
    domain = _domain(email)
    if _domain_in(domain, denied):
        return f"email domain {domain} is not eligible for referral rewards"
    if allowed and not _domain_in(domain, allowed):
        return f"email domain {domain} is not eligible for referral rewards"
    return None


_GMAIL = "gmail.com"
_GMAIL_DOMAINS = frozenset({_GMAIL, "googlemail.com"})


def mailbox(email: str) -> str:
    """The mailbox an address reaches, for the one-reward-per-mailbox rule.

    Lower-cased; a ``+tag`` in the local part is dropped for every domain (most
    providers deliver ``me+tag@`` to ``me@``); for Gmail, whose two domains are one,
    ``googlemail.com`` becomes ``gmail.com`` and dots in the local part are dropped
    (``B.o.b+2@googlemail.com`` is ``bob@gmail.com``). Used only to *deny* rewards and
    to throttle sign-in links, never to merge accounts: on a domain where ``me+tag@`` is
    someone else's mailbox, treating them as one would hand over an account.
    """
    local, _, domain = email.strip().lower().rpartition("@")
    local = local.split("+", 1)[0]
    if domain in _GMAIL_DOMAINS:
        domain, local = _GMAIL, local.replace(".", "")
    return f"{local}@{domain}"


def same_mailbox(a: str, b: str) -> bool:
    """Whether two addresses reach the same mailbox (:func:`mailbox`), so
    ``b.o.b+2@gmail.com`` cannot invite ``bob@gmail.com``."""
    return mailbox(a) == mailbox(b)


def _secret() -> str:
    return secrets.token_urlsafe(32)


# ---------------------------------------------------------------- service


@dataclass(frozen=True, slots=True)
class Verified:
    user_id: int
    email: str
    session_token: str
    csrf_token: str
    is_new: bool


@dataclass(frozen=True, slots=True)
class NewUser:
    """Told to ``on_new_user`` listeners after a magic link created a user."""

    user_id: int
    email: str
    invite_code: str | None


@dataclass(frozen=True, slots=True)
class Invite:
    code: str
    invited: int


@dataclass(frozen=True, slots=True)
class _SignedIn:
    user_id: int
    email: str
    is_new: bool


NewUserListener = Callable[[NewUser], Awaitable[None]]
BAD_LINK = "This sign-in link is invalid, already used or expired."


class SignupService:
    """Use cases of email sign-in; owns its transactions, as every service does."""

    def __init__(
        self,
        db: Database,
        mailer: Mailer,
        public_base: str,
        sessions: BrowserSessions,
        token_ttl: timedelta = timedelta(minutes=15),
    ) -> None:
        self.db = db
        self.mailer = mailer
        self.public_base = public_base.rstrip("/")
        self.sessions = sessions
        self.token_ttl = token_ttl
        self._listeners: list[NewUserListener] = []

    def on_new_user(self, listener: NewUserListener) -> None:
        self._listeners.append(listener)

    async def request_login(self, email: str, invite_code: str | None) -> None:
        """Store a fresh token and mail its link. Answers the same whether or not the
        address has an account; only a malformed address or unknown invite code fail."""
        email = normalise_email(email)
        code = await self._known_code(invite_code) if invite_code else None
        link = await self.sign_in_link(email, code)
        await self.mailer.send_login_link(email, link, int(self.token_ttl.total_seconds() // 60))

    async def sign_in_link(self, email: str, invite_code: str | None = None) -> str:
        """A fresh one-use link to the console's sign-in page, not mailed: ``request_login``
        mails it, and the start-up prints one for the operator."""
        token = _secret()
        async with self.db.session() as session, session.begin():
            session.add(
                LoginToken(
                    email=email.strip(),  # as given: the operator's may be ``@localhost``
                    token_hash=hash_key(token),
                    invite_code=invite_code,
                    expires_at=utcnow() + self.token_ttl,
                )
            )
        return f"{self.public_base}/console/auth?token={token}"

    async def _known_code(self, text: str) -> str:
        code = normalise_invite_code(text)
        if code is None or await self.code_owner(code) is None:
            raise InvalidRequest("Unknown invite code.", param="invite_code")
        return code

    async def verify(
        self, token: str, client: SessionClient | None = None, replacing: str | None = None
    ) -> Verified:
        """Consume the token, create the user if new, open a session (a new id always; the
        presented one, ``replacing``, ends), tell listeners."""
        if not token:
            raise InvalidRequest(BAD_LINK, param="token")
        signed_in, invite_code = await self._verify_retrying(hash_key(token))
        opened = await self.sessions.create(
            signed_in.user_id, client or SessionClient(), replacing=replacing
        )
        verified = Verified(
            signed_in.user_id, signed_in.email, opened.token, opened.csrf_token, signed_in.is_new
        )
        if verified.is_new:
            new = NewUser(verified.user_id, verified.email, invite_code)
            for listener in self._listeners:
                await listener(new)
        return verified

    async def _verify_retrying(self, digest: str) -> tuple[_SignedIn, str | None]:
        """Retry after a unique-key race: the same address signing up twice at once, or a
        new invite code clashing with an existing one (both roll the whole step back)."""
        for attempt in range(_ATTEMPTS):
            try:
                return await self._verify_once(digest)
            except IntegrityError:
                if attempt == _ATTEMPTS - 1:
                    raise
        raise AssertionError("unreachable")

    async def _verify_once(self, digest: str) -> tuple[_SignedIn, str | None]:
        now = utcnow()
        async with self.db.session() as session, session.begin():
            consumed = await session.execute(
                update(LoginToken)
                .where(
                    LoginToken.token_hash == digest,
                    LoginToken.used_at.is_(None),
                    LoginToken.expires_at > now,
                )
                .values(used_at=now)
            )
            if cast(CursorResult[Any], consumed).rowcount != 1:
                raise InvalidRequest(BAD_LINK, param="token")
            row = await session.scalar(select(LoginToken).where(LoginToken.token_hash == digest))
            assert row is not None
            user = await session.scalar(select(User).where(User.email == row.email))
            is_new = user is None
            if user is None:
                user = User(email=row.email)
                session.add(user)
                await session.flush()
                session.add(InviteCode(user_id=user.id, code=new_invite_code()))
            if user.is_disabled:
                raise PermissionDenied("This account is disabled.")
        return _SignedIn(user.id, user.email, is_new), row.invite_code

    async def session_user(self, token: str) -> int:
        """The user behind a live session token, or :class:`AuthenticationFailed`."""
        active = await self.sessions.resolve(token)
        if active is None:
            raise AuthenticationFailed("This session is unknown or has expired.")
        return active.user_id

    async def code_owner(self, code: str) -> User | None:
        async with self.db.session() as session:
            return await session.scalar(
                select(User)
                .join(InviteCode, InviteCode.user_id == User.id)
                .where(InviteCode.code == code)
            )

    async def invite(self, user_id: int) -> Invite:
        """The user's invite code (made now if missing) and how many users it brought."""
        code = await self._code_of(user_id)
        async with self.db.session() as session:
            invited = await session.scalar(
                select(func.count()).select_from(Referral).where(Referral.inviter_id == user_id)
            )
        return Invite(code, int(invited or 0))

    async def _code_of(self, user_id: int) -> str:
        for attempt in range(_ATTEMPTS):
            async with self.db.session() as session:
                row = await session.get(InviteCode, user_id)
            if row is not None:
                return row.code
            code = new_invite_code()
            try:
                async with self.db.session() as session, session.begin():
                    session.add(InviteCode(user_id=user_id, code=code))
                return code
            except IntegrityError:  # made concurrently, or a code collision: read again
                if attempt == _ATTEMPTS - 1:
                    raise
        raise AssertionError("unreachable")
