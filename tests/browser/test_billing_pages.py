"""The Billing page in a real browser: a user picks an amount, goes to the (fake) Stripe
page, the test completes the payment there, and the balance shows on the dashboard; a
free amount outside the limits is refused in the page; the operator's orders page lists
and filters. Screenshots (desktop and 360 px), axe, the first-load budget."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from tests.browser.conftest import OPERATOR_EMAIL
from tests.browser.kit import assert_accessible, new_email, page_weight, shot
from tests.fakes.stripe import FakeStripe
from tests.harness import Gateway, start_gateway

WEBHOOK = "/api/v1/payments/stripe/webhook"


@pytest.fixture(scope="module")
def stripe_fake() -> Iterator[FakeStripe]:
    with FakeStripe() as fake:
        yield fake


@pytest.fixture(scope="module")
def paying_gateway(
    stripe_fake: FakeStripe, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Gateway]:
    gw = start_gateway(
        f"sqlite:///{tmp_path_factory.mktemp('browser-pay')}/gw.db",
        operator_email=OPERATOR_EMAIL,
        stripe_secret_key="sk_test_browser",
        stripe_webhook_secret=stripe_fake.webhook_secret,
        stripe_api_base=stripe_fake.base_url,
        payments_amount_options=["10", "20", "50"],
        payments_min_amount="5",
        payments_max_amount="500",
        login_per_ip_per_minute=0,
        login_per_ip_per_hour=0,
    )
    stripe_fake.webhook_url = gw.url + WEBHOOK
    yield gw
    gw.stop()


@pytest.fixture
def gateway(paying_gateway: Gateway) -> Gateway:
    """This module's pages need a gateway taking Stripe top-ups."""
    return paying_gateway


def test_a_user_tops_up_on_the_billing_page(
    page: Page,
    stripe_fake: FakeStripe,
    sign_in: Callable[..., None],
    new_context: Callable[..., BrowserContext],
) -> None:
    email = new_email("billing")
    sign_in(page, email)
    page.get_by_role("link", name="Billing").click()
    expect(page.get_by_role("heading", name="Billing", level=1)).to_be_visible()
    expect(page.get_by_text("No top-up yet.")).to_be_visible()
    shot(page, "console-billing-empty")
    assert_accessible(page)

    page.get_by_label("Another amount (USD)").fill("1")
    page.get_by_role("button", name="Continue to payment").click()
    expect(page.get_by_role("alert")).to_contain_text("Choose an amount between")
    shot(page, "console-billing-refused")

    page.get_by_role("button", name="Top up 20 USD").click()
    expect(page).to_have_url(re.compile(r"/console/billing/orders/\d+$"))
    expect(page.get_by_text("Awaiting payment")).to_be_visible()
    shot(page, "console-billing-order")
    assert_accessible(page)
    pay = page.get_by_role("link", name="Continue to payment on Stripe")
    href = pay.get_attribute("href") or ""
    session_id = href.rsplit("/", 1)[1]
    assert session_id.startswith("cs_test_")

    stripe_fake.complete(session_id)  # the payer pays on Stripe; Stripe calls the webhook
    page.reload()
    expect(page.get_by_text("Paid", exact=True).first).to_be_visible()
    page.get_by_role("link", name="Billing").first.click()
    expect(page.locator("table.data")).to_contain_text("Paid")
    shot(page, "console-billing-paid")
    assert_accessible(page)
    page.get_by_role("link", name="Dashboard").click()
    expect(page.locator("main")).to_contain_text("20.00")
    shot(page, "console-dashboard-after-top-up")

    phone = new_context(viewport={"width": 360, "height": 740})
    phone.add_cookies(page.context.cookies())  # type: ignore[arg-type]
    small = phone.new_page()
    small.goto("/console/billing")
    expect(small.get_by_role("button", name="Top up 20 USD")).to_be_visible()
    shot(small, "console-billing-360")
    page_weight(phone.new_page(), "/console/billing").assert_under()


def test_the_operator_lists_and_filters_orders(
    page: Page, gateway: Gateway, sign_in: Callable[..., None]
) -> None:
    sign_in(page, OPERATOR_EMAIL)
    page.goto("/console/billing")
    page.get_by_role("button", name="Top up 10 USD").click()
    expect(page.get_by_text("Awaiting payment")).to_be_visible()
    page.get_by_role("link", name="Orders").click()
    expect(page.get_by_role("heading", name="Top-up orders")).to_be_visible()
    shot(page, "console-admin-orders")
    assert_accessible(page)
    page.get_by_label("Status").select_option("expired")
    page.get_by_role("button", name="Filter").click()
    expect(page).to_have_url(re.compile(r"state=expired"))
    expect(page.get_by_text("No order matches.")).to_be_visible()
    page_weight(page, "/console/admin/orders").assert_under()
