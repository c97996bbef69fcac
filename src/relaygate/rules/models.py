"""The table of the users' override rules (docs/rules.md).

A rule's ``match`` and ``actions`` are stored as one JSON document (the wire shape of
``rules.schema.RuleDoc``), validated before every write; the columns beside it are what
listings filter and order on (name, enabled, priority).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    ForeignKey,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from relaygate.core.clock import utcnow
from relaygate.db.base import Base, UTCDateTime

__all__ = ["OverrideRule", "OverrideRuleHit"]


class OverrideRule(Base):
    __tablename__ = "override_rules"
    __table_args__ = (
        UniqueConstraint("user_id", "name"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(64))
    description: Mapped[str] = mapped_column(String(500), default="")
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    priority: Mapped[int] = mapped_column(Integer, default=100)  # lower runs first
    document: Mapped[dict[str, Any]] = mapped_column(JSON)  # {"match": {...}, "actions": [...]}
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class OverrideRuleHit(Base):
    """A rule's hits on one day (UTC), written in batches by the relay side (migration
    0024); read here for the statistics. No foreign key: a deleted rule's days may stay
    until they age out, and the writer never waits on a lookup."""

    __tablename__ = "override_rule_hits"

    rule_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    user_id: Mapped[int] = mapped_column(Integer, index=True)
    hits: Mapped[int] = mapped_column(BigInteger, default=0)
    last_hit_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
