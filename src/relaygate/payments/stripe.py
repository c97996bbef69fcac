"""Stripe through its official SDK: Checkout Sessions and Invoices, and signed webhooks.

``api_base`` points the SDK elsewhere (the tests' fake Stripe); in production it is
Stripe's own. The order id travels as ``metadata.order_id`` on the session, the invoice
and the payment intent, so every event names the order it is about.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from typing import Any

import stripe as sdk

from relaygate.core.errors import UpstreamUnavailable
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
    PayPage,
    TopUpRequest,
    WebhookRefused,
)

__all__ = ["StripeProvider"]

_INVOICE_DAYS_DUE = 7


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _order_id(obj: dict[str, Any]) -> int | None:
    metadata = obj.get("metadata") or {}
    return _int(metadata.get("order_id") if isinstance(metadata, dict) else None)


def _ref(value: Any) -> str | None:
    """An id, whether the object was sent expanded or as its id."""
    if isinstance(value, dict):
        value = value.get("id")
    return str(value) if value else None


def _session(kind: str) -> Callable[[str, str, dict[str, Any]], PaymentEvent]:
    def parse(event_id: str, type_: str, obj: dict[str, Any]) -> PaymentEvent:
        if kind == PAID and obj.get("payment_status") not in ("paid", "no_payment_required"):
            return PaymentEvent(event_id, type_, IGNORED)  # paid later: async_payment_*
        return PaymentEvent(
            event_id,
            type_,
            kind,
            order_id=_order_id(obj) or _int(obj.get("client_reference_id")),
            provider_ref=_ref(obj.get("id")),
            payment_ref=_ref(obj.get("payment_intent")),
            amount_minor=_int(obj.get("amount_total")) or 0,
        )

    return parse


def _invoice(kind: str) -> Callable[[str, str, dict[str, Any]], PaymentEvent]:
    def parse(event_id: str, type_: str, obj: dict[str, Any]) -> PaymentEvent:
        return PaymentEvent(
            event_id,
            type_,
            kind,
            order_id=_order_id(obj),
            provider_ref=_ref(obj.get("id")),
            payment_ref=_ref(obj.get("payment_intent")),
            amount_minor=_int(obj.get("amount_paid")) or 0,
            receipt_url=str(obj.get("hosted_invoice_url") or ""),
        )

    return parse


def _refund(event_id: str, type_: str, obj: dict[str, Any]) -> PaymentEvent:
    return PaymentEvent(
        event_id,
        type_,
        REFUNDED,
        order_id=_order_id(obj),
        payment_ref=_ref(obj.get("payment_intent")),
        amount_minor=_int(obj.get("amount_refunded")) or 0,
        receipt_url=str(obj.get("receipt_url") or ""),
    )


def _dispute(event_id: str, type_: str, obj: dict[str, Any]) -> PaymentEvent:
    return PaymentEvent(
        event_id,
        type_,
        DISPUTED,
        order_id=_order_id(obj),
        payment_ref=_ref(obj.get("payment_intent")),
        amount_minor=_int(obj.get("amount")) or 0,
        dispute_ref=_ref(obj.get("id")),
    )


_CLOSED = {"won": DISPUTE_WON, "lost": DISPUTE_LOST}


def _dispute_closed(event_id: str, type_: str, obj: dict[str, Any]) -> PaymentEvent:
    """``charge.dispute.closed``: "won" gives the money back, "lost" keeps it taken; any
    other status (an inquiry's ``warning_closed``) took nothing and changes nothing."""
    kind = _CLOSED.get(str(obj.get("status") or ""), IGNORED)
    if kind == IGNORED:
        return PaymentEvent(event_id, type_, IGNORED)
    return dataclasses.replace(_dispute(event_id, type_, obj), kind=kind)


_PARSERS: dict[str, Callable[[str, str, dict[str, Any]], PaymentEvent]] = {
    "checkout.session.completed": _session(PAID),
    "checkout.session.async_payment_succeeded": _session(PAID),
    "checkout.session.async_payment_failed": _session(FAILED),
    "checkout.session.expired": _session(EXPIRED),
    "invoice.paid": _invoice(PAID),
    "invoice.voided": _invoice(FAILED),
    "invoice.marked_uncollectible": _invoice(FAILED),
    "charge.refunded": _refund,
    "charge.dispute.created": _dispute,
    "charge.dispute.closed": _dispute_closed,
}


class StripeProvider:
    """A :class:`~relaygate.payments.provider.PaymentProvider` over ``stripe.StripeClient``."""

    name = "stripe"

    def __init__(
        self, secret_key: str, webhook_secret: str, api_base: str = "", tolerance: int = 300
    ) -> None:
        bases: Any = {"api": api_base.rstrip("/")} if api_base else None
        self._client = sdk.StripeClient(
            secret_key,
            base_addresses=bases,
            http_client=sdk.HTTPXClient(),
            max_network_retries=1,
        )
        self._webhook_secret = webhook_secret
        self._tolerance = tolerance

    async def checkout(self, request: TopUpRequest) -> PayPage:
        metadata = {"order_id": str(request.order_id), "user_id": str(request.user_id)}
        params: Any = {
            "mode": "payment",
            "client_reference_id": str(request.order_id),
            "customer_email": request.email or None,
            "line_items": [
                {
                    "quantity": 1,
                    "price_data": {
                        "currency": request.currency,
                        "unit_amount": request.amount_minor,
                        "product_data": {"name": request.description},
                    },
                }
            ],
            "metadata": metadata,
            "payment_intent_data": {"metadata": metadata},
            "success_url": request.success_url,
            "cancel_url": request.cancel_url,
        }
        if not request.email:
            del params["customer_email"]
        try:
            session = await self._client.v1.checkout.sessions.create_async(
                params, {"idempotency_key": f"topup-{request.order_id}-checkout"}
            )
        except sdk.StripeError as exc:
            raise UpstreamUnavailable("Stripe refused the checkout session.") from exc
        return PayPage(provider_ref=str(session.id), url=str(session.url or ""))

    async def invoice(self, request: TopUpRequest) -> PayPage:
        metadata = {"order_id": str(request.order_id), "user_id": str(request.user_id)}
        key = f"topup-{request.order_id}"
        v1 = self._client.v1
        try:
            customer = await v1.customers.create_async(
                {"email": request.email, "metadata": metadata}, {"idempotency_key": key + "-c"}
            )
            invoice = await v1.invoices.create_async(
                {
                    "customer": customer.id,
                    "collection_method": "send_invoice",
                    "days_until_due": _INVOICE_DAYS_DUE,
                    "currency": request.currency,
                    "metadata": metadata,
                },
                {"idempotency_key": key + "-i"},
            )
            await v1.invoice_items.create_async(
                {
                    "customer": customer.id,
                    "invoice": str(invoice.id),
                    "amount": request.amount_minor,
                    "currency": request.currency,
                    "description": request.description,
                },
                {"idempotency_key": key + "-ii"},
            )
            final = await v1.invoices.finalize_invoice_async(str(invoice.id))
        except sdk.StripeError as exc:
            raise UpstreamUnavailable("Stripe refused the invoice.") from exc
        return PayPage(provider_ref=str(final.id), url=str(final.hosted_invoice_url or ""))

    def parse_webhook(self, payload: bytes, signature: str) -> PaymentEvent:
        if not self._webhook_secret:  # an empty key would verify anyone's HMAC
            raise WebhookRefused("no webhook secret is configured")
        try:
            sdk.Webhook.construct_event(
                payload, signature, self._webhook_secret, tolerance=self._tolerance
            )
            body = json.loads(payload)
        except (sdk.SignatureVerificationError, ValueError) as exc:
            raise WebhookRefused(str(exc)[:200]) from exc
        if not isinstance(body, dict) or not isinstance(body.get("id"), str):
            raise WebhookRefused("not an event")
        type_ = str(body.get("type") or "")
        obj = (body.get("data") or {}).get("object")
        parser = _PARSERS.get(type_)
        if parser is None or not isinstance(obj, dict):
            return PaymentEvent(body["id"], type_, IGNORED)
        return parser(body["id"], type_, obj)
