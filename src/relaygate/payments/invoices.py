"""Invoices on paid top-ups: a user asks, the operator issues or rejects (docs/invoices.md).

requested → issued | rejected, and requested → cancelled (by the user). What can be
invoiced: the user's own orders that are paid, with nothing refunded or disputed, each on
at most one live (requested or issued) invoice; a partial unique index on the link table
holds that even when two requests race. An invoice covers one or more orders of one
currency; its total is the sum of their amounts, in micro-units.

Numbers (``INV-2026-000001``) come from a counter row per year, incremented by an UPDATE
in the transaction that issues the invoice: concurrent issues queue on that row and take
consecutive numbers, and a refused or failed issue rolls the increment back, so no number
is skipped or handed out twice. The PDF is drawn in the same transaction and stored: the
document does not change if the issuer settings change later.

This lives in payments (not billing, where DESIGN first placed invoices) because it reads
the orders, and payments sits above billing in the import layers.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import CursorResult
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from relaygate.accounts.audit import stage
from relaygate.core.clock import utcnow
from relaygate.core.errors import Conflict, InvalidRequest, NotFound
from relaygate.db.engine import Database
from relaygate.payments.amounts import show_amount
from relaygate.payments.invoice_pdf import InvoiceDocument, Issuer, PdfLine, render_pdf
from relaygate.payments.models import Invoice, InvoiceCounter, InvoiceFile, InvoiceOrder, Order

__all__ = [
    "INVOICE_STATES",
    "ISSUER_NOT_SET",
    "NOT_REQUESTED",
    "ORDER_INVOICED",
    "ORDER_REFUNDED",
    "MAX_ORDERS",
    "Buyer",
    "InvoiceFileOut",
    "InvoiceLine",
    "InvoiceService",
    "InvoiceView",
    "Invoiceable",
]

# the codes of the refusals (409), so a page can say each in the reader's language
ISSUER_NOT_SET = "invoice_issuer_not_set"
NOT_REQUESTED = "invoice_not_requested"
ORDER_INVOICED = "order_already_invoiced"
ORDER_REFUNDED = "order_refunded"
INVOICE_STATES = ("requested", "issued", "rejected", "cancelled")
MAX_ORDERS = 100  # orders on one invoice (one request), to keep the document readable
_ACTIONS = {"cancelled": "invoice.cancel", "rejected": "invoice.reject"}  # audit lines
_LIMITS = {"organisation": 200, "tax_id": 64, "address": 300, "bank_name": 200, "bank_account": 64}


@dataclass(frozen=True, slots=True)
class Buyer:
    """Who the invoice is made out to: organisation and tax id required, the rest
    optional (printed in the remarks)."""

    organisation: str
    tax_id: str
    address: str = ""
    bank_name: str = ""
    bank_account: str = ""

    def checked(self) -> Buyer:
        """Trimmed, within the columns' lengths, the two required fields present."""
        values = {name: " ".join(str(getattr(self, name)).split()) for name in _LIMITS}
        for name in ("organisation", "tax_id"):
            if not values[name]:
                raise InvalidRequest(f"'{name}' is required.", param=name)
        for name, limit in _LIMITS.items():
            if len(values[name]) > limit:
                raise InvalidRequest(f"'{name}' is longer than {limit} characters.", param=name)
        return Buyer(**values)


@dataclass(frozen=True, slots=True)
class Invoiceable:
    """A paid order that no live invoice covers yet."""

    order_id: int
    amount: int
    currency: str
    paid_at: datetime


@dataclass(frozen=True, slots=True)
class InvoiceLine:
    order_id: int
    amount: int
    paid_at: datetime


@dataclass(frozen=True, slots=True)
class InvoiceView:
    id: int
    user_id: int
    state: str
    number: str | None
    buyer: Buyer
    currency: str
    total: int
    lines: tuple[InvoiceLine, ...]
    reason: str
    created_at: datetime
    decided_at: datetime | None


@dataclass(frozen=True, slots=True)
class InvoiceFileOut:
    filename: str
    content: bytes


def _view(row: Invoice, lines: Sequence[InvoiceOrder]) -> InvoiceView:
    return InvoiceView(
        id=row.id,
        user_id=row.user_id,
        state=row.state,
        number=row.number,
        buyer=Buyer(row.organisation, row.tax_id, row.address, row.bank_name, row.bank_account),
        currency=row.currency,
        total=row.total,
        lines=tuple(InvoiceLine(x.order_id, x.amount, x.paid_at) for x in lines),
        reason=row.reason,
        created_at=row.created_at,
        decided_at=row.decided_at,
    )


def _clean(order: Order) -> bool:
    """Paid and none of it given back: what an invoice may cover."""
    return order.state == "paid" and order.refunded_minor == 0 and order.disputed_minor == 0


def _remarks(buyer: Buyer) -> tuple[str, ...]:
    bank = " ".join(part for part in (buyer.bank_name, buyer.bank_account) if part)
    found = (
        ("Address: " + buyer.address) if buyer.address else "",
        ("Bank: " + bank) if bank else "",
    )
    return tuple(text for text in found if text)


class InvoiceService:
    """Requests, decisions and the documents; the issuer is the operator's settings."""

    def __init__(self, db: Database, issuer: Issuer, prefix: str = "INV") -> None:
        self.db = db
        self.issuer = issuer
        self.prefix = prefix

    # ------------------------------------------------------------------ reads
    async def invoiceable(self, user_id: int) -> list[Invoiceable]:
        """The user's orders an invoice may cover now, newest first."""
        live = select(InvoiceOrder.order_id).where(InvoiceOrder.live.is_(True))
        query = (
            select(Order)
            .where(
                Order.user_id == user_id,
                Order.state == "paid",
                Order.refunded_minor == 0,
                Order.disputed_minor == 0,
                Order.id.not_in(live),
            )
            .order_by(Order.id.desc())
            .limit(500)
        )
        async with self.db.session() as session:
            orders = list(await session.scalars(query))
        return [Invoiceable(o.id, o.amount, o.currency, o.paid_at or o.updated_at) for o in orders]

    async def invoices(
        self, user_id: int | None = None, state: str | None = None, limit: int = 50
    ) -> list[InvoiceView]:
        """Newest first: one user's (``user_id``) or everyone's (the operator's queue)."""
        if state is not None and state not in INVOICE_STATES:
            raise InvalidRequest(
                f"'state' must be one of {', '.join(INVOICE_STATES)}.", param="state"
            )
        query = select(Invoice).order_by(Invoice.id.desc()).limit(max(1, min(limit, 200)))
        if user_id is not None:
            query = query.where(Invoice.user_id == user_id)
        if state is not None:
            query = query.where(Invoice.state == state)
        async with self.db.session() as session:
            rows = list(await session.scalars(query))
            lines = await self._lines(session, [row.id for row in rows])
        return [_view(row, lines.get(row.id, [])) for row in rows]

    async def invoice(self, invoice_id: int, user_id: int | None = None) -> InvoiceView:
        """One invoice; another user's is a 404, as a missing one."""
        async with self.db.session() as session:
            row = await self._find(session, invoice_id, user_id)
            lines = await self._lines(session, [row.id])
        return _view(row, lines.get(row.id, []))

    async def pdf(self, invoice_id: int, user_id: int | None = None) -> InvoiceFileOut:
        """The issued invoice's PDF; 404 for one not issued (or not the user's)."""
        async with self.db.session() as session:
            row = await self._find(session, invoice_id, user_id)
            stored = await session.get(InvoiceFile, invoice_id)
        if row.state != "issued" or stored is None or row.number is None:
            raise NotFound("This invoice has not been issued.", param="invoice_id")
        return InvoiceFileOut(f"{row.number}.pdf", stored.content)

    async def _find(self, session: AsyncSession, invoice_id: int, user_id: int | None) -> Invoice:
        row = await session.get(Invoice, invoice_id)
        if row is None or (user_id is not None and row.user_id != user_id):
            raise NotFound("No such invoice.", param="invoice_id")
        return row

    async def _lines(
        self, session: AsyncSession, invoice_ids: list[int]
    ) -> dict[int, list[InvoiceOrder]]:
        found: dict[int, list[InvoiceOrder]] = {}
        if not invoice_ids:
            return found
        query = (
            select(InvoiceOrder)
            .where(InvoiceOrder.invoice_id.in_(invoice_ids))
            .order_by(InvoiceOrder.order_id)
        )
        for line in await session.scalars(query):
            found.setdefault(line.invoice_id, []).append(line)
        return found

    # ------------------------------------------------------------------ the user
    async def request(self, user_id: int, order_ids: Sequence[int], buyer: Buyer) -> InvoiceView:
        """Ask for an invoice on ``order_ids`` (the user's paid orders not yet invoiced)."""
        buyer = buyer.checked()
        wanted = sorted(set(order_ids))
        if not wanted:
            raise InvalidRequest("Choose at least one paid top-up.", param="order_ids")
        if len(wanted) > MAX_ORDERS:
            raise InvalidRequest(f"At most {MAX_ORDERS} orders per invoice.", param="order_ids")
        try:
            async with self.db.session() as session, session.begin():
                row = await self._add(session, user_id, wanted, buyer)
                stage(
                    session,
                    "invoice.request",
                    actor_id=user_id,
                    subject_user_id=user_id,
                    detail={"invoice_id": row.id, "orders": wanted, "total": row.total},
                )
        except IntegrityError:  # a concurrent request took one of the orders first
            raise Conflict(
                "One of these orders is already on an invoice.",
                param="order_ids",
                code=ORDER_INVOICED,
            ) from None
        return await self.invoice(row.id)

    async def _add(
        self, session: AsyncSession, user_id: int, wanted: list[int], buyer: Buyer
    ) -> Invoice:
        orders = {o.id: o for o in await session.scalars(select(Order).where(Order.id.in_(wanted)))}
        taken = set(
            await session.scalars(
                select(InvoiceOrder.order_id).where(
                    InvoiceOrder.order_id.in_(wanted), InvoiceOrder.live.is_(True)
                )
            )
        )
        for order_id in wanted:
            order = orders.get(order_id)
            if order is None or order.user_id != user_id:
                raise NotFound(f"No such order: #{order_id}.", param="order_ids")
            if not _clean(order):
                raise InvalidRequest(
                    f"Order #{order_id} is not paid, or was refunded: it cannot be invoiced.",
                    param="order_ids",
                )
            if order_id in taken:
                raise Conflict(
                    f"Order #{order_id} is already on an invoice.",
                    param="order_ids",
                    code=ORDER_INVOICED,
                )
        currencies = {orders[i].currency for i in wanted}
        if len(currencies) > 1:
            raise InvalidRequest(
                "The orders of one invoice must share a currency.", param="order_ids"
            )
        row = Invoice(
            user_id=user_id,
            state="requested",
            currency=currencies.pop(),
            total=sum(orders[i].amount for i in wanted),
            reason="",
            created_at=utcnow(),
            **{name: getattr(buyer, name) for name in _LIMITS},
        )
        session.add(row)
        await session.flush()
        for order_id in wanted:
            order = orders[order_id]
            session.add(
                InvoiceOrder(
                    invoice_id=row.id,
                    order_id=order_id,
                    amount=order.amount,
                    paid_at=order.paid_at or order.updated_at,
                    live=True,
                )
            )
        await session.flush()
        return row

    async def cancel(self, invoice_id: int, user_id: int) -> InvoiceView:
        """The user withdraws a request the operator has not decided yet."""
        await self._close(invoice_id, user_id, "cancelled", actor_id=user_id, reason="")
        return await self.invoice(invoice_id)

    # ------------------------------------------------------------------ the operator
    async def reject(self, invoice_id: int, reason: str, *, actor_id: int | None) -> InvoiceView:
        """Refuse a request, saying why; its orders may be invoiced again."""
        reason = " ".join(reason.split())
        if not reason:
            raise InvalidRequest("Say why the invoice is rejected.", param="reason")
        if len(reason) > 500:
            raise InvalidRequest("'reason' is longer than 500 characters.", param="reason")
        await self._close(invoice_id, None, "rejected", actor_id=actor_id, reason=reason)
        return await self.invoice(invoice_id)

    async def _close(
        self, invoice_id: int, user_id: int | None, state: str, *, actor_id: int | None, reason: str
    ) -> None:
        """requested → ``state`` by a conditional UPDATE (a decision racing it loses
        cleanly), and the orders freed for another invoice."""
        async with self.db.session() as session, session.begin():
            row = await self._decide(session, invoice_id, user_id, state, actor_id, reason)
            await session.execute(
                update(InvoiceOrder).where(InvoiceOrder.invoice_id == invoice_id).values(live=False)
            )
            detail: dict[str, Any] = {"invoice_id": invoice_id}
            if reason:
                detail["reason"] = reason
            stage(
                session,
                _ACTIONS[state],
                actor_id=actor_id,
                subject_user_id=row.user_id,
                detail=detail,
            )

    async def _decide(
        self,
        session: AsyncSession,
        invoice_id: int,
        user_id: int | None,
        state: str,
        actor_id: int | None,
        reason: str,
    ) -> Invoice:
        """Move a requested invoice to ``state`` (the transaction's first write: on SQLite
        it takes the write lock, on PostgreSQL the row's), or say why not."""
        where = [Invoice.id == invoice_id, Invoice.state == "requested"]
        if user_id is not None:
            where.append(Invoice.user_id == user_id)
        done = cast(
            "CursorResult[Any]",
            await session.execute(
                update(Invoice)
                .where(*where)
                .values(state=state, reason=reason, decided_at=utcnow(), decided_by=actor_id)
            ),
        )
        row = await self._find(session, invoice_id, user_id)
        if done.rowcount != 1:
            raise Conflict(
                f"This invoice is {row.state}, no longer requested.",
                param="invoice_id",
                code=NOT_REQUESTED,
            )
        return row

    async def issue(self, invoice_id: int, *, actor_id: int | None) -> InvoiceView:
        """Number the invoice, draw its PDF and store both, in one transaction."""
        if not self.issuer.name:
            raise Conflict(
                "Set invoice_issuer_name before issuing invoices.",
                param="invoice_issuer_name",
                code=ISSUER_NOT_SET,
            )
        async with self.db.session() as session, session.begin():
            row = await self._decide(session, invoice_id, None, "issued", actor_id, "")
            lines = (await self._lines(session, [invoice_id])).get(invoice_id, [])
            await self._still_clean(session, lines)
            issued_at = row.decided_at or utcnow()
            row.number = await self._next_number(session, issued_at.year)
            document = self._document(row, lines, issued_at)
            content = await asyncio.to_thread(render_pdf, document)
            session.add(InvoiceFile(invoice_id=invoice_id, content=content))
            stage(
                session,
                "invoice.issue",
                actor_id=actor_id,
                subject_user_id=row.user_id,
                detail={"invoice_id": invoice_id, "number": row.number, "total": row.total},
            )
        return await self.invoice(invoice_id)

    async def _still_clean(self, session: AsyncSession, lines: list[InvoiceOrder]) -> None:
        """An order refunded or disputed since the request: reject instead."""
        ids = [line.order_id for line in lines]
        for order in await session.scalars(select(Order).where(Order.id.in_(ids))):
            if not _clean(order):
                raise Conflict(
                    f"Order #{order.id} was refunded or disputed since the request: "
                    "reject this invoice.",
                    param="invoice_id",
                    code=ORDER_REFUNDED,
                )

    async def _next_number(self, session: AsyncSession, year: int) -> str:
        """The year's next number: the counter row is created once, then moved by an
        UPDATE whose row lock queues concurrent issues."""
        insert = sqlite_insert if self.db.is_sqlite else pg_insert
        await session.execute(
            insert(InvoiceCounter).values(year=year, last=0).on_conflict_do_nothing()
        )
        last = await session.scalar(
            update(InvoiceCounter)
            .where(InvoiceCounter.year == year)
            .values(last=InvoiceCounter.last + 1)
            .returning(InvoiceCounter.last)
        )
        assert last is not None
        return f"{self.prefix}-{year}-{last:06d}"

    def _document(
        self, row: Invoice, lines: list[InvoiceOrder], issued_at: datetime
    ) -> InvoiceDocument:
        buyer = _view(row, lines).buyer
        return InvoiceDocument(
            number=row.number or "",
            issued_on=issued_at.date(),
            issuer=self.issuer,
            organisation=buyer.organisation,
            tax_id=buyer.tax_id,
            lines=tuple(
                PdfLine(x.paid_at.date(), x.order_id, show_amount(x.amount, row.currency))
                for x in lines
            ),
            total=show_amount(row.total, row.currency),
            currency=row.currency.upper(),
            remarks=_remarks(buyer),
        )
