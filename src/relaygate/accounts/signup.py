"""Signing up and in by email: magic-link tokens, console sessions and invite codes.

Why magic links: the platform has no passwords to leak or reset; owning the mailbox is the
credential. A login token is random, stored only as a SHA-256 digest, valid for
``login_token_minutes`` (15) and consumed by one conditional UPDATE, so two racing clicks
cannot both succeed. Verifying creates the user on first use and opens a session (a random
token, also stored hashed; a new one on each sign-in, since a stored digest cannot be
handed out again).

Asking for a link tells the caller nothing about the address (docs/sign-in.md): the answer
is the same, after about the same work, for a new address, an account, a disabled account
(which is sent no mail) and a throttled request (:class:`LoginLimits`, per mailbox and
per client IP); the mail itself is sent after the answer, in a task this
service owns, so neither a slow nor a failing mail server shows in the answer.

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

import asyncio
import logging
import secrets
import string
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, cast

from sqlalchemy import func, select, update
from sqlalchemy.engine import CursorResult
from sqlalchemy.exc import IntegrityError

from relaygate.accounts.mail_text import login_mail
from relaygate.accounts.mailer import Mailer
from relaygate.accounts.models import InviteCode, LoginToken, Referral, User
from relaygate.accounts.sessions import SESSION_PREFIX, BrowserSessions, SessionClient
from relaygate.core.clock import utcnow
from relaygate.core.errors import AuthenticationFailed, InvalidRequest, PermissionDenied
from relaygate.core.ids import hash_key
from relaygate.db.engine import Database
from relaygate.kv.protocols import RateCounter, RateHit

__all__ = [
    "INVITE_ALPHABET",
    "INVITE_LENGTH",
    "SESSION_PREFIX",
    "Invite",
    "LoginLimits",
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
LINK_PATH = "/console/auth"  # the console page that confirms, then consumes, a link

log = logging.getLogger(__name__)


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
class LoginLimits:
    """Sign-in links asked for, per window: per mailbox (so ``me+1@`` and ``m.e@gmail``
    count together and nobody is mail-bombed through us) and per client IP (so one
    client cannot spray links at many addresses). 0 turns a limit off."""

    per_address_per_minute: int = 5
    per_ip_per_minute: int = 10
    per_ip_per_hour: int = 50

    def hits(self, email: str, client_ip: str | None) -> list[RateHit]:
        hits = [RateHit(f"login:mailbox:{mailbox(email)}", 60, 1, self.per_address_per_minute)]
        if client_ip:
            hits.append(RateHit(f"login:ip:{client_ip}:m", 60, 1, self.per_ip_per_minute))
            hits.append(RateHit(f"login:ip:{client_ip}:h", 3600, 1, self.per_ip_per_hour))
        return [hit for hit in hits if hit.limit]


@dataclass(frozen=True, slots=True)
class _SignedIn:
    user_id: int
    email: str
    is_new: bool


NewUserListener = Callable[[NewUser], Awaitable[None]]
BAD_LINK = "This sign-in link is invalid, already used or expired."


class SignupService:
    """Use cases of email sign-in; owns its transactions, as every service does."""

    def __init__(  # noqa: PLR0913 - the composition root passes each setting by name
        self,
        db: Database,
        mailer: Mailer,
        public_base: str,
        sessions: BrowserSessions,
        token_ttl: timedelta = timedelta(minutes=15),
        *,
        rates: RateCounter | None = None,
        limits: LoginLimits = LoginLimits(),
        site: str = "Relaygate",
    ) -> None:
        self.db = db
        self.mailer = mailer
        self.public_base = public_base.rstrip("/")
        self.sessions = sessions
        self.token_ttl = token_ttl
        self.rates = rates
        self.limits = limits
        self.site = site
        self._listeners: list[NewUserListener] = []
        self._sending: set[asyncio.Task[bool]] = set()

    def on_new_user(self, listener: NewUserListener) -> None:
        self._listeners.append(listener)

    async def request_login(
        self,
        email: str,
        invite_code: str | None,
        *,
        locale: str = "en",
        client_ip: str | None = None,
    ) -> None:
        """Store a fresh token and mail its link, in ``locale``. Answers the same whether
        the address is new, has an account, a disabled one, or is throttled; only a
        malformed address or an unknown invite code fail (see module docs)."""
        email = normalise_email(email)
        code = await self._known_code(invite_code) if invite_code else None
        if not await self._within_limits(email, client_ip):
            return
        token, disabled = await self._store_token(email, code)
        if disabled:
            log.info("no sign-in mail for %s: the account is disabled", email)
            return
        minutes = int(self.token_ttl.total_seconds() // 60)
        mail = login_mail(email, self.link(token), minutes, locale, self.site)
        task = asyncio.create_task(self.mailer.send(mail), name="sign-in mail")
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)

    async def issue_link(self, email: str) -> str:
        """A sign-in link for ``email`` handed to the caller, not mailed and not counted
        in the limits: for the operator's own start-up link (``make run``) and tools."""
        token, _ = await self._store_token(email.strip().lower(), None)  # no dot needed: @localhost
        return self.link(token)

    async def _store_token(self, email: str, code: str | None) -> tuple[str, bool]:
        """A new token for ``email`` and whether the address's account is disabled (the
        lookup is made for every address, so each request does the same work)."""
        token = _secret()
        async with self.db.session() as session, session.begin():
            disabled = await session.scalar(select(User.is_disabled).where(User.email == email))
            session.add(
                LoginToken(
                    email=email.strip(),  # as given: the operator's may be ``@localhost``
                    token_hash=hash_key(token),
                    invite_code=code,
                    expires_at=utcnow() + self.token_ttl,
                )
            )
        return token, bool(disabled)

    def link(self, token: str) -> str:
        """The mailed link: the console's confirm page, which consumes the token only on
        its POST, so a mail scanner that prefetches the link does not burn it."""
        return f"{self.public_base}{LINK_PATH}?token={token}"

    async def _within_limits(self, email: str, client_ip: str | None) -> bool:
        hits = self.limits.hits(email, client_ip)
        if self.rates is None or not hits:
            return True
        counted = await self.rates.hit_many(hits)
        if all(window.allowed for window in counted):
            return True
        log.info("sign-in links for %s (client %s) throttled", email, client_ip)
        return False

    async def aclose(self) -> None:
        """Wait for the mails still being sent (at shutdown)."""
        if self._sending:
            await asyncio.gather(*self._sending, return_exceptions=True)

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

    async def start_session(self, user_id: int, client: SessionClient | None = None) -> Verified:
        """Sign ``user_id`` in by another proof than a mailed link (a passkey): a new
        session, refused for a disabled or missing account."""
        async with self.db.session() as session:
            user = await session.get(User, user_id)
            if user is None or user.is_disabled:
                raise PermissionDenied("This account is disabled.")
            email = user.email
        opened = await self.sessions.create(user_id, client or SessionClient())
        return Verified(user_id, email, opened.token, opened.csrf_token, is_new=False)

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
