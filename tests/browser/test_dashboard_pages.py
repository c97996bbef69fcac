"""The dashboard and the prices page as a person uses them: a new account's empty dashboard,
then calls with a key and the month's chart and by-model table; the prices page's list, its
filter (with and without script) and a prediction equal to what a real call was billed.

This module runs its own gateway with the echo model priced (the shared one keeps it free
for the other pages' tests), so a call has an amount for the chart and the prediction.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from tests.browser.kit import (
    assert_accessible,
    new_email,
    page_weight,
    shot,
    start_browser_gateway,
)
from tests.harness import Gateway

ECHO = "relaygate-echo"
# official prices per 1M tokens (currency units) and the model's multiplier
ECHO_PRICE = {"input": "3", "output": "15", "multiplier": "1.5"}
OTHER = "zz-other-model"
PHONE = {"width": 360, "height": 780}
TEAM = "team"  # a pricing group at × 0.5


@pytest.fixture(scope="module")
def priced_gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    gw = start_browser_gateway(tmp_path_factory.mktemp("dash-gw"), group_multipliers={TEAM: "0.5"})
    gw.op("PUT", f"/models/{ECHO}", json=ECHO_PRICE)
    gw.op("PUT", f"/models/{OTHER}", json={"input": "0.5", "output": "1"})
    # served (so the user may call it) by a channel no test calls
    gw.add_channel(None, [OTHER], base_url="http://127.0.0.1:9/v1")
    yield gw
    gw.stop()


@pytest.fixture
def gateway(priced_gateway: Gateway) -> Gateway:
    return priced_gateway


def _funded_user(gateway: Gateway, label: str, group: str = "") -> tuple[str, int]:
    """A user the operator created and topped up (they sign in with their address)."""
    email = new_email(label)
    user_id = int(gateway.create_user(email)["id"])
    gateway.credit(user_id, "10")
    if group:
        gateway.op("PATCH", f"/users/{user_id}", json={"group": group})
    return email, user_id


def _new_key(page: Page) -> str:
    """A key made through the platform API with the page's own session (and its CSRF
    token), as a signed-in user without a management key makes one."""
    token = page.locator("input[name=csrf_token]").first.get_attribute("value")
    assert token
    answer = page.request.post(
        "/api/v1/user/admin/new-api-token",
        form={"expired_at": "2099-01-01T00:00:00Z", "max_fee": "0", "remark": "browser"},
        headers={"X-CSRF-Token": token},
    )
    assert answer.ok, answer.text()
    key: str = answer.json()["data"]
    return key


def _call_echo(gateway: Gateway, key: str, user_id: int, text: str, calls: int) -> list[Any]:
    client = gateway.openai(key)
    for _ in range(calls):
        client.chat.completions.create(model=ECHO, messages=[{"role": "user", "content": text}])
    records: list[Any] = []
    deadline = time.monotonic() + 10
    while len(records) < calls and time.monotonic() < deadline:
        time.sleep(0.05)  # the bill is written after the answer
        records = gateway.usage(user_id=user_id)
    assert len(records) == calls, records
    return records


def _micro(text: str) -> int:
    return int(Decimal(text.strip()) * 1_000_000)


def _phone(new_context: Callable[..., BrowserContext], page: Page) -> Page:
    """The same signed-in account in a 360 px wide browser."""
    state = page.context.storage_state()
    return new_context(viewport=PHONE, storage_state=state).new_page()


def test_a_new_user_sees_how_to_make_the_first_call(
    page: Page, sign_in: Callable[..., None], gateway: Gateway
) -> None:
    sign_in(page, new_email("fresh"))
    expect(page.get_by_role("heading", name="Make your first call")).to_be_visible()
    expect(page.locator("#base-url")).to_have_text(f"{gateway.url}/v1")
    expect(page.locator("#first-curl")).to_contain_text(ECHO)
    expect(page.get_by_role("link", name="Create a key")).to_have_attribute("href", "/console/keys")
    expect(page.locator(".dash-chart svg")).to_have_attribute(
        "aria-label", "No spend in the last 30 days."
    )
    expect(page.locator(".dash-chart rect.bar")).to_have_count(0)
    expect(page.get_by_text("No active packages.")).to_be_visible()
    shot(page, "console-dashboard-empty")
    assert_accessible(page)


def test_calls_appear_in_the_chart_and_by_model(
    page: Page, sign_in: Callable[..., None], gateway: Gateway, new_context: Any
) -> None:
    email, user_id = _funded_user(gateway, "dash")
    sign_in(page, email)
    key = _new_key(page)
    records = _call_echo(gateway, key, user_id, "hello dashboard", calls=3)
    spent = sum(r["amount"] for r in records)
    assert spent > 0

    page.goto("/console/")
    expect(page.get_by_role("heading", name="Make your first call")).to_have_count(0)
    today = page.locator(".dash-chart g.day.today")
    expect(today.locator("rect.bar")).to_have_count(1)  # today's bar is drawn
    expect(today.locator("title")).to_contain_text("3 calls")
    expect(page.locator(".dash-chart rect.bar")).to_have_count(1)  # and only today's
    label = page.locator(".dash-chart svg").get_attribute("aria-label") or ""
    assert "in total" in label, label
    row = page.locator("table.data tbody tr", has=page.get_by_role("rowheader", name=ECHO))
    cells = row.locator("td")
    expect(cells.nth(0)).to_have_text("3")  # calls
    assert _micro(cells.nth(4).inner_text()) == spent  # exact amount
    expect(page.locator(".tiles .tile").first.locator(".value")).to_have_text(
        f"{Decimal(10_000_000 - spent) / 1_000_000:.6f}"
    )
    shot(page, "console-dashboard")
    assert_accessible(page)
    # the same values as a table (keyboard and screen reader)
    page.locator(".chart-table summary").click()
    first = page.locator(".chart-table tbody tr").first.locator("td")
    assert _micro(first.nth(1).inner_text()) == spent
    expect(first.nth(2)).to_have_text("3")

    page.get_by_role("link", name="Calls", exact=True).click()
    expect(page).to_have_url(re.compile(r"\?chart=calls$"))
    expect(page.get_by_role("heading", name="Calls per day")).to_be_visible()
    shot(page, "console-dashboard-calls")

    phone = _phone(new_context, page)
    phone.goto("/console/")
    expect(phone.locator(".dash-chart g.day.today rect.bar")).to_have_count(1)
    shot(phone, "console-dashboard-360")
    assert_accessible(phone)
    dark = new_context(color_scheme="dark", storage_state=page.context.storage_state()).new_page()
    dark.goto("/console/")
    shot(dark, "console-dashboard-dark")
    assert_accessible(dark)  # contrast holds in the dark theme too
    weigh = page.context.new_page()
    page_weight(weigh, "/console/").assert_under()


def test_prices_list_filter_and_a_prediction_equal_to_the_bill(
    page: Page, sign_in: Callable[..., None], gateway: Gateway, new_context: Any
) -> None:
    email, user_id = _funded_user(gateway, "prices", group=TEAM)
    sign_in(page, email)
    key = _new_key(page)
    [billed] = _call_echo(gateway, key, user_id, "what will this cost " * 20, calls=1)
    assert billed["amount"] > 0 and billed["package_amount"] == 0
    assert billed["group_multiplier"] == "0.5"

    page.get_by_role("navigation").get_by_role("link", name="Prices").first.click()
    expect(page).to_have_url(re.compile(r"/console/prices$"))
    echo_row = page.locator("#price-rows tr", has=page.get_by_role("rowheader", name=ECHO))
    other_row = page.locator("#price-rows tr", has=page.get_by_role("rowheader", name=OTHER))
    expect(echo_row.locator("td").nth(0)).to_have_text("3.000000")  # input per 1M
    expect(echo_row.locator("td").nth(1)).to_have_text("15.000000")  # output per 1M
    expect(echo_row.locator("td").nth(-3)).to_have_text("0.75")  # × /v1: model 1.5 × group 0.5
    expect(echo_row.locator("td").nth(-2)).to_have_text("0.15")  # × cc-omg: also × 0.2
    expect(other_row).to_be_visible()
    shot(page, "console-prices")
    assert_accessible(page)

    # the filter as one types (console.js) ...
    page.get_by_label("Filter models").fill("echo")
    expect(other_row).to_be_hidden()
    expect(echo_row).to_be_visible()
    expect(page.locator("#price-count")).to_have_text("1 of 2 models")
    page.get_by_label("Filter models").fill("")
    expect(other_row).to_be_visible()
    # ... and as a query (no script needed)
    page.goto("/console/prices?q=OTHER")
    expect(other_row).to_be_visible()
    expect(echo_row).to_be_hidden()

    form = page.locator("form.predict-form")
    form.get_by_label("Model").select_option(ECHO)
    form.get_by_label("Prompt tokens").fill(str(billed["prompt_tokens"]))
    form.get_by_label("Completion tokens").fill(str(billed["completion_tokens"]))
    form.get_by_label("Route group").select_option(label="/v1")
    form.get_by_role("button", name="Predict").click()
    expect(page).to_have_url(re.compile(r"predict=1"))
    predicted = page.locator("#predicted-amount").inner_text()
    assert _micro(predicted) == billed["amount"], (predicted, billed)
    shot(page, "console-prices-predicted")
    assert_accessible(page)

    phone = _phone(new_context, page)
    phone.goto("/console/prices")
    expect(phone.get_by_role("heading", name="Predict a charge")).to_be_visible()
    shot(phone, "console-prices-360")
    assert_accessible(phone)
    page_weight(page.context.new_page(), "/console/prices").assert_under()


def test_a_wrong_prediction_form_says_what_to_fix(page: Page, sign_in: Callable[..., None]) -> None:
    sign_in(page, new_email("predict"))
    page.goto("/console/prices")
    form = page.locator("form.predict-form")
    form.get_by_label("Prompt tokens").fill("-5")
    form.get_by_role("button", name="Predict").click()
    expect(page.get_by_role("alert")).to_contain_text("needs a correction")
    expect(form.get_by_label("Prompt tokens")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#prompt-error")).to_have_text("Enter a whole number of tokens, 0 or more.")
    expect(page.locator("#predicted-amount")).to_have_count(0)
    assert_accessible(page)
