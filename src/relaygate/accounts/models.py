"""Tables of the accounts capability."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from relaygate.core.clock import utcnow
from relaygate.db.base import Base, UTCDateTime

__all__ = ["ApiKey", "User"]


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    is_operator: Mapped[bool] = mapped_column(Boolean, default=False)
    is_disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ApiKey(Base):
    """An API key. Only its SHA-256 digest is stored; ``hint`` is safe to show."""

    __tablename__ = "api_keys"

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
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
