"""Tables of the payments capability: top-up orders, the webhook events already seen, and
the invoices users ask for on paid orders (docs/invoices.md)."""

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
    LargeBinary,
    String,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from relaygate.core.clock import utcnow
from relaygate.db.base import Base, UTCDateTime

__all__ = [
    "Invoice",
    "InvoiceCounter",
    "InvoiceFile",
    "InvoiceOrder",
    "Order",
    "WebhookEvent",
]


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


class Invoice(Base):
    """A user's request for an invoice on paid orders. ``state`` moves requested → issued |
    rejected | cancelled; ``number`` is set in the transaction that issues it, from
    :class:`InvoiceCounter`, and never changes after. The buyer's details are kept as
    asked, so an issued invoice can always be drawn again exactly."""

    __tablename__ = "invoices"
    __table_args__ = (
        Index("ix_invoices_user", "user_id", "id"),
        Index("ix_invoices_state", "state", "id"),
        Index("ix_invoices_number", "number", unique=True),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    state: Mapped[str] = mapped_column(String(16), default="requested")
    number: Mapped[str | None] = mapped_column(String(40), nullable=True)
    organisation: Mapped[str] = mapped_column(String(200))
    tax_id: Mapped[str] = mapped_column(String(64))
    address: Mapped[str] = mapped_column(String(300), default="")
    bank_name: Mapped[str] = mapped_column(String(200), default="")
    bank_account: Mapped[str] = mapped_column(String(64), default="")
    currency: Mapped[str] = mapped_column(String(8))
    total: Mapped[int] = mapped_column(BigInteger)  # micro-units: the orders' amounts summed
    reason: Mapped[str] = mapped_column(String(500), default="")  # why it was rejected
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    decided_by: Mapped[int | None] = mapped_column(Integer, nullable=True)  # operator or user


class InvoiceOrder(Base):
    """An order on an invoice. ``live`` is true while the invoice is requested or issued;
    the partial unique index on ``order_id`` among live rows is what makes an order
    invoiced at most once, even when two requests race."""

    __tablename__ = "invoice_orders"
    __table_args__ = (
        Index(
            "uq_invoice_orders_live_order",
            "order_id",
            unique=True,
            sqlite_where=text("live"),
            postgresql_where=text("live"),
        ),
    )

    invoice_id: Mapped[int] = mapped_column(
        ForeignKey("invoices.id", ondelete="CASCADE"), primary_key=True
    )
    order_id: Mapped[int] = mapped_column(
        ForeignKey("payment_orders.id", ondelete="CASCADE"), primary_key=True
    )
    amount: Mapped[int] = mapped_column(BigInteger)  # micro-units, as paid
    paid_at: Mapped[datetime] = mapped_column(UTCDateTime)
    live: Mapped[bool] = mapped_column(Boolean, default=True)


class InvoiceCounter(Base):
    """The last number issued in a year: incremented by an UPDATE in the issuing
    transaction, so numbers are consecutive, and a failed or refused issue (rolled back)
    takes none."""

    __tablename__ = "invoice_counters"

    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last: Mapped[int] = mapped_column(Integer, default=0)


class InvoiceFile(Base):
    """The PDF of an issued invoice, drawn once when it is issued (a later change of the
    issuer settings does not rewrite a document the buyer already has)."""

    __tablename__ = "invoice_files"

    invoice_id: Mapped[int] = mapped_column(
        ForeignKey("invoices.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    content: Mapped[bytes] = mapped_column(LargeBinary)
