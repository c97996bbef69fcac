"""Invoices in a real browser: a user pays a top-up (fake Stripe), asks for an invoice on
/console/invoices, the operator issues it on /console/admin/invoices, and the user
downloads the PDF, which pypdf reads back. A second request is rejected with a reason the
user then sees. Screenshots (desktop and 360 px), axe, the first-load budget."""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext, Page, expect
from pypdf import PdfReader

from tests.browser.kit import (
    OPERATOR_EMAIL,
    assert_accessible,
    new_email,
    page_weight,
    shot,
    start_browser_gateway,
)
from tests.fakes.stripe import FakeStripe
from tests.harness import Gateway

WEBHOOK = "/api/v1/payments/stripe/webhook"
ORG = "深圳市示例科技有限公司"
TAX_ID = "91440300MA5G0EXAMPLE"


@pytest.fixture(scope="module")
def stripe_fake() -> Iterator[FakeStripe]:
    with FakeStripe() as fake:
        yield fake


@pytest.fixture(scope="module")
def invoicing_gateway(
    stripe_fake: FakeStripe, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Gateway]:
    gw = start_browser_gateway(
        tmp_path_factory.mktemp("browser-invoices"),
        stripe_secret_key="sk_test_browser",
        stripe_webhook_secret=stripe_fake.webhook_secret,
        stripe_api_base=stripe_fake.base_url,
        payments_amount_options=["10", "20"],
        invoice_issuer_name="Relaygate Operator Ltd",
        invoice_issuer_address="1 Gateway Road",
        invoice_issuer_tax_id="GB123456789",
    )
    stripe_fake.webhook_url = gw.url + WEBHOOK
    yield gw
    gw.stop()


@pytest.fixture
def gateway(invoicing_gateway: Gateway) -> Gateway:
    """This module's pages need payments and an invoice issuer."""
    return invoicing_gateway


def _pay(page: Page, stripe: FakeStripe, amount: str) -> None:
    page.goto("/console/billing")
    page.get_by_role("button", name=f"Top up {amount} USD").click()
    href = page.get_by_role("link", name="Continue to payment on Stripe").get_attribute("href")
    stripe.complete((href or "").rsplit("/", 1)[1])
    page.reload()
    expect(page.get_by_text("Paid", exact=True).first).to_be_visible()


def _request(page: Page) -> None:
    page.get_by_role("link", name="Invoices").click()
    expect(page.get_by_role("heading", name="Invoices", level=1)).to_be_visible()
    page.get_by_role("checkbox").first.check()
    page.get_by_label("Organisation name").fill(ORG)
    page.get_by_label("Tax id").fill(TAX_ID)
    page.get_by_label("Address (optional)").fill("深圳市南山区科技园 1 号")
    page.get_by_role("button", name="Request invoice").click()
    expect(page.get_by_role("status")).to_contain_text("Invoice requested")


def test_request_issue_and_download(
    page: Page,
    stripe_fake: FakeStripe,
    sign_in: Callable[..., None],
    new_context: Callable[..., BrowserContext],
    tmp_path: Path,
) -> None:
    sign_in(page, new_email("invoice"))
    page.goto("/console/invoices")
    expect(page.get_by_text("No paid top-up left to invoice.")).to_be_visible()
    _pay(page, stripe_fake, "20")
    page.goto("/console/")
    _request(page)
    expect(page.locator("table.data")).to_contain_text("Requested")
    shot(page, "console-invoices-requested")
    assert_accessible(page)

    desk = new_context()
    operator = desk.new_page()
    sign_in(operator, OPERATOR_EMAIL)
    operator.get_by_role("link", name="Invoice requests").click()
    expect(operator.get_by_role("heading", name="Invoice requests")).to_be_visible()
    row = operator.locator("tr", has_text=ORG)
    expect(row).to_contain_text(TAX_ID)
    shot(operator, "console-admin-invoices")
    assert_accessible(operator)
    row.get_by_role("button", name=re.compile("^Issue")).click()
    expect(operator.get_by_role("status")).to_contain_text("Invoice issued")
    number = operator.locator("tr", has_text=ORG).locator("td.mono").inner_text()
    assert re.fullmatch(r"INV-\d{4}-\d{6}", number)

    page.reload()
    expect(page.locator("table.data")).to_contain_text("Issued")
    with page.expect_download() as caught:
        page.get_by_role("link", name=re.compile("^Download PDF")).click()
    saved = tmp_path / "invoice.pdf"
    caught.value.save_as(saved)
    assert caught.value.suggested_filename == f"{number}.pdf"
    text = PdfReader(io.BytesIO(saved.read_bytes())).pages[0].extract_text()
    assert number in text and ORG in text and TAX_ID in text and "20.00 USD" in text
    shot(page, "console-invoices-issued")

    phone = new_context(viewport={"width": 360, "height": 740})
    phone.add_cookies(page.context.cookies())  # type: ignore[arg-type]
    small = phone.new_page()
    small.goto("/console/invoices")
    expect(small.get_by_role("heading", name="Your invoices")).to_be_visible()
    shot(small, "console-invoices-360")
    page_weight(phone.new_page(), "/console/invoices").assert_under()


def test_a_rejected_request_shows_the_reason(
    page: Page,
    stripe_fake: FakeStripe,
    sign_in: Callable[..., None],
    new_context: Callable[..., BrowserContext],
) -> None:
    sign_in(page, new_email("invoice-reject"))
    _pay(page, stripe_fake, "10")
    _request(page)

    desk = new_context()
    operator = desk.new_page()
    sign_in(operator, OPERATOR_EMAIL)
    operator.goto("/console/admin/invoices?state=requested")
    row = operator.locator("tr", has_text=ORG).first
    row.locator("summary").click()
    row.get_by_label("Reason (the user sees it)").fill("The tax id does not match the name.")
    row.get_by_role("button", name=re.compile("^Reject invoice")).click()
    expect(operator.get_by_role("status")).to_contain_text("Invoice rejected")
    page_weight(operator, "/console/admin/invoices").assert_under()

    page.reload()
    expect(page.locator("table.data")).to_contain_text("Rejected")
    expect(page.locator("table.data")).to_contain_text("The tax id does not match the name.")
    expect(page.get_by_role("checkbox")).to_have_count(1)  # the top-up is free again
    assert_accessible(page)
