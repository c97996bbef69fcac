"""The Billing page and the operator's orders page over real HTTP, against the fake
Stripe: a top-up through the console form end to end, CSRF refusal, bad amounts shown in
the page, another user's order is the 404 page, the operator page is the 404 page for a
non-operator. Signing in is the pages' own flow (test_console_sessions.py)."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import httpx

from tests.fakes.stripe import FakeStripe
from tests.harness import Gateway
from tests.integration.test_console_sessions import sign_in
from tests.integration.test_payments_stripe import OPERATOR, paying, stripe_fake

__all__ = ["paying", "stripe_fake"]  # the module's fixtures, shared

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@contextmanager
def _signed_in(gw: Gateway, email: str = "") -> Iterator[httpx.Client]:
    email = email or f"billing-{uuid.uuid4().hex[:10]}@example.test"
    with httpx.Client(base_url=gw.url, timeout=30, follow_redirects=False) as browser:
        sign_in(gw, browser, email)
        yield browser


def _csrf(browser: httpx.Client) -> str:
    page = browser.get("/console/billing")
    assert page.status_code == 200, page.text
    found = CSRF.search(page.text)
    assert found is not None
    return found.group(1)


def _top_up(browser: httpx.Client, amount: str, method: str = "checkout") -> str:
    form = {"csrf_token": _csrf(browser), "amount": amount, "method": method}
    answer = browser.post("/console/billing/topup", data=form)
    assert answer.status_code == 303, answer.text
    location: str = answer.headers["location"]
    assert re.fullmatch(r"/console/billing/orders/\d+", location)
    return location


def test_a_top_up_through_the_billing_page_end_to_end(
    paying: Gateway, stripe_fake: FakeStripe
) -> None:
    with _signed_in(paying) as browser:
        page = browser.get("/console/billing")
        assert "Top up" in page.text and "No top-up yet" in page.text
        order_page = browser.get(_top_up(browser, "20"))
        assert order_page.status_code == 200 and "Awaiting payment" in order_page.text
        pay = re.search(r'href="(http://127\.0\.0\.1:\d+/pay/(cs_test_\w+))"', order_page.text)
        assert pay is not None and httpx.get(pay.group(1)).status_code == 200
        stripe_fake.complete(pay.group(2))
        assert "Paid" in browser.get(order_page.url.path).text
        billing = browser.get("/console/billing").text
        assert "Paid" in billing and "20.00" in billing
        assert "20.00" in browser.get("/console/").text  # the dashboard's balance


def test_an_invoice_from_the_page_links_to_the_hosted_invoice(
    paying: Gateway, stripe_fake: FakeStripe
) -> None:
    with _signed_in(paying) as browser:
        order_page = browser.get(_top_up(browser, "7.50", method="invoice")).text
        assert re.search(r'href="http://127\.0\.0\.1:\d+/pay/in_test_\w+"', order_page)


def test_bad_amounts_are_shown_in_the_page_and_create_nothing(paying: Gateway) -> None:
    with _signed_in(paying) as browser:
        for amount in ("", "abc", "1", "20.001", "99999"):
            form = {"csrf_token": _csrf(browser), "amount": amount}
            answer = browser.post("/console/billing/topup", data=form)
            assert answer.status_code == 400, (amount, answer.text)
            assert "Choose an amount between" in answer.text
        assert "No top-up yet" in browser.get("/console/billing").text


def test_the_form_without_its_csrf_token_is_refused(paying: Gateway) -> None:
    with _signed_in(paying) as browser:
        answer = browser.post("/console/billing/topup", data={"amount": "20"})
        assert answer.status_code == 403
        assert "No top-up yet" in browser.get("/console/billing").text


def test_another_users_order_is_the_404_page(paying: Gateway) -> None:
    with _signed_in(paying) as owner:
        mine = _top_up(owner, "20")
        assert owner.get(mine).status_code == 200
    with _signed_in(paying) as other:
        assert other.get(mine).status_code == 404
        for bad in ("0", "x", "99999999999", "2147483647"):
            assert other.get(f"/console/billing/orders/{bad}").status_code == 404


def test_the_orders_page_is_the_operators(paying: Gateway, stripe_fake: FakeStripe) -> None:
    with _signed_in(paying) as member:
        mine = _top_up(member, "50")
        assert member.get("/console/admin/orders").status_code == 404
    with _signed_in(paying, OPERATOR) as operator:
        listed = operator.get("/console/admin/orders", params={"state": "created"})
        assert listed.status_code == 200 and f"#{mine.rsplit('/', 1)[1]}" in listed.text
        paid = operator.get("/console/admin/orders", params={"state": "paid"}).text
        assert f"#{mine.rsplit('/', 1)[1]}<" not in paid


def test_without_stripe_the_page_says_top_ups_are_off(sqlite_gateway: Gateway) -> None:
    with _signed_in(sqlite_gateway) as browser:
        page = browser.get("/console/billing")
        assert page.status_code == 200 and "Top-ups are not available" in page.text
        form = {"csrf_token": _csrf(browser), "amount": "20"}
        assert browser.post("/console/billing/topup", data=form).status_code == 404
