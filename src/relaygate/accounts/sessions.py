"""Browser sessions: the opaque id behind the console's cookie, and its CSRF secret.

Why server-side sessions rather than signed cookies: a user can see their sessions and
revoke one, and a revoked session must be refused at the very next request; only a row
that can be deleted gives that. The id is 256 random bits, stored only as its SHA-256
digest, so a leaked table opens no session.

Rotation: :meth:`BrowserSessions.create` always makes a new id, and sign-in ends the
session the browser presented (if any), so an id planted before sign-in (session
fixation) never becomes a signed-in session. A session ends at ``expires_at`` (absolute,
``session_days``) or when unused for ``idle`` (``session_idle_days``); ``last_seen_at``
is written at most once a minute, so browsing does not write a row per page.

CSRF: each session has its own random secret; a state-changing request must echo it
(form field ``csrf_token`` or header ``X-CSRF-Token``). A cross-site page can make the
browser send the cookie but cannot read the secret.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update

from relaygate.accounts.models import LoginSession, User
from relaygate.core.clock import utcnow
from relaygate.core.ids import hash_key
from relaygate.db.engine import Database

__all__ = [
    "COOKIE",
    "CSRF_FIELD",
    "CSRF_HEADER",
    "SESSION_PREFIX",
    "ActiveSession",
    "BrowserSessions",
    "OpenedSession",
    "SessionClient",
    "SessionInfo",
    "csrf_matches",
]

COOKIE = "rg_session"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
SESSION_PREFIX = "rgs_"
_TOUCH_EVERY = timedelta(minutes=1)
_AGENT_CHARS = 200
_IP_CHARS = 64


@dataclass(frozen=True, slots=True)
class SessionClient:
    """What the session list shows to tell sessions apart (never used to authenticate)."""

    user_agent: str = ""
    ip: str = ""


@dataclass(frozen=True, slots=True)
class OpenedSession:
    """A new session: ``token`` goes into the cookie, once; only its digest is kept."""

    session_id: int
    token: str
    csrf_token: str
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class ActiveSession:
    """A live session and the user behind it, as a request sees them."""

    session_id: int
    user_id: int
    email: str
    is_operator: bool
    group: str
    csrf_token: str


@dataclass(frozen=True, slots=True)
class SessionInfo:
    """One line of the user's session list."""

    session_id: int
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime
    user_agent: str
    ip: str


def csrf_matches(active: ActiveSession, presented: str | None) -> bool:
    """Whether ``presented`` is the session's CSRF secret (compared in constant time)."""
    if not presented or not active.csrf_token:
        return False
    return hmac.compare_digest(presented.encode(), active.csrf_token.encode())


class BrowserSessions:
    """Use cases of browser sessions; owns its transactions, as every service does."""

    def __init__(
        self, db: Database, ttl: timedelta, idle: timedelta, cookie_secure: bool = False
    ) -> None:
        self.db = db
        self.ttl = ttl
        self.idle = idle
        self.cookie_secure = cookie_secure  # Secure cookies on http too (behind a TLS proxy)

    async def create(
        self, user_id: int, client: SessionClient, replacing: str | None = None
    ) -> OpenedSession:
        """A new session for ``user_id``; the presented one (``replacing``) and the user's
        ended sessions are deleted in the same transaction."""
        now = utcnow()
        token = SESSION_PREFIX + secrets.token_urlsafe(32)
        row = LoginSession(
            user_id=user_id,
            token_hash=hash_key(token),
            expires_at=now + self.ttl,
            created_at=now,
            last_seen_at=now,
            csrf_secret=secrets.token_urlsafe(32),
            user_agent=client.user_agent[:_AGENT_CHARS],
            ip=client.ip[:_IP_CHARS],
        )
        async with self.db.session() as session, session.begin():
            if replacing:
                await session.execute(
                    delete(LoginSession).where(LoginSession.token_hash == hash_key(replacing))
                )
            await session.execute(
                delete(LoginSession).where(
                    LoginSession.user_id == user_id,
                    (LoginSession.expires_at <= now)
                    | (LoginSession.last_seen_at <= now - self.idle),
                )
            )
            session.add(row)
            await session.flush()
            session_id = row.id
        return OpenedSession(session_id, token, row.csrf_secret, row.expires_at)

    async def resolve(self, token: str | None) -> ActiveSession | None:
        """The live session behind ``token``, or None (unknown, revoked, expired, idle, or
        its user disabled). Touches ``last_seen_at`` at most once a minute."""
        if not token or not token.startswith(SESSION_PREFIX):
            return None
        now = utcnow()
        async with self.db.session() as session:
            found = (
                await session.execute(
                    select(LoginSession, User)
                    .join(User, User.id == LoginSession.user_id)
                    .where(LoginSession.token_hash == hash_key(token))
                )
            ).first()
        if found is None:
            return None
        row, user = found.tuple()
        if row.expires_at <= now or row.last_seen_at <= now - self.idle or user.is_disabled:
            return None
        if now - row.last_seen_at >= _TOUCH_EVERY:
            await self._touch(row.id, now)
        return ActiveSession(
            row.id, user.id, user.email, user.is_operator, user.group, row.csrf_secret
        )

    async def _touch(self, session_id: int, now: datetime) -> None:
        async with self.db.session() as session, session.begin():
            await session.execute(
                update(LoginSession).where(LoginSession.id == session_id).values(last_seen_at=now)
            )

    async def active(self, user_id: int) -> list[SessionInfo]:
        """The user's live sessions, the most recently used first."""
        now = utcnow()
        async with self.db.session() as session:
            rows = await session.scalars(
                select(LoginSession)
                .where(
                    LoginSession.user_id == user_id,
                    LoginSession.expires_at > now,
                    LoginSession.last_seen_at > now - self.idle,
                )
                .order_by(LoginSession.last_seen_at.desc(), LoginSession.id.desc())
            )
            return [
                SessionInfo(r.id, r.created_at, r.last_seen_at, r.expires_at, r.user_agent, r.ip)
                for r in rows
            ]

    async def revoke(self, user_id: int, session_id: int) -> bool:
        """End one of the user's sessions; False when it is not theirs or already gone."""
        async with self.db.session() as session, session.begin():
            done = await session.execute(
                delete(LoginSession).where(
                    LoginSession.id == session_id, LoginSession.user_id == user_id
                )
            )
        return bool(getattr(done, "rowcount", 0))

    async def revoke_all(self, user_id: int, keep: int | None = None) -> None:
        """End every session of the user, but ``keep`` (the one making the request)."""
        query = delete(LoginSession).where(LoginSession.user_id == user_id)
        if keep is not None:
            query = query.where(LoginSession.id != keep)
        async with self.db.session() as session, session.begin():
            await session.execute(query)

    async def end(self, token: str | None) -> None:
        """Sign out: the session behind ``token`` is deleted (nothing when unknown)."""
        if not token:
            return
        async with self.db.session() as session, session.begin():
            await session.execute(
                delete(LoginSession).where(LoginSession.token_hash == hash_key(token))
            )
