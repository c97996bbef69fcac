"""Tables of the OAuth capability: apps, authorization codes, access tokens and the
idempotency records of the charges apps make."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from relaygate.core.clock import utcnow
from relaygate.db.base import Base, UTCDateTime

__all__ = ["OAuthApp", "OAuthCharge", "OAuthCode", "OAuthToken"]


class OAuthApp(Base):
    """A developer's registered app. The secret is kept only as its SHA-256."""

    __tablename__ = "oauth_apps"
    __table_args__ = {"sqlite_autoincrement": True}

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    client_id: Mapped[str] = mapped_column(String(24), unique=True)
    secret_hash: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(100))
    logo_url: Mapped[str] = mapped_column(String(500), default="")
    homepage: Mapped[str] = mapped_column(String(500), default="")
    redirect_domains: Mapped[list[Any]] = mapped_column(JSON, default=list)
    scope: Mapped[str] = mapped_column(String(200))
    public: Mapped[bool] = mapped_column(Boolean, default=False)  # PKCE required
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class OAuthCode(Base):
    """An authorization code: single use, short-lived, bound to what it was issued for.
    A second exchange of a used code revokes the token the first one issued."""

    __tablename__ = "oauth_codes"
    __table_args__ = {"sqlite_autoincrement": True}

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    app_id: Mapped[int] = mapped_column(ForeignKey("oauth_apps.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    redirect_uri: Mapped[str] = mapped_column(String(2000), default="")
    scope: Mapped[str] = mapped_column(String(200))
    challenge: Mapped[str] = mapped_column(String(128), default="")  # PKCE S256, "" = none
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class OAuthToken(Base):
    """An access token ``omg-oat-v1-…`` (kept as its SHA-256); no expiry (§5.1), revocable.

    ``api_key_id``: the API key (``purpose`` "oauth", the same digest) that makes the token
    work on the relay and the key routes, when the scope has ``general_api_access``;
    ``admin_key_id``: the management key handed to the app (``admin_token`` scope).
    Revoking the token disables both in the same transaction (migration 0025)."""

    __tablename__ = "oauth_tokens"
    __table_args__ = {"sqlite_autoincrement": True}

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    app_id: Mapped[int] = mapped_column(ForeignKey("oauth_apps.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    code_id: Mapped[int] = mapped_column(Integer, index=True)
    scope: Mapped[str] = mapped_column(String(200))
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    api_key_id: Mapped[int | None] = mapped_column(Integer, nullable=True, default=None)
    admin_key_id: Mapped[int | None] = mapped_column(Integer, nullable=True, default=None)


class OAuthCharge(Base):
    """One charge an app made, keyed by (app, user, idempotency key): written in the
    charge's own transaction, so a repeated key finds it and answers the first result."""

    __tablename__ = "oauth_charges"
    __table_args__ = (
        UniqueConstraint("app_id", "user_id", "idempotency_key"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    app_id: Mapped[int] = mapped_column(Integer, index=True)
    user_id: Mapped[int] = mapped_column(Integer)
    idempotency_key: Mapped[str] = mapped_column(String(100))
    amount: Mapped[int] = mapped_column(BigInteger)
    commission: Mapped[int] = mapped_column(BigInteger)
    balance_after: Mapped[int] = mapped_column(BigInteger)
    remark: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
