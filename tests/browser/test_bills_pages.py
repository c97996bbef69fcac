"""The bills and packages pages in a real browser, as a person uses them: calls made with
the user's keys appear in the bills, the filters change the URL and survive a reload, a
line opens its charge explanation, the CSV downloads with the same calls and exact
amounts, small pages walk older and newer, and a granted package lists the calls it paid
for. Screenshots of every page (desktop and 360 px), axe, the first-load budget."""

from __future__ import annotations

import csv
import re
import uuid
from collections.abc import Callable
from typing import Any

from playwright.sync_api import BrowserContext, Page, expect

from tests.browser.kit import assert_accessible, new_email, page_weight, shot
from tests.fakes.openai_payloads import Behaviour
from tests.fakes.openai_upstream import FakeOpenAI
from tests.harness import Gateway
from tests.integration.test_money import chat, priced_model, record_of
from tests.integration.test_rules_relay import create_rule

AMOUNT = "0.009000"  # 1000 input × 2.00 + 500 output × 8.00 per million, × 1.5
ROWS = "table.bills tbody tr"


def _user(gateway: Gateway) -> tuple[str, int]:
    email = new_email("bills")
    user_id = int(gateway.create_user(email)["id"])
    gateway.credit(user_id, "100")
    return email, user_id


def _calls(gateway: Gateway, key: str, model: str, count: int) -> list[dict[str, Any]]:
    return [record_of(gateway, chat(gateway, key, model)) for _ in range(count)]


def _phone(new_context: Callable[..., BrowserContext], page: Page) -> Page:
    """The same signed-in user on a 360 px wide screen (the session cookie copied)."""
    phone = new_context(viewport={"width": 360, "height": 740})
    phone.add_cookies(page.context.cookies())  # type: ignore[arg-type]
    return phone.new_page()


def test_bills_filter_explain_export_and_paginate(
    page: Page,
    gateway: Gateway,
    fake: FakeOpenAI,
    sign_in: Callable[..., None],
    new_context: Callable[..., BrowserContext],
) -> None:
    email, user_id = _user(gateway)
    sign_in(page, email)
    page.goto("/console/bills")
    expect(page.get_by_text("No calls yet.")).to_be_visible()
    shot(page, "console-bills-empty")

    model = priced_model(gateway, fake, input="2.00", output="8.00", multiplier="1.5")
    other_model = priced_model(gateway, fake, input="1.00", output="1.00")
    fake.default = Behaviour(prompt_tokens=1000, completion_tokens=500)
    main = gateway.make_user_key(user_id=user_id, remark="laptop")
    spare = gateway.make_user_key(user_id=user_id, remark="ci runner")
    cool = {"type": "set", "path": "/temperature", "value": 0}
    rule = create_rule(
        gateway, spare, {"name": "ci cool", "match": {"key_ids": [spare.id]}, "actions": [cool]}
    )
    made = _calls(gateway, main.key, model, 3) + _calls(gateway, spare.key, other_model, 1)

    page.goto("/console/bills")
    expect(page.locator(ROWS)).to_have_count(4)
    expect(page.locator(ROWS).first).to_contain_text(other_model)
    named = page.locator(ROWS).first.get_by_role("link", name="ci cool")  # the rule that fired
    expect(named).to_have_attribute("href", f"/console/rules/{rule['id']}")
    expect(page.locator(ROWS).nth(1)).to_contain_text(AMOUNT)
    shot(page, "console-bills")
    assert_accessible(page)

    # filter by model: the URL carries it, a reload keeps it
    page.get_by_label("Model").fill(model)
    page.get_by_role("button", name="Apply").click()
    page.wait_for_url(re.compile(rf"model={model}"))
    expect(page.locator(ROWS)).to_have_count(3)
    page.reload()
    expect(page.locator(ROWS)).to_have_count(3)
    expect(page.get_by_label("Model")).to_have_value(model)
    shot(page, "console-bills-filtered")

    # by key instead
    page.get_by_label("Model").fill("")
    page.get_by_label("Key").select_option(value=str(spare.id))
    page.get_by_role("button", name="Apply").click()
    page.wait_for_url(re.compile(rf"key={spare.id}"))
    expect(page.locator(ROWS)).to_have_count(1)
    page.reload()
    expect(page.locator(ROWS)).to_have_count(1)
    expect(page.locator(ROWS).first).to_contain_text(other_model)

    # a line's explanation
    page.get_by_role("link", name="Clear filters").first.click()
    page.locator(ROWS).nth(1).get_by_role("link").click()
    page.wait_for_url(re.compile(r"/console/bills/\d+"))
    expect(page.get_by_role("heading", name="How the amount was worked out")).to_be_visible()
    billed = page.get_by_role("row", name=re.compile("Billed amount"))
    expect(billed).to_contain_text(AMOUNT)
    expect(page.get_by_text("The worked-out amount equals the billed amount.")).to_be_visible()
    shot(page, "console-bill-line")
    assert_accessible(page)
    page.get_by_role("link", name="Bills").first.click()

    # the CSV of the same range: the same calls, exact money
    page.goto("/console/bills")
    with page.expect_download() as download:
        page.get_by_role("link", name="Export CSV").click()
    saved = download.value
    assert re.fullmatch(r"relaygate-bills-\d{4}-\d{2}-\d{2}\.csv", saved.suggested_filename)
    with open(saved.path(), encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["requestId"] for r in rows] == [r["request_id"] for r in reversed(made)]
    assert [r["amount"] for r in rows[1:]] == [AMOUNT] * 3
    assert rows[0]["amount"] == "0.001500" and rows[0]["keyRemark"] == "ci runner"
    assert (rows[0]["rules"], rows[1]["rules"]) == (str(rule["id"]), "")

    # small pages, older then newer
    page.goto("/console/bills?limit=2")
    expect(page.locator(ROWS)).to_have_count(2)
    page.get_by_role("link", name=re.compile("Older")).click()
    page.wait_for_url(re.compile(r"cursor="))
    expect(page.locator(ROWS)).to_have_count(2)
    expect(page.locator(ROWS).last).to_contain_text(model)
    expect(page.get_by_role("link", name=re.compile("Older"))).to_have_count(0)
    shot(page, "console-bills-page-2")
    page.get_by_role("link", name=re.compile("Newer")).click()
    page.wait_for_url(re.compile(r"before="))
    expect(page.locator(ROWS).first).to_contain_text(other_model)

    phone = _phone(new_context, page)
    phone.goto("/console/bills")
    expect(phone.locator(ROWS)).to_have_count(4)
    shot(phone, "console-bills-360")
    assert_accessible(phone)
    page_weight(page, "/console/bills").assert_under()


def test_packages_list_and_the_calls_that_drew_on_one(
    page: Page,
    gateway: Gateway,
    fake: FakeOpenAI,
    sign_in: Callable[..., None],
    new_context: Callable[..., BrowserContext],
) -> None:
    email, user_id = _user(gateway)
    sign_in(page, email)
    page.goto("/console/packages")
    expect(page.get_by_text("You have no resource packages yet.")).to_be_visible()
    shot(page, "console-packages-empty")
    assert_accessible(page)

    model = priced_model(gateway, fake, input="2.00", output="8.00", multiplier="1.5")
    fake.default = Behaviour(prompt_tokens=1000, completion_tokens=500)
    name = f"Starter {uuid.uuid4().hex[:4]}"
    body = {"name": name, "amount": "0.020000", "scope_models": [model]}
    type_id = int(gateway.op("POST", "/package-types", json=body)["id"])
    gateway.op("POST", f"/users/{user_id}/packages", json={"type_id": type_id})
    key = gateway.make_user_key(user_id=user_id)
    made = _calls(gateway, key.key, model, 2)  # 0.006 each at official prices

    page.goto("/console/packages")
    row = page.get_by_role("row", name=re.compile(name))
    expect(row).to_contain_text("0.008000")  # 0.020 - 2 × 0.006 left
    expect(row).to_contain_text("Active")
    shot(page, "console-packages")
    assert_accessible(page)
    page_weight(page, "/console/packages").assert_under()

    page.get_by_role("link", name=name).click()
    page.wait_for_url(re.compile(r"/console/packages/\d+$"))
    draws = page.locator("table.data tbody tr")
    expect(draws).to_have_count(2)
    expect(draws.first).to_contain_text("0.006000")
    shot(page, "console-package")
    assert_accessible(page)
    draws.first.get_by_role("link").click()
    page.wait_for_url(re.compile(rf"/console/bills/{made[1]['id']}$"))
    expect(page.get_by_role("row", name=re.compile("Paid first by your resource"))).to_contain_text(
        "0.006000"
    )

    phone = _phone(new_context, page)
    phone.goto("/console/packages")
    expect(phone.get_by_role("link", name=name)).to_be_visible()
    shot(phone, "console-packages-360")
