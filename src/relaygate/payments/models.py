"""Tables of the payments capability: top-up orders and the webhook events already seen."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from relaygate.core.clock import utcnow
from relaygate.db.base import Base, UTCDateTime

__all__ = ["Order", "WebhookEvent"]


class Order(Base):
    """One top-up. ``state`` moves created → paid | expired | failed, paid → refunded |
    disputed, and disputed → paid (or refunded) when the dispute is won (service.py); the
    ledger changes only in the transactions that move it."""

    __tablename__ = "payment_orders"
    __table_args__ = (
        Index("ix_payment_orders_user", "user_id", "id"),
        Index("ix_payment_orders_state", "state", "id"),
        Index("ix_payment_orders_provider_ref", "provider", "provider_ref", unique=True),
        Index("ix_payment_orders_payment_ref", "provider", "payment_ref"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    provider: Mapped[str] = mapped_column(String(32))
    method: Mapped[str] = mapped_column(String(16))  # "checkout" or "invoice"
    provider_ref: Mapped[str | None] = mapped_column(String(255), nullable=True)  # cs_…, in_…
    payment_ref: Mapped[str | None] = mapped_column(String(255), nullable=True)  # pi_…
    pay_url: Mapped[str] = mapped_column(String(2000), default="")
    receipt_url: Mapped[str] = mapped_column(String(2000), default="")
    amount: Mapped[int] = mapped_column(BigInteger)  # micro-units credited when paid
    amount_minor: Mapped[int] = mapped_column(BigInteger)  # the provider's minor units
    currency: Mapped[str] = mapped_column(String(8))
    refunded_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    disputed_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    state: Mapped[str] = mapped_column(String(16), default="created")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    paid_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class WebhookEvent(Base):
    """A provider event processed (or waiting for its order to be paid). The primary key
    is the provider's event id, so a replay or a concurrent duplicate cannot insert twice;
    the insert commits with whatever the event changed."""

    __tablename__ = "payment_webhook_events"
    __table_args__ = (Index("ix_payment_webhook_events_waiting", "provider", "waiting_for"),)

    provider: Mapped[str] = mapped_column(String(32), primary_key=True)
    event_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    type: Mapped[str] = mapped_column(String(100))
    outcome: Mapped[str] = mapped_column(String(32))  # applied, ignored, waiting, done-late
    waiting_for: Mapped[str | None] = mapped_column(String(255), nullable=True)  # a pi_…
    order_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
