"""Stripe top-ups an OAuth app creates for its user (§5; docs/oauth.md), end to end on
both databases: the order made with the token, paid on the fake Stripe
(tests/fakes/stripe.py), its signed webhook, the balance credited and equal to the
ledger; and every refusal in the envelope."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pytest

from tests.conftest import DATABASES
from tests.fakes.stripe import FakeStripe
from tests.harness import Gateway, create_pg_database, drop_pg_database, start_gateway
from tests.integration.oauth_kit import authorized, ledger_matches, register

WEBHOOK = "/api/v1/payments/stripe/webhook"
CHECKOUT = "/api/v1/user/oauth/stripe/checkout"
INVOICE = "/api/v1/user/oauth/stripe/invoice"


@pytest.fixture(scope="module")
def stripe_fake() -> Iterator[FakeStripe]:
    with FakeStripe(webhook_secret="whsec_relaygate_oauth_tests") as fake:
        yield fake


@pytest.fixture(scope="module", params=DATABASES)
def paying(
    request: pytest.FixtureRequest,
    stripe_fake: FakeStripe,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Gateway]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('oauth-pay')}/gw.db"
    else:
        url = create_pg_database()
    gw = start_gateway(
        url,
        stripe_secret_key="sk_test_relaygate",
        stripe_webhook_secret=stripe_fake.webhook_secret,
        stripe_api_base=stripe_fake.base_url,
        payments_currency="usd",
        payments_amount_options=["20", "50"],
        payments_min_amount="5",
        payments_max_amount="500",
        login_per_ip_per_minute=0,
        login_per_ip_per_hour=0,
    )
    stripe_fake.webhook_url = gw.url + WEBHOOK
    yield gw
    gw.stop()
    if request.param != "sqlite":
        drop_pg_database(url)


def _balance(gw: Gateway, token: str) -> Decimal:
    with gw.http(token) as http:
        return Decimal(http.post("/api/v1/user/oauth/balance").json()["data"]["balance"])


def test_a_checkout_made_with_the_token_credits_the_user(
    paying: Gateway, stripe_fake: FakeStripe
) -> None:
    grant = authorized(paying, register(paying))
    body = {
        "amount": "20",
        "currency": "USD",
        "success_url": "https://app.example.test/paid?session={CHECKOUT_SESSION_ID}",
        "cancel_url": "http://app.example.test/cancelled",
    }
    with paying.http(grant.token) as http:
        answer = http.post(CHECKOUT, data=body)
    assert answer.status_code == 200, answer.text
    data = answer.json()["data"]
    assert data["checkout_url"].startswith(stripe_fake.base_url + "/pay/cs_test_")
    assert data["amount"] == "20.000000" and data["currency"] == "usd"
    session_id = data["checkout_url"].rsplit("/", 1)[1]
    session = stripe_fake.objects[session_id]
    assert session["metadata"]["order_id"] == str(data["order_id"])
    assert session["success_url"] == body["success_url"]
    assert session["cancel_url"] == body["cancel_url"]
    assert session["amount_total"] == 2000
    assert _balance(paying, grant.token) == Decimal(10)
    stripe_fake.complete(session_id)
    assert _balance(paying, grant.token) == Decimal(30)
    ledger_matches(paying, grant.user_id)


def test_an_invoice_made_with_the_token_is_credited_when_paid(
    paying: Gateway, stripe_fake: FakeStripe
) -> None:
    grant = authorized(paying, register(paying))
    with paying.http(grant.token) as http:
        answer = http.post(INVOICE, json={"amount": "12.5", "email": "Billing@Example.test"})
    assert answer.status_code == 200, answer.text
    data = answer.json()["data"]
    invoice = stripe_fake.objects[data["invoice_id"]]
    assert data["invoice_id"].startswith("in_test_")
    assert data["invoice_url"] == invoice["hosted_invoice_url"]
    assert invoice["amount_due"] == 1250 and invoice["metadata"]["order_id"] == str(
        data["order_id"]
    )
    assert stripe_fake.objects[invoice["customer"]]["email"] == "billing@example.test"
    stripe_fake.complete(data["invoice_id"])
    assert _balance(paying, grant.token) == Decimal("22.5")
    ledger_matches(paying, grant.user_id)


def test_an_invoice_defaults_to_the_users_email(paying: Gateway, stripe_fake: FakeStripe) -> None:
    grant = authorized(paying, register(paying))
    with paying.http(grant.token) as http:
        data = http.post(INVOICE, data={"amount": "20"}).json()["data"]
        email = http.post("/api/v1/user/oauth/user-info").json()["data"]["email"]
    customer = stripe_fake.objects[stripe_fake.objects[data["invoice_id"]]["customer"]]
    assert customer["email"] == email


@pytest.mark.parametrize(
    ("path", "body", "param"),
    [
        (CHECKOUT, {"amount": "4.99"}, "amount"),
        (CHECKOUT, {"amount": "20.001"}, "amount"),
        (CHECKOUT, {"amount": "0"}, "amount"),
        (CHECKOUT, {}, "amount"),
        (CHECKOUT, {"amount": "20", "currency": "eur"}, "currency"),
        (CHECKOUT, {"amount": "20", "success_url": "javascript:alert(1)"}, "success_url"),
        (CHECKOUT, {"amount": "20", "cancel_url": "ftp://app.example.test/"}, "cancel_url"),
        (INVOICE, {"amount": "20", "email": "not an address"}, "email"),
        (INVOICE, {"amount": "501"}, "amount"),
    ],
)
def test_bad_requests_are_400_and_make_no_order(
    paying: Gateway, path: str, body: dict[str, str], param: str
) -> None:
    grant = authorized(paying, register(paying))
    with paying.http(grant.token) as http:
        answer = http.post(path, data=body)
    assert answer.status_code == 400, answer.text
    assert answer.json()["errorType"] == "invalid_request_error"
    assert param in answer.json()["message"]
    orders = paying.op("GET", "/payments/orders", params={"user_id": grant.user_id})
    assert orders == []


def test_the_scope_and_the_token_are_checked(paying: Gateway) -> None:
    grant = authorized(paying, register(paying, scope="admin_token"), scope="admin_token")
    with paying.http(grant.token) as http:
        narrow = http.post(CHECKOUT, data={"amount": "20"})
    assert narrow.status_code == 403 and narrow.json()["errorType"] == "permission_error"
    with paying.http("omg-oat-v1-" + "x" * 43) as http:
        unknown = http.post(INVOICE, data={"amount": "20"})
    assert unknown.status_code == 401
    assert unknown.json()["errorType"] == "oauth_invalid_token_error"


def test_without_stripe_the_routes_say_payments_are_off(sqlite_gateway: Gateway) -> None:
    grant = authorized(sqlite_gateway, register(sqlite_gateway))
    with sqlite_gateway.http(grant.token) as http:
        for path in (CHECKOUT, INVOICE):
            answer = http.post(path, data={"amount": "20"})
            assert answer.status_code == 404, answer.text
            assert answer.json()["message"] == "Payments are not configured on this gateway."
