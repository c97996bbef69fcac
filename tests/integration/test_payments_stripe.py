"""Stripe top-ups end to end: the official SDK in the gateway talks to a fake Stripe
(tests/fakes/stripe.py) that signs its webhooks as Stripe does. Each scenario ends with
the ledger equal to the balance."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import httpx
import pytest

from tests.conftest import DATABASES
from tests.fakes.openai_upstream import FakeOpenAI
from tests.fakes.stripe import Delivery, FakeStripe
from tests.harness import (
    Gateway,
    IssuedKey,
    create_pg_database,
    drop_pg_database,
    start_gateway,
)
from tests.integration.test_money import chat, priced_model

WEBHOOK = "/api/v1/payments/stripe/webhook"
OPERATOR = "payments-operator@example.test"


@pytest.fixture(scope="module")
def stripe_fake() -> Iterator[FakeStripe]:
    with FakeStripe(webhook_secret="whsec_relaygate_tests") as fake:
        yield fake


@pytest.fixture(scope="module", params=DATABASES)
def paying(
    request: pytest.FixtureRequest,
    stripe_fake: FakeStripe,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Gateway]:
    """A gateway taking Stripe top-ups in USD, with an RPM of 2 below $20 topped up."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('pay')}/gw.db"
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
        rate_limit_tiers=[[0, 2], [20, 1000]],
        login_per_ip_per_minute=0,
        login_per_ip_per_hour=0,
        operator_email=OPERATOR,
    )
    stripe_fake.webhook_url = gw.url + WEBHOOK
    yield gw
    gw.stop()
    if request.param != "sqlite":
        drop_pg_database(url)


def _manager(gw: Gateway, credit: str = "") -> IssuedKey:
    user_id = int(gw.create_user()["id"])
    if credit:
        gw.credit(user_id, credit, "adjustment")  # not a top-up: the tier stays the lowest
    return gw.make_user_key(user_id=user_id, is_admin=True)


def _topup(gw: Gateway, key: str, amount: str, method: str = "checkout") -> dict[str, Any]:
    with gw.http(key) as http:
        answer = http.post(
            "/api/v1/user/payments/topups", json={"amount": amount, "method": method}
        )
    assert answer.status_code == 200, answer.text
    return _money(answer.json()["data"])


def _money(order: dict[str, Any]) -> dict[str, Any]:
    return {**order, "amount": Decimal(order["amount"]), "refunded": Decimal(order["refunded"])}


def _orders(gw: Gateway, key: str) -> list[dict[str, Any]]:
    with gw.http(key) as http:
        found: list[dict[str, Any]] = http.get("/api/v1/user/payments/orders").json()["data"]
    return [_money(o) for o in found]


def _balance(gw: Gateway, user_id: int) -> dict[str, Any]:
    """The wallet, after checking that the ledger sums to it."""
    ledger = gw.op("GET", f"/users/{user_id}/ledger")
    assert ledger["sums"]["amount"] == ledger["wallet"]["balance"], ledger
    wallet = gw.op("GET", f"/users/{user_id}/balance")
    return {name: Decimal(wallet[name]) for name in ("balance", "topped_up_total")}


def _membership(gw: Gateway, key: str) -> str:
    with gw.http(key) as http:
        answer = http.post("/api/v1/user/admin/get-membership-expire-date").json()
    level: str = answer["data"]["membership"]
    return level


def test_a_checkout_top_up_credits_the_balance_and_lifts_membership_and_rpm(
    paying: Gateway, stripe_fake: FakeStripe, fake: FakeOpenAI
) -> None:
    model = priced_model(paying, fake, input="0.01", output="0.01")
    manager = _manager(paying, credit="1")
    caller = paying.make_user_key(user_id=manager.user_id)
    assert [chat(paying, caller.key, model).status_code for _ in range(2)] == [200, 200]
    refused = chat(paying, caller.key, model)
    assert refused.status_code == 429 and refused.headers["x-ratelimit-limit-requests"] == "2"
    assert _membership(paying, manager.key) == "free"

    order = _topup(paying, manager.key, "20")
    assert (
        order["state"] == "created"
        and order["amount"] == Decimal("20")
        and order["amount_minor"] == 2000
    )
    assert order["pay_url"].startswith(stripe_fake.base_url + "/pay/cs_test_")
    session = stripe_fake.objects[order["provider_ref"]]
    assert session["amount_total"] == 2000 and session["currency"] == "usd"
    assert session["metadata"]["order_id"] == str(order["id"])
    assert session["success_url"].endswith("/console/billing?done=paid")
    sent = [r for r in stripe_fake.requests if r[1] == "/v1/checkout/sessions"]
    assert sent[-1][2]["_auth"] == "Bearer sk_test_relaygate"  # the official SDK called it
    before = _balance(paying, manager.user_id)["balance"]

    stripe_fake.complete(order["provider_ref"])
    after = _balance(paying, manager.user_id)
    assert after["balance"] == before + 20
    assert after["topped_up_total"] == Decimal("20")
    (listed,) = _orders(paying, manager.key)
    assert listed["state"] == "paid" and listed["paid_at"] and listed["pay_url"] is None
    assert _membership(paying, manager.key) == "vip"
    assert chat(paying, caller.key, model).status_code == 200  # the $20 tier: 1,000 a minute


def test_an_invoice_top_up_is_credited_when_the_invoice_is_paid(
    paying: Gateway, stripe_fake: FakeStripe
) -> None:
    manager = _manager(paying)
    order = _topup(paying, manager.key, "12.34", method="invoice")
    assert order["method"] == "invoice" and order["provider_ref"].startswith("in_test_")
    invoice = stripe_fake.objects[order["provider_ref"]]
    assert invoice["status"] == "open" and invoice["amount_due"] == 1234
    assert order["pay_url"] == invoice["hosted_invoice_url"]
    assert _balance(paying, manager.user_id)["balance"] == Decimal("0")
    stripe_fake.complete(order["provider_ref"])
    assert _balance(paying, manager.user_id)["balance"] == Decimal("12.34")
    (listed,) = _orders(paying, manager.key)
    assert listed["state"] == "paid" and listed["receipt_url"] == invoice["hosted_invoice_url"]


def test_a_replayed_webhook_credits_once(paying: Gateway, stripe_fake: FakeStripe) -> None:
    manager = _manager(paying)
    order = _topup(paying, manager.key, "20")
    delivery = stripe_fake.complete(order["provider_ref"])
    for _ in range(3):
        again = stripe_fake.deliver(delivery)
        assert again.status_code == 200 and again.json()["data"]["outcome"] == "duplicate"
    assert _balance(paying, manager.user_id)["balance"] == Decimal("20")


def test_ten_concurrent_deliveries_of_one_event_credit_once(
    paying: Gateway, stripe_fake: FakeStripe
) -> None:
    manager = _manager(paying)
    order = _topup(paying, manager.key, "50")
    delivery = stripe_fake.pay(order["provider_ref"])
    answers: list[httpx.Response] = []
    start = threading.Barrier(10)

    def send() -> None:
        start.wait()
        answers.append(stripe_fake.deliver(delivery))

    threads = [threading.Thread(target=send) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert [a.status_code for a in answers] == [200] * 10
    outcomes = sorted(a.json()["data"]["outcome"] for a in answers)
    assert outcomes == ["applied"] + ["duplicate"] * 9
    assert _balance(paying, manager.user_id)["balance"] == Decimal("50")


def test_two_events_paying_one_order_credit_once(paying: Gateway, stripe_fake: FakeStripe) -> None:
    manager = _manager(paying)
    order = _topup(paying, manager.key, "20")
    first = stripe_fake.pay(order["provider_ref"])
    second = stripe_fake.event(
        "checkout.session.async_payment_succeeded", stripe_fake.objects[order["provider_ref"]]
    )
    assert stripe_fake.deliver(second).json()["data"]["outcome"] == "applied"
    assert stripe_fake.deliver(first).json()["data"]["outcome"] == "already-paid"
    assert _balance(paying, manager.user_id)["balance"] == Decimal("20")


def test_a_refund_arriving_before_the_payment_is_applied_after_it(
    paying: Gateway, stripe_fake: FakeStripe
) -> None:
    manager = _manager(paying)
    order = _topup(paying, manager.key, "20")
    paid = stripe_fake.pay(order["provider_ref"])
    refund = stripe_fake.refund_event(order["provider_ref"], 500)
    early = stripe_fake.deliver(refund)
    assert early.status_code == 200 and early.json()["data"]["outcome"] == "waiting"
    assert _balance(paying, manager.user_id)["balance"] == Decimal("0")
    assert stripe_fake.deliver(paid).json()["data"]["outcome"] == "applied"
    balance = _balance(paying, manager.user_id)
    assert balance["balance"] == Decimal("15") and balance["topped_up_total"] == Decimal("15")
    (listed,) = _orders(paying, manager.key)
    assert listed["state"] == "refunded" and listed["refunded"] == Decimal("5")
    assert stripe_fake.deliver(refund).json()["data"]["outcome"] == "duplicate"
    assert _balance(paying, manager.user_id)["balance"] == Decimal("15")


def test_a_refund_can_take_the_balance_below_zero(paying: Gateway, stripe_fake: FakeStripe) -> None:
    manager = _manager(paying)
    order = _topup(paying, manager.key, "20")
    stripe_fake.complete(order["provider_ref"])
    assert _membership(paying, manager.key) == "vip"
    paying.credit(manager.user_id, "-15", "adjustment")  # as if $15 had been spent
    answer = stripe_fake.deliver(stripe_fake.refund_event(order["provider_ref"], 2000))
    assert answer.json()["data"]["outcome"] == "applied"
    balance = _balance(paying, manager.user_id)
    assert balance["balance"] == Decimal("-15") and balance["topped_up_total"] == Decimal("0")
    ledger = paying.op("GET", f"/users/{manager.user_id}/ledger")["entries"]
    assert ledger[0]["kind"] == "refund" and ledger[0]["amount"] == -20_000_000
    assert _membership(paying, manager.key) == "free"
    # a second, smaller cumulative amount (an older event delivered late) takes nothing
    late = stripe_fake.deliver(stripe_fake.refund_event(order["provider_ref"], 1000))
    assert late.json()["data"]["outcome"] == "already-refunded"
    assert _balance(paying, manager.user_id)["balance"] == Decimal("-15")


def _refused(
    paying: Gateway,
    stripe_fake: FakeStripe,
    answer: httpx.Response,
    order: dict[str, Any],
    user_id: int,
) -> None:
    assert answer.status_code == 400, answer.text
    assert answer.json()["errorType"] == "invalid_request_error"
    assert _balance(paying, user_id)["balance"] == Decimal("0")
    assert (
        paying.op("GET", "/payments/orders", params={"user_id": user_id})[0]["state"] == "created"
    )


def test_forged_and_tampered_deliveries_are_refused(
    paying: Gateway, stripe_fake: FakeStripe
) -> None:
    manager = _manager(paying)
    order = _topup(paying, manager.key, "20")
    delivery = stripe_fake.pay(order["provider_ref"])
    forged = stripe_fake.deliver(delivery, secret="whsec_not_the_gateways")
    _refused(paying, stripe_fake, forged, order, manager.user_id)
    tampered = delivery.payload.replace(b'"amount_total": 2000', b'"amount_total": 200000')
    _refused(
        paying, stripe_fake, stripe_fake.deliver(delivery, payload=tampered), order, manager.user_id
    )
    unsigned = httpx.post(stripe_fake.webhook_url, content=delivery.payload)
    _refused(paying, stripe_fake, unsigned, order, manager.user_id)
    # the genuine delivery still works afterwards: refusals did not burn the event id
    assert stripe_fake.deliver(delivery).json()["data"]["outcome"] == "applied"


def test_a_stale_timestamp_is_refused(paying: Gateway, stripe_fake: FakeStripe) -> None:
    manager = _manager(paying)
    order = _topup(paying, manager.key, "20")
    delivery = stripe_fake.pay(order["provider_ref"])
    stale = stripe_fake.deliver(delivery, timestamp=int(time.time()) - 3600)
    _refused(paying, stripe_fake, stale, order, manager.user_id)


def test_unknown_events_are_acknowledged_and_ignored(
    paying: Gateway, stripe_fake: FakeStripe
) -> None:
    delivery = stripe_fake.event("customer.created", {"id": "cus_x", "object": "customer"})
    answer = stripe_fake.deliver(delivery)
    assert answer.status_code == 200 and answer.json()["data"]["outcome"] == "ignored"
    stray = stripe_fake.event(
        "checkout.session.completed",
        {"id": "cs_unknown", "payment_status": "paid", "metadata": {"order_id": "999999"}},
    )
    assert stripe_fake.deliver(stray).json()["data"]["outcome"] == "unknown-order"


def test_an_expired_session_leaves_the_order_expired(
    paying: Gateway, stripe_fake: FakeStripe
) -> None:
    manager = _manager(paying)
    order = _topup(paying, manager.key, "20")
    expired = stripe_fake.event(
        "checkout.session.expired", stripe_fake.objects[order["provider_ref"]]
    )
    assert stripe_fake.deliver(expired).json()["data"]["outcome"] == "applied"
    assert _orders(paying, manager.key)[0]["state"] == "expired"
    listed = paying.op(
        "GET", "/payments/orders", params={"state": "expired", "user_id": manager.user_id}
    )
    assert [o["id"] for o in listed] == [order["id"]]


@pytest.mark.parametrize(
    ("amount", "why"),
    [("4.99", "between"), ("501", "between"), ("20.001", "minor units")],
)
def test_amounts_outside_the_settings_are_refused(paying: Gateway, amount: str, why: str) -> None:
    manager = _manager(paying)
    with paying.http(manager.key) as http:
        answer = http.post("/api/v1/user/payments/topups", json={"amount": amount})
    assert answer.status_code == 400 and why in answer.json()["message"], answer.text
    assert _orders(paying, manager.key) == []


def test_payments_are_off_without_a_stripe_key(sqlite_gateway: Gateway) -> None:
    key = sqlite_gateway.make_user_key(is_admin=True)
    with sqlite_gateway.http(key.key) as http:
        for answer in (
            http.post("/api/v1/user/payments/topups", json={"amount": "20"}),
            http.get("/api/v1/user/payments/orders"),
            http.post(WEBHOOK, content=b"{}"),
        ):
            assert answer.status_code == 404, answer.text
            assert answer.json()["message"] == "Payments are not configured on this gateway."


def test_a_dispute_is_debited_once_as_a_ledger_entry(
    paying: Gateway, stripe_fake: FakeStripe
) -> None:
    manager = _manager(paying)
    order = _topup(paying, manager.key, "20")
    stripe_fake.complete(order["provider_ref"])
    dispute = stripe_fake.dispute_event(order["provider_ref"], 2000)
    assert stripe_fake.deliver(dispute).json()["data"]["outcome"] == "applied"
    assert stripe_fake.deliver(dispute).json()["data"]["outcome"] == "duplicate"
    balance = _balance(paying, manager.user_id)
    assert balance["balance"] == Decimal("0") and balance["topped_up_total"] == Decimal("0")
    ledger = paying.op("GET", f"/users/{manager.user_id}/ledger")["entries"]
    assert ledger[0]["kind"] == "dispute" and ledger[0]["amount"] == -20_000_000


def _dispute_id(delivery: Delivery) -> str:
    dispute_id: str = json.loads(delivery.payload)["data"]["object"]["id"]
    return dispute_id


def _outcome(stripe_fake: FakeStripe, delivery: Delivery) -> str:
    answer = stripe_fake.deliver(delivery)
    assert answer.status_code == 200, answer.text
    outcome: str = answer.json()["data"]["outcome"]
    return outcome


def _ledger_kinds(gw: Gateway, user_id: int) -> list[tuple[str, int]]:
    entries = gw.op("GET", f"/users/{user_id}/ledger")["entries"]
    return [(e["kind"], e["amount"]) for e in reversed(entries)]  # oldest first


def test_a_won_dispute_gives_the_money_back_once(paying: Gateway, stripe_fake: FakeStripe) -> None:
    manager = _manager(paying)
    order = _topup(paying, manager.key, "20")
    stripe_fake.complete(order["provider_ref"])
    paying.credit(manager.user_id, "-15", "adjustment")  # as if $15 had been spent
    dispute = stripe_fake.dispute_event(order["provider_ref"], 2000)
    assert _outcome(stripe_fake, dispute) == "applied"
    balance = _balance(paying, manager.user_id)
    assert balance == {"balance": Decimal("-15"), "topped_up_total": Decimal("0")}
    assert _orders(paying, manager.key)[0]["state"] == "disputed"

    won = stripe_fake.dispute_closed_event(_dispute_id(dispute), "won")
    assert _outcome(stripe_fake, won) == "applied"
    balance = _balance(paying, manager.user_id)
    assert balance == {"balance": Decimal("5"), "topped_up_total": Decimal("20")}
    assert _ledger_kinds(paying, manager.user_id)[-2:] == [
        ("dispute", -20_000_000),
        ("dispute_reversal", 20_000_000),
    ]
    (listed,) = _orders(paying, manager.key)
    assert listed["state"] == "paid" and listed["refunded"] == Decimal("0")
    assert _membership(paying, manager.key) == "vip"

    # a replay, another event saying the same, and the dispute's own event again: no change
    assert _outcome(stripe_fake, won) == "duplicate"
    again = stripe_fake.dispute_closed_event(_dispute_id(dispute), "won")
    assert _outcome(stripe_fake, again) == "already-reinstated"
    reopened = stripe_fake.event(
        "charge.dispute.created", json.loads(dispute.payload)["data"]["object"]
    )
    assert _outcome(stripe_fake, reopened) == "already-disputed"
    assert _balance(paying, manager.user_id)["balance"] == Decimal("5")


def test_a_lost_dispute_changes_nothing_more(paying: Gateway, stripe_fake: FakeStripe) -> None:
    manager = _manager(paying)
    order = _topup(paying, manager.key, "20")
    stripe_fake.complete(order["provider_ref"])
    dispute = stripe_fake.dispute_event(order["provider_ref"], 1500)
    assert _outcome(stripe_fake, dispute) == "applied"
    assert _balance(paying, manager.user_id)["balance"] == Decimal("5")
    lost = stripe_fake.dispute_closed_event(_dispute_id(dispute), "lost")
    assert _outcome(stripe_fake, lost) == "dispute-lost"
    assert _balance(paying, manager.user_id)["balance"] == Decimal("5")
    (listed,) = _orders(paying, manager.key)
    assert listed["state"] == "disputed" and listed["refunded"] == Decimal("15")
    assert [kind for kind, _ in _ledger_kinds(paying, manager.user_id)] == ["topup", "dispute"]
    inquiry = stripe_fake.dispute_closed_event(_dispute_id(dispute), "warning_closed")
    assert _outcome(stripe_fake, inquiry) == "ignored"


def test_a_dispute_won_before_it_is_seen_is_credited_once_after_it(
    paying: Gateway, stripe_fake: FakeStripe
) -> None:
    manager = _manager(paying)
    order = _topup(paying, manager.key, "20")
    stripe_fake.complete(order["provider_ref"])
    dispute = stripe_fake.dispute_event(order["provider_ref"], 2000)
    won = stripe_fake.dispute_closed_event(_dispute_id(dispute), "won")
    assert _outcome(stripe_fake, won) == "waiting"  # nothing taken yet: nothing to give back
    assert _balance(paying, manager.user_id)["balance"] == Decimal("20")
    assert _outcome(stripe_fake, dispute) == "applied"  # taken, and given back with it
    assert _balance(paying, manager.user_id) == {
        "balance": Decimal("20"),
        "topped_up_total": Decimal("20"),
    }
    assert [kind for kind, _ in _ledger_kinds(paying, manager.user_id)] == [
        "topup",
        "dispute",
        "dispute_reversal",
    ]
    assert _outcome(stripe_fake, won) == "duplicate"
    assert _outcome(stripe_fake, dispute) == "duplicate"
    assert _balance(paying, manager.user_id)["balance"] == Decimal("20")
    assert _orders(paying, manager.key)[0]["state"] == "paid"


def test_a_dispute_and_its_win_before_the_payment_settle_with_it(
    paying: Gateway, stripe_fake: FakeStripe
) -> None:
    manager = _manager(paying)
    order = _topup(paying, manager.key, "20")
    paid = stripe_fake.pay(order["provider_ref"])
    dispute = stripe_fake.dispute_event(order["provider_ref"], 2000)
    won = stripe_fake.dispute_closed_event(_dispute_id(dispute), "won")
    assert _outcome(stripe_fake, won) == "waiting"
    assert _outcome(stripe_fake, dispute) == "waiting"
    assert _balance(paying, manager.user_id)["balance"] == Decimal("0")
    assert _outcome(stripe_fake, paid) == "applied"
    assert _balance(paying, manager.user_id) == {
        "balance": Decimal("20"),
        "topped_up_total": Decimal("20"),
    }
    assert sorted(kind for kind, _ in _ledger_kinds(paying, manager.user_id)) == [
        "dispute",
        "dispute_reversal",
        "topup",
    ]
    for delivery in (won, dispute, paid):
        assert _outcome(stripe_fake, delivery) == "duplicate"
    assert _balance(paying, manager.user_id)["balance"] == Decimal("20")
