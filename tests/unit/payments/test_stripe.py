"""The Stripe provider's webhook parsing: signatures checked by the official SDK, events
mapped to what they mean for an order. (Creating sessions and invoices is covered over
HTTP against the fake Stripe: tests/integration/test_payments_stripe.py.)"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from relaygate.payments.provider import (
    DISPUTE_LOST,
    DISPUTE_WON,
    DISPUTED,
    IGNORED,
    PAID,
    REFUNDED,
    WebhookRefused,
)
from relaygate.payments.stripe import StripeProvider
from tests.fakes.stripe import signature

SECRET = "whsec_unit"


def _body(type_: str, obj: dict[str, Any]) -> bytes:
    return json.dumps({"id": "evt_1", "type": type_, "data": {"object": obj}}).encode()


def _provider(secret: str = SECRET) -> StripeProvider:
    return StripeProvider("sk_test_unit", secret, "http://127.0.0.1:9")


def test_a_paid_session_names_its_order_and_payment() -> None:
    body = _body(
        "checkout.session.completed",
        {
            "id": "cs_1",
            "payment_status": "paid",
            "amount_total": 2000,
            "payment_intent": "pi_1",
            "metadata": {"order_id": "7"},
        },
    )
    event = _provider().parse_webhook(body, signature(SECRET, body, int(time.time())))
    assert (event.kind, event.order_id, event.provider_ref, event.payment_ref) == (
        PAID,
        7,
        "cs_1",
        "pi_1",
    )
    assert event.amount_minor == 2000


def test_a_completed_but_unpaid_session_is_not_a_payment() -> None:
    body = _body("checkout.session.completed", {"id": "cs_1", "payment_status": "unpaid"})
    assert (
        _provider().parse_webhook(body, signature(SECRET, body, int(time.time()))).kind == IGNORED
    )


def test_a_refund_carries_the_cumulative_amount() -> None:
    body = _body(
        "charge.refunded", {"id": "ch_1", "payment_intent": {"id": "pi_1"}, "amount_refunded": 500}
    )
    event = _provider().parse_webhook(body, signature(SECRET, body, int(time.time())))
    assert (event.kind, event.payment_ref, event.amount_minor) == (REFUNDED, "pi_1", 500)


@pytest.mark.parametrize(
    ("type_", "status", "kind"),
    [
        ("charge.dispute.created", "needs_response", DISPUTED),
        ("charge.dispute.closed", "won", DISPUTE_WON),
        ("charge.dispute.closed", "lost", DISPUTE_LOST),
        ("charge.dispute.closed", "warning_closed", IGNORED),
    ],
)
def test_a_dispute_and_its_close_name_the_dispute(type_: str, status: str, kind: str) -> None:
    obj = {"id": "du_1", "amount": 1500, "payment_intent": "pi_1", "status": status}
    body = _body(type_, obj)
    event = _provider().parse_webhook(body, signature(SECRET, body, int(time.time())))
    assert event.kind == kind
    if kind != IGNORED:
        assert (event.dispute_ref, event.payment_ref, event.amount_minor) == ("du_1", "pi_1", 1500)


@pytest.mark.parametrize(("secret", "age"), [("whsec_other", 0), (SECRET, 3600), ("", 0)])
def test_bad_signatures_are_refused(secret: str, age: int) -> None:
    body = _body("invoice.paid", {"id": "in_1"})
    with pytest.raises(WebhookRefused):
        _provider().parse_webhook(body, signature(secret, body, int(time.time()) - age))


def test_without_a_webhook_secret_every_delivery_is_refused() -> None:
    body = _body("invoice.paid", {"id": "in_1"})
    with pytest.raises(WebhookRefused, match="no webhook secret"):
        _provider("").parse_webhook(body, signature("", body, int(time.time())))
