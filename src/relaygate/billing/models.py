"""Tables of the billing capability."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    true,
)
from sqlalchemy.orm import Mapped, mapped_column

from relaygate.core.clock import utcnow
from relaygate.db.base import Base, UTCDateTime

__all__ = [
    "LedgerEntry",
    "ModelPrice",
    "Package",
    "PackageType",
    "PlatformConfig",
    "Redemption",
    "RedemptionBatch",
    "RedemptionCode",
    "UsageDaily",
    "UsageRecord",
    "Wallet",
]


class UsageRecord(Base):
    """One relayed call (a bill row), written whether the call succeeded or not."""

    __tablename__ = "usage_records"
    __table_args__ = (
        # the listing's keyset order (newest first), alone and within a user; migration
        # 0013 also makes ix_usage_records_failed, a partial (created_at, id) index over
        # status >= 400 (declaring it here would load every dialect at import)
        Index("ix_usage_records_created_at_id", "created_at", "id"),
        Index("ix_usage_records_user_id_created_at_id", "user_id", "created_at", "id"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    request_id: Mapped[str] = mapped_column(String(40), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    user_id: Mapped[int | None] = mapped_column(Integer)
    key_id: Mapped[int | None] = mapped_column(Integer)  # no index: one less write per call
    model: Mapped[str] = mapped_column(String(200), default="")
    upstream_model: Mapped[str] = mapped_column(String(200), default="")
    channel_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    endpoint: Mapped[str] = mapped_column(String(64))
    status: Mapped[int] = mapped_column(Integer)
    stream: Mapped[bool] = mapped_column(Boolean, default=False)
    prompt_tokens: Mapped[int] = mapped_column(Integer, default=0)
    completion_tokens: Mapped[int] = mapped_column(Integer, default=0)
    cached_tokens: Mapped[int] = mapped_column(Integer, default=0)
    reasoning_tokens: Mapped[int] = mapped_column(Integer, default=0)
    usage_estimated: Mapped[bool] = mapped_column(Boolean, default=False)
    rurt_ms: Mapped[int] = mapped_column(Integer, default=0)
    ttfb_ms: Mapped[int | None] = mapped_column(Integer, nullable=True)
    duration_ms: Mapped[int] = mapped_column(Integer, default=0)
    client_ip: Mapped[str] = mapped_column(String(64), default="")
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    # money, in micro-units: what the call cost at official prices, what was charged to
    # the balance (free part included), and the multiplier applied
    official_cost: Mapped[int] = mapped_column(BigInteger, default=0)
    amount: Mapped[int] = mapped_column(BigInteger, default=0)
    free_amount: Mapped[int] = mapped_column(BigInteger, default=0)
    package_amount: Mapped[int] = mapped_column(BigInteger, default=0)
    multiplier: Mapped[str] = mapped_column(String(32), default="1")
    # how the call was priced: its route group ("" for /v1) and each multiplier applied
    # (exact decimal strings; their product is ``multiplier``)
    route_group: Mapped[str] = mapped_column(String(32), default="")
    model_multiplier: Mapped[str] = mapped_column(String(32), default="1")
    route_multiplier: Mapped[str] = mapped_column(String(32), default="1")
    tier_multiplier: Mapped[str] = mapped_column(String(32), default="1")
    group_multiplier: Mapped[str] = mapped_column(String(32), default="1")
    # upstream calls made (failovers included) and the media units billed (docs/media.md)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    images: Mapped[int] = mapped_column(Integer, default=0)
    characters: Mapped[int] = mapped_column(Integer, default=0)
    audio_ms: Mapped[int] = mapped_column(Integer, default=0)
    # the override rules that fired for the call, as ids "12,15" (docs/rules.md); NULL: none
    rules: Mapped[str | None] = mapped_column(Text, nullable=True)

    @property
    def rule_ids(self) -> tuple[int, ...]:
        """The ids of ``rules``, in the order the rules ran (empty when none fired)."""
        text = self.rules
        if not text:
            return ()
        return tuple(int(part) for part in text.split(",") if part.isascii() and part.isdigit())


class Wallet(Base):
    """A user's money. Changed only together with a ledger entry, in one transaction."""

    __tablename__ = "wallets"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    balance: Mapped[int] = mapped_column(BigInteger, default=0)
    free_balance: Mapped[int] = mapped_column(BigInteger, default=0)
    topped_up_total: Mapped[int] = mapped_column(BigInteger, default=0)
    first_topup_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class LedgerEntry(Base):
    """Append-only: one row per change of a balance. ``SUM(amount) == balance`` and
    ``SUM(free_amount) == free_balance`` for every user, always."""

    __tablename__ = "ledger_entries"
    __table_args__ = (
        UniqueConstraint("kind", "request_id", name="uq_ledger_entries_kind_request_id"),
        # ix_ledger_entries_package_id is a partial index (package_id IS NOT NULL), made
        # by migration 0007; declaring it here would load every dialect at import
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    user_id: Mapped[int] = mapped_column(Integer, index=True)
    kind: Mapped[str] = mapped_column(String(32))
    amount: Mapped[int] = mapped_column(BigInteger, default=0)
    free_amount: Mapped[int] = mapped_column(BigInteger, default=0)
    package_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    package_amount: Mapped[int] = mapped_column(BigInteger, default=0)
    request_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    memo: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ModelPrice(Base):
    """A model's official prices (micro-units per million tokens) and its multiplier."""

    __tablename__ = "model_prices"

    model: Mapped[str] = mapped_column(String(200), primary_key=True)
    input: Mapped[int] = mapped_column(BigInteger, default=0)
    output: Mapped[int] = mapped_column(BigInteger, default=0)
    cached_input: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    cache_write: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    reasoning: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    per_call: Mapped[int] = mapped_column(BigInteger, default=0)
    # media units (docs/media.md): per image, per million characters, per second of audio
    per_image: Mapped[int] = mapped_column(BigInteger, default=0)
    per_character: Mapped[int] = mapped_column(BigInteger, default=0)
    per_second: Mapped[int] = mapped_column(BigInteger, default=0)
    multiplier: Mapped[str] = mapped_column(String(32), default="1")
    flex: Mapped[bool] = mapped_column(Boolean, default=False)
    vip_only: Mapped[bool] = mapped_column(Boolean, default=False)
    source: Mapped[str] = mapped_column(String(16), default="api")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class PackageType(Base):
    """A kind of resource package the operator hands out (e.g. "$20 Claude Code")."""

    __tablename__ = "package_types"
    __table_args__ = {"sqlite_autoincrement": True}  # ids never reused (migration 0012)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    amount: Mapped[int] = mapped_column(BigInteger)  # micro-units at official prices
    scope_routes: Mapped[list[Any]] = mapped_column(JSON, default=list)  # [] = every route
    scope_models: Mapped[list[Any]] = mapped_column(JSON, default=list)  # globs; [] = every model
    validity_days: Mapped[int] = mapped_column(Integer, default=30)
    # False: no longer granted by the operator (migration 0018); packages keep existing
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Package(Base):
    """A package granted to a user: spent first, at official prices, inside its scope.

    ``remaining`` changes only together with a ledger entry (``package_amount``)."""

    __tablename__ = "packages"
    __table_args__ = {"sqlite_autoincrement": True}  # ids never reused (migration 0012)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    type_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    name: Mapped[str] = mapped_column(String(100))
    amount: Mapped[int] = mapped_column(BigInteger)
    remaining: Mapped[int] = mapped_column(BigInteger)
    scope_routes: Mapped[list[Any]] = mapped_column(JSON, default=list)
    scope_models: Mapped[list[Any]] = mapped_column(JSON, default=list)
    source: Mapped[str] = mapped_column(String(32), default="operator")
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class UsageDaily(Base):
    """Usage summed per UTC day, kept by the bill writer in the bills' own transaction.

    ``level`` 0: one user's calls of one model; 1: one user's calls of every model
    (``model`` is ""); 2: every user's calls of one model (``user_id`` is 0). Migration
    0015 rolls up the rows written before it.
    """

    __tablename__ = "usage_daily"
    __table_args__ = {"sqlite_with_rowid": False}  # clustered by the key (migration 0015)

    level: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    user_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    day: Mapped[str] = mapped_column(String(10), primary_key=True)  # YYYY-MM-DD, UTC
    model: Mapped[str] = mapped_column(String(200), primary_key=True)
    calls: Mapped[int] = mapped_column(BigInteger, default=0)
    failed: Mapped[int] = mapped_column(BigInteger, default=0)  # status >= 400
    prompt_tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    completion_tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    amount: Mapped[int] = mapped_column(BigInteger, default=0)
    official_cost: Mapped[int] = mapped_column(BigInteger, default=0)
    package_amount: Mapped[int] = mapped_column(BigInteger, default=0)
    free_amount: Mapped[int] = mapped_column(BigInteger, default=0)


class RedemptionBatch(Base):
    """A batch of redemption codes the operator generated: money or a package each."""

    __tablename__ = "redemption_batches"
    __table_args__ = {"sqlite_autoincrement": True}

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    amount: Mapped[int] = mapped_column(BigInteger, default=0)  # micro-units; 0 with a package
    package_type_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    max_redemptions: Mapped[int] = mapped_column(Integer, default=1)  # per code; 1 = single-use
    quantity: Mapped[int] = mapped_column(Integer)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    created_by: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class RedemptionCode(Base):
    """One code. ``code`` is stored as issued (like a gift card's number), so the operator
    can export the batch again; only the operator routes ever read it back.
    ``used`` moves only by a conditional UPDATE (``used < batch max``)."""

    __tablename__ = "redemption_codes"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    batch_id: Mapped[int] = mapped_column(
        ForeignKey("redemption_batches.id", ondelete="CASCADE"), index=True
    )
    code: Mapped[str] = mapped_column(String(32), unique=True)
    used: Mapped[int] = mapped_column(Integer, default=0)


class Redemption(Base):
    """A code redeemed by a user: once per (code, user), in the ledger's transaction."""

    __tablename__ = "redemptions"
    __table_args__ = (UniqueConstraint("code_id", "user_id", name="uq_redemptions_code_user"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    code_id: Mapped[int] = mapped_column(ForeignKey("redemption_codes.id", ondelete="CASCADE"))
    batch_id: Mapped[int] = mapped_column(Integer, index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    amount: Mapped[int] = mapped_column(BigInteger, default=0)
    package_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class PlatformConfig(Base):
    """An operator's override of a settings default, by name (billing/tier_config.py):
    ``membership_tiers``, ``rate_limit_tiers``, ``referral``. No row: the settings apply."""

    __tablename__ = "platform_config"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[Any] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_by: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
