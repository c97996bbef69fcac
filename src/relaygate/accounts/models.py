"""Tables of the accounts capability."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, ForeignKey, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from relaygate.core.clock import utcnow
from relaygate.db.base import Base, UTCDateTime

__all__ = ["ApiKey", "AuditEntry", "Passkey", "User"]


class User(Base):
    __tablename__ = "users"
    __table_args__ = {"sqlite_autoincrement": True}  # ids never reused (migration 0012)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    is_operator: Mapped[bool] = mapped_column(Boolean, default=False)
    is_disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    # the pricing group ("" = none): settings.group_multipliers prices its calls
    group: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ApiKey(Base):
    """An API key. Only its SHA-256 digest is stored; ``hint`` is safe to show."""

    __tablename__ = "api_keys"
    __table_args__ = {"sqlite_autoincrement": True}  # ids never reused (migration 0012)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    hint: Mapped[str] = mapped_column(String(20))
    remark: Mapped[str] = mapped_column(String(500), default="")
    # None: every model; a list: only these public model names.
    permissions: Mapped[list[Any] | None] = mapped_column(JSON, nullable=True, default=None)
    expired_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True, default=None)
    is_disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    # Spend cap and counters in micro-units; 0 means no cap.
    max_fee: Mapped[int] = mapped_column(BigInteger, default=0)
    used_fee: Mapped[int] = mapped_column(BigInteger, default=0)
    used_times: Mapped[int] = mapped_column(BigInteger, default=0)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True, default=None)
    # the key's own limits (None: only the user's tier applies)
    rpm_limit: Mapped[int | None] = mapped_column(Integer, nullable=True, default=None)
    tpm_limit: Mapped[int | None] = mapped_column(Integer, nullable=True, default=None)
    concurrency_limit: Mapped[int | None] = mapped_column(Integer, nullable=True, default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # what made the key: "" (a person or the API), "playground" (the console's: one per
    # user, its secret rotated at every playground visit; migration 0019). Lists of keys
    # show only "" keys; the bills name every key.
    purpose: Mapped[str] = mapped_column(String(16), default="", server_default="")


class LoginToken(Base):
    """A single-use magic-link token; only its SHA-256 digest is stored."""

    __tablename__ = "login_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(320), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # the inviter's code given at login, applied when the token creates the user
    invite_code: Mapped[str | None] = mapped_column(String(16), nullable=True, default=None)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True, default=None)


class LoginSession(Base):
    """A browser session opened by a sign-in; only its id's SHA-256 digest is stored.

    Revoking deletes the row, so a revoked session is refused at the next request.
    """

    __tablename__ = "sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    csrf_secret: Mapped[str] = mapped_column(String(64), default="")
    user_agent: Mapped[str] = mapped_column(String(200), default="")
    ip: Mapped[str] = mapped_column(String(64), default="")


class InviteCode(Base):
    """A user's public invite code (8 characters, A-Z and 0-9)."""

    __tablename__ = "invite_codes"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    code: Mapped[str] = mapped_column(String(16), unique=True)


class Referral(Base):
    """Who invited whom; at most one row per invitee, so one reward per invitee, and at
    most one rewarded row per mailbox (``mailbox``, set only on a row that earns the
    reward; unique, so address variants cannot be rewarded twice, even racing)."""

    __tablename__ = "referrals"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    inviter_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    invitee_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    rewarded: Mapped[bool] = mapped_column(Boolean, default=False)
    # the invitee's mailbox (accounts.signup.mailbox) when this referral earns the reward
    mailbox: Mapped[str | None] = mapped_column(
        String(320), unique=True, nullable=True, default=None
    )


class Passkey(Base):
    """A WebAuthn credential a user registered to sign in with (accounts/passkeys.py).

    ``credential_id`` is the authenticator's id for it (base64url, unique across users),
    ``public_key`` the COSE key its assertions are checked against, ``sign_count`` the
    authenticator's counter at the last use (a counter that goes back means a cloned
    authenticator: refused)."""

    __tablename__ = "passkeys"
    __table_args__ = {"sqlite_autoincrement": True}

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    credential_id: Mapped[str] = mapped_column(String(1400), unique=True)
    public_key: Mapped[bytes] = mapped_column(LargeBinary)
    sign_count: Mapped[int] = mapped_column(BigInteger, default=0)
    transports: Mapped[list[Any]] = mapped_column(JSON, default=list)
    name: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True, default=None)


class AuditEntry(Base):
    """One change made to the platform: who (``actor_id``; None: the system or the
    config file), to whose account (``subject_user_id``; None: platform-wide, a channel
    or a price), what (``action``, e.g. ``key.create``) and the details (no secrets)."""

    __tablename__ = "audit_log"
    __table_args__ = {"sqlite_autoincrement": True}

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    subject_user_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    action: Mapped[str] = mapped_column(String(64))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
