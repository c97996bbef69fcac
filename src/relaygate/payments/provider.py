"""The payment provider seam: what the order service needs from Stripe (or a later one).

Three operations, no database and no ledger: a provider turns an order into a page where
the user pays, and turns a signed webhook delivery into a :class:`PaymentEvent` the service
applies. Everything a provider returns is a named record, so the service never reads a
provider's own objects.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

__all__ = [
    "DISPUTED",
    "DISPUTE_LOST",
    "DISPUTE_WON",
    "EXPIRED",
    "FAILED",
    "IGNORED",
    "PAID",
    "REFUNDED",
    "PayPage",
    "PaymentEvent",
    "PaymentProvider",
    "TopUpRequest",
    "WebhookRefused",
]

# what an event means for an order (PaymentEvent.kind)
PAID = "paid"
EXPIRED = "expired"
FAILED = "failed"
REFUNDED = "refunded"  # amount_minor: the cumulative amount refunded so far
DISPUTED = "disputed"  # amount_minor: the amount disputed by this dispute
DISPUTE_WON = "dispute_won"  # the dispute (dispute_ref) closed in the seller's favour
DISPUTE_LOST = "dispute_lost"  # ...or in the payer's: the money stays taken back
IGNORED = "ignored"


class WebhookRefused(Exception):
    """The delivery is not the provider's (bad signature, stale timestamp, not JSON)."""


@dataclass(frozen=True, slots=True)
class TopUpRequest:
    order_id: int
    user_id: int
    email: str
    amount_minor: int
    currency: str
    description: str
    success_url: str
    cancel_url: str


@dataclass(frozen=True, slots=True)
class PayPage:
    provider_ref: str  # the provider's id of the session or invoice
    url: str  # where the user pays


@dataclass(frozen=True, slots=True)
class PaymentEvent:
    event_id: str
    type: str  # the provider's own name, kept for the record
    kind: str  # PAID, EXPIRED, FAILED, REFUNDED, DISPUTED, DISPUTE_WON, DISPUTE_LOST, IGNORED
    order_id: int | None = None  # from the metadata we put on the session or invoice
    provider_ref: str | None = None
    payment_ref: str | None = None  # the payment (intent) refunds and disputes name
    amount_minor: int = 0
    receipt_url: str = ""
    dispute_ref: str | None = None  # the provider's id of the dispute (its events share it)


class PaymentProvider(Protocol):
    """One payment service. ``name`` is stored on each order."""

    name: str

    async def checkout(self, request: TopUpRequest) -> PayPage:
        """A hosted payment page for the order (Stripe: a Checkout Session)."""
        ...

    async def invoice(self, request: TopUpRequest) -> PayPage:
        """A hosted invoice for the order, paid later (Stripe: a finalized Invoice)."""
        ...

    def parse_webhook(self, payload: bytes, signature: str) -> PaymentEvent:
        """The event of a delivery whose signature over the raw body is valid and fresh;
        raises :class:`WebhookRefused` otherwise."""
        ...
