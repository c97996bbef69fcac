"""Top-up orders and their state machine; the one place payments touch the ledger.

created → paid | expired | failed; paid → refunded (a refund) or disputed (a dispute took
the money back); disputed → paid (or refunded) again when the dispute is won, and stays
disputed when it is lost. The ledger is credited (kind ``topup``) in the transaction that
makes an order paid, and a refund or dispute is debited (a won dispute credited back, kind
``dispute_reversal``) in the transaction that records it, so an order's state and the
balance never disagree. Each provider event is applied once: its id is inserted first in
the same transaction (a replay or a concurrent duplicate fails that insert and changes
nothing). A refund or dispute that arrives before its payment waits in the events table
and is applied when the order is paid; a dispute's closing that arrives before the dispute
waits for it the same way (``waiting_for`` the dispute's id). A dispute's entries carry the
dispute's id as their ``request_id``, so a second event about one dispute finds what the
first did: a dispute is debited once and given back at most once.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from relaygate.billing.ledger import DISPUTE, DISPUTE_REVERSAL, REFUND, TOPUP, post
from relaygate.billing.models import LedgerEntry
from relaygate.core.clock import utcnow
from relaygate.core.errors import InvalidRequest, NotFound, RelaygateError
from relaygate.db.engine import Database
from relaygate.payments.amounts import TopUpLimits, from_minor, minor_units
from relaygate.payments.errors import PaymentsNotConfigured
from relaygate.payments.models import Order, WebhookEvent
from relaygate.payments.provider import (
    DISPUTE_LOST,
    DISPUTE_WON,
    DISPUTED,
    EXPIRED,
    FAILED,
    IGNORED,
    PAID,
    REFUNDED,
    PaymentEvent,
    PaymentProvider,
    TopUpRequest,
)

__all__ = ["METHODS", "STATES", "OrderView", "PaymentService", "PaymentURLs"]

METHODS = ("checkout", "invoice")
STATES = ("created", "paid", "expired", "failed", "refunded", "disputed")
_PAID = ("paid", "refunded", "disputed")  # the money arrived (some may have left again)
_TAKE_BACK = (REFUNDED, DISPUTED, DISPUTE_WON, DISPUTE_LOST)  # events about a payment


@dataclass(frozen=True, slots=True)
class PaymentURLs:
    success: str
    cancel: str


@dataclass(frozen=True, slots=True)
class OrderView:
    id: int
    user_id: int
    provider: str
    method: str
    provider_ref: str | None
    state: str
    amount: int
    amount_minor: int
    currency: str
    refunded: int  # micro-units given back
    pay_url: str
    receipt_url: str
    created_at: datetime
    paid_at: datetime | None


def _view(order: Order) -> OrderView:
    return OrderView(
        id=order.id,
        user_id=order.user_id,
        provider=order.provider,
        method=order.method,
        provider_ref=order.provider_ref,
        state=order.state,
        amount=order.amount,
        amount_minor=order.amount_minor,
        currency=order.currency,
        refunded=from_minor(order.refunded_minor + order.disputed_minor, order.currency),
        pay_url=order.pay_url if order.state == "created" else "",
        receipt_url=order.receipt_url,
        created_at=order.created_at,
        paid_at=order.paid_at,
    )


class PaymentService:
    """Orders for one provider (None: payments are off and every use says so)."""

    def __init__(
        self,
        db: Database,
        provider: PaymentProvider | None,
        limits: TopUpLimits,
        urls: PaymentURLs,
        on_balance: Callable[[int], None] = lambda _user: None,
    ) -> None:
        self.db = db
        self.provider = provider
        self.limits = limits
        self.urls = urls
        self._on_balance = on_balance  # the charging cache forgets the user's balance

    @property
    def enabled(self) -> bool:
        return self.provider is not None

    def provider_name(self) -> str:
        """The provider's name; PaymentsNotConfigured (404) while payments are off."""
        return self._provider().name

    def _provider(self) -> PaymentProvider:
        if self.provider is None:
            raise PaymentsNotConfigured()
        return self.provider

    async def create_topup(
        self,
        user_id: int,
        email: str,
        amount: int,
        method: str,
        urls: PaymentURLs | None = None,
    ) -> OrderView:
        """An order and the provider's page to pay it (Checkout) or its invoice.
        ``urls``: where Checkout sends the payer back (an OAuth app's own pages); None:
        the operator's (the console's billing page)."""
        provider = self._provider()
        back = urls or self.urls
        if method not in METHODS:
            raise InvalidRequest("'method' must be 'checkout' or 'invoice'.", param="method")
        minor = self.limits.check(amount)
        if method == "invoice" and not email:
            raise InvalidRequest("An invoice needs the account's email.", param="method")
        now = utcnow()
        order = Order(
            user_id=user_id,
            provider=provider.name,
            method=method,
            amount=amount,
            amount_minor=minor,
            currency=self.limits.currency,
            state="created",
            pay_url="",
            receipt_url="",
            refunded_minor=0,
            disputed_minor=0,
            created_at=now,
            updated_at=now,
        )
        async with self.db.session() as session, session.begin():
            session.add(order)
        request = TopUpRequest(
            order_id=order.id,
            user_id=user_id,
            email=email,
            amount_minor=minor,
            currency=self.limits.currency,
            description=f"Top-up #{order.id}",
            success_url=back.success,
            cancel_url=back.cancel,
        )
        try:
            page = await (provider.checkout if method == "checkout" else provider.invoice)(request)
        except RelaygateError:  # the provider refused or did not answer
            await self._set(order.id, state="failed")
            raise
        return await self._set(order.id, provider_ref=page.provider_ref, pay_url=page.url)

    async def _set(self, order_id: int, **values: str) -> OrderView:
        async with self.db.session() as session, session.begin():
            order = await session.get(Order, order_id, with_for_update=True)
            assert order is not None
            for name, value in values.items():
                setattr(order, name, value)
            order.updated_at = utcnow()
            return _view(order)

    async def orders(
        self, user_id: int | None = None, state: str | None = None, limit: int = 50
    ) -> list[OrderView]:
        """Newest first: one user's (``user_id``) or everyone's (the operator's list)."""
        if state is not None and state not in STATES:
            raise InvalidRequest(f"'state' must be one of {', '.join(STATES)}.", param="state")
        query = select(Order).order_by(Order.id.desc()).limit(max(1, min(limit, 200)))
        if user_id is not None:
            query = query.where(Order.user_id == user_id)
        if state is not None:
            query = query.where(Order.state == state)
        async with self.db.session() as session:
            return [_view(o) for o in await session.scalars(query)]

    async def order(self, order_id: int, user_id: int | None = None) -> OrderView:
        async with self.db.session() as session:
            order = await session.get(Order, order_id)
        if order is None or (user_id is not None and order.user_id != user_id):
            raise NotFound("No such order.", param="order_id")
        return _view(order)

    async def handle_webhook(self, payload: bytes, signature: str) -> str:
        """Verify and apply one delivery; the outcome, for the log and the tests.
        Raises WebhookRefused (the route's 400) for a delivery that is not the provider's."""
        event = self._provider().parse_webhook(payload, signature)
        touched: list[int] = []
        try:
            async with self.db.session() as session, session.begin():
                row = WebhookEvent(
                    provider=self._provider().name,
                    event_id=event.event_id,
                    type=event.type[:100],
                    outcome="received",
                    detail={},
                )
                session.add(row)
                await session.flush()  # first: a duplicate stops here, changing nothing
                row.outcome = await self._apply(session, event, row, touched)
        except IntegrityError:
            return "duplicate"
        for user_id in touched:
            self._on_balance(user_id)
        return row.outcome

    async def _find(self, session: AsyncSession, event: PaymentEvent) -> Order | None:
        provider = self._provider().name
        if event.order_id is not None:
            order = await session.get(Order, event.order_id, with_for_update=True)
            if order is not None and order.provider == provider:
                return order
        for column, value in (
            (Order.provider_ref, event.provider_ref),
            (Order.payment_ref, event.payment_ref),
        ):
            if value:
                found = await session.scalar(
                    select(Order)
                    .where(Order.provider == provider, column == value)
                    .with_for_update()
                )
                if found is not None:
                    return found
        return None

    async def _apply(
        self, session: AsyncSession, event: PaymentEvent, row: WebhookEvent, touched: list[int]
    ) -> str:
        if event.kind == IGNORED:
            return "ignored"
        order = await self._find(session, event)
        if order is None or (
            event.provider_ref and order.provider_ref not in (None, event.provider_ref)
        ):
            if event.kind in _TAKE_BACK and event.payment_ref:
                return self._wait(row, event, event.payment_ref)
            return "unknown-order"
        row.order_id = order.id
        if event.kind == PAID:
            return await self._paid(session, order, event, touched)
        if event.kind in (EXPIRED, FAILED):
            if order.state != "created":
                return "late"
            order.state, order.updated_at = event.kind, utcnow()
            return "applied"
        if order.state not in _PAID:
            return self._wait(row, event, event.payment_ref)
        return await self._after_payment(session, order, event, row, touched)

    def _wait(self, row: WebhookEvent, event: PaymentEvent, for_ref: str | None) -> str:
        row.waiting_for = for_ref
        row.detail = dataclasses.asdict(event)
        return "waiting"

    async def _after_payment(
        self,
        session: AsyncSession,
        order: Order,
        event: PaymentEvent,
        row: WebhookEvent,
        touched: list[int],
    ) -> str:
        """A refund or a dispute's event, for an order whose payment is recorded."""
        if event.kind == REFUNDED:
            return await self._refund(session, order, event, touched)
        if event.kind == DISPUTED:
            return await self._dispute(session, order, event, touched)
        return await self._dispute_closed(session, order, event, row, touched)

    async def _paid(
        self, session: AsyncSession, order: Order, event: PaymentEvent, touched: list[int]
    ) -> str:
        if order.state in _PAID:
            return "already-paid"
        if event.amount_minor and event.amount_minor != order.amount_minor:
            return "amount-mismatch"  # never credit what was not paid as ordered
        now = utcnow()
        order.state, order.paid_at, order.updated_at = "paid", now, now
        order.payment_ref = event.payment_ref or order.payment_ref
        order.receipt_url = event.receipt_url or order.receipt_url
        await post(
            session,
            order.user_id,
            order.amount,
            TOPUP,
            f"Top-up order #{order.id} ({order.provider_ref})",
        )
        touched.append(order.user_id)
        if order.payment_ref:
            await self._release_waiting(session, order, order.payment_ref, touched)
        return "applied"

    async def _release_waiting(
        self, session: AsyncSession, order: Order, ref: str, touched: list[int]
    ) -> None:
        """The events that waited for ``ref`` (the payment, or a dispute), applied now."""
        await session.flush()  # a row released just before may wait again, for a dispute
        waiting = await session.scalars(
            select(WebhookEvent)
            .where(WebhookEvent.provider == order.provider, WebhookEvent.waiting_for == ref)
            .order_by(WebhookEvent.received_at)
        )
        for row in list(waiting):
            event = PaymentEvent(**row.detail)
            row.waiting_for, row.order_id = None, order.id
            outcome = await self._after_payment(session, order, event, row, touched)
            row.outcome = ("applied-late:" + outcome)[:32]

    async def _refund(
        self, session: AsyncSession, order: Order, event: PaymentEvent, touched: list[int]
    ) -> str:
        delta = min(event.amount_minor, order.amount_minor) - order.refunded_minor
        if delta <= 0:
            return "already-refunded"
        order.refunded_minor += delta
        order.state = "disputed" if order.state == "disputed" else "refunded"
        memo = f"Refund of top-up order #{order.id}"
        await self._post(session, order, -from_minor(delta, order.currency), REFUND, memo, None)
        touched.append(order.user_id)
        return "applied"

    async def _dispute(
        self, session: AsyncSession, order: Order, event: PaymentEvent, touched: list[int]
    ) -> str:
        ref = event.dispute_ref
        if ref and await _entry(session, order, DISPUTE, ref) is not None:
            return "already-disputed"  # another event about the same dispute
        delta = min(event.amount_minor, order.amount_minor - order.disputed_minor)
        if delta <= 0:
            return "nothing-disputed"
        order.disputed_minor += delta
        order.state = "disputed"
        memo = f"Dispute of top-up order #{order.id}"
        await self._post(session, order, -from_minor(delta, order.currency), DISPUTE, memo, ref)
        touched.append(order.user_id)
        if ref:
            await self._release_waiting(session, order, ref, touched)
        return "applied"

    async def _dispute_closed(
        self,
        session: AsyncSession,
        order: Order,
        event: PaymentEvent,
        row: WebhookEvent,
        touched: list[int],
    ) -> str:
        """A dispute closed: won, what it took comes back once (kind
        ``dispute_reversal``, the exact amount of its ``dispute`` entry); lost, nothing
        changes. Before its dispute was debited, it waits for it."""
        ref = event.dispute_ref
        if not ref:
            return "ignored"
        taken = await _entry(session, order, DISPUTE, ref)
        if taken is None:
            return self._wait(row, event, ref)
        if event.kind == DISPUTE_LOST:
            return "dispute-lost"
        if await _entry(session, order, DISPUTE_REVERSAL, ref) is not None:
            return "already-reinstated"
        order.disputed_minor = max(
            0, order.disputed_minor - minor_units(-taken.amount, order.currency)
        )
        if order.state == "disputed" and not order.disputed_minor:
            order.state = "refunded" if order.refunded_minor else "paid"
        memo = f"Dispute won: top-up order #{order.id}"
        await self._post(session, order, -taken.amount, DISPUTE_REVERSAL, memo, ref)
        touched.append(order.user_id)
        return "applied"

    @staticmethod
    async def _post(
        session: AsyncSession, order: Order, amount: int, kind: str, memo: str, ref: str | None
    ) -> None:
        order.updated_at = utcnow()
        await post(session, order.user_id, amount, kind, memo, ref)


async def _entry(session: AsyncSession, order: Order, kind: str, ref: str) -> LedgerEntry | None:
    """The order's user's ledger entry of ``kind`` for the dispute ``ref``, if written."""
    found: LedgerEntry | None = await session.scalar(
        select(LedgerEntry).where(
            LedgerEntry.kind == kind,
            LedgerEntry.request_id == ref,
            LedgerEntry.user_id == order.user_id,
        )
    )
    return found
