"""The operator runs the platform from the console: the overview shows the calls just made,
the user is found by live search, credited with a memo (their own dashboard moves by
exactly that amount), given a package and a group, disabled (their key is refused by the
relay and their console session ends) and enabled again. Screenshots of each page, axe,
the first-load weight, and the pages at 360 px.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable
from decimal import Decimal

import openai
import pytest
from playwright.sync_api import BrowserContext, Page, expect

from tests.browser.kit import OPERATOR_EMAIL, assert_accessible, new_email, page_weight, shot
from tests.harness import Gateway

ECHO = "relaygate-echo"
PHONE = {"width": 360, "height": 740}
CREDIT = "7.654321"


def _user_id(gateway: Gateway, email: str) -> int:
    users = gateway.op("GET", "/users", params={"limit": 1000})
    return int(next(u["id"] for u in users if u["email"] == email))


def _calls(gateway: Gateway, key: str, user_id: int, count: int) -> None:
    client = gateway.openai(key)
    for n in range(count):
        client.chat.completions.create(
            model=ECHO, messages=[{"role": "user", "content": f"hello {n}"}]
        )
    deadline = time.monotonic() + 10
    while len(gateway.usage(user_id=user_id)) < count:  # bills are written after the answer
        assert time.monotonic() < deadline, "the calls' bills did not arrive"
        time.sleep(0.05)


def _balance(page: Page) -> Decimal:
    """The balance tile of the user's own dashboard."""
    page.goto("/console/")
    tile = page.locator(".tile", has=page.get_by_text("Balance", exact=True))
    return Decimal(tile.locator(".value").inner_text().strip())


def _no_sideways_scroll(page: Page) -> None:
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"{page.url} is {width}px wide at 360px"


def test_the_operator_funds_and_manages_a_user(
    page: Page,
    new_context: Callable[..., BrowserContext],
    sign_in: Callable[..., None],
    gateway: Gateway,
) -> None:
    # a customer signs up, gets a key and makes calls
    email = new_email("customer")
    customer = new_context().new_page()
    sign_in(customer, email)
    uid = _user_id(gateway, email)
    gateway.credit(uid, "5")
    key = gateway.make_user_key(user_id=uid).key
    _calls(gateway, key, uid, 3)
    kind = gateway.op(
        "POST",
        "/package-types",
        json={"name": f"Starter {uuid.uuid4().hex[:4]}", "amount": "2.5", "validity_days": 30},
    )
    before = _balance(customer)

    # the overview counts the calls
    sign_in(page, OPERATOR_EMAIL)
    page.goto("/console/admin/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Overview")
    calls = page.locator(".tile", has=page.get_by_text("Calls in the last hour", exact=True))
    assert int(calls.locator(".value").inner_text().replace(",", "")) >= 3
    expect(page.locator("svg.chart")).to_have_count(3)  # calls; spend and top-ups, a scale each
    expect(
        page.get_by_role("img", name=re.compile(r"^Spend per day over the last 30 days"))
    ).to_be_visible()
    expect(
        page.get_by_role("img", name=re.compile(r"^Top-ups per day over the last 30 days"))
    ).to_be_visible()
    expect(page.get_by_role("link", name=email)).to_be_visible()  # among the top users
    shot(page, "admin-overview")
    assert_accessible(page)

    # live search finds the customer as the operator types
    page.get_by_role("link", name="Users", exact=True).first.click()
    page.get_by_label("Email or id").press_sequentially(email.split("@")[0][:14], delay=20)
    expect(page).to_have_url(re.compile(r"/console/admin/users\?q=customer-"))
    results = page.locator("#user-results")
    expect(results.get_by_role("link", name=email)).to_be_visible()
    expect(results.locator("tbody tr")).to_have_count(1)
    shot(page, "admin-users")
    assert_accessible(page)
    results.get_by_role("link", name=email).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(email)
    shot(page, "admin-user")
    assert_accessible(page)

    # a bad amount is a form error next to the field; nothing changes
    credit = page.locator("form", has=page.get_by_role("heading", name="Credit or adjust"))
    credit.get_by_label("Amount").fill("1.2345678")
    credit.get_by_label("Memo").fill("too precise")
    credit.get_by_role("button").click()
    expect(credit.locator(".error")).to_contain_text("at most six decimals")
    expect(credit.get_by_label("Amount")).to_have_value("1.2345678")
    shot(page, "admin-user-form-error")
    assert_accessible(page)

    # credit with a memo: the customer's dashboard moves by exactly that amount
    credit.get_by_label("Kind").select_option("topup")
    credit.get_by_label("Amount").fill(CREDIT)
    credit.get_by_label("Memo").fill("bank transfer 2026-12")
    credit.get_by_role("button", name="Change the balance").click()
    expect(page.get_by_role("status")).to_contain_text("The balance was changed")
    expect(page.get_by_role("cell", name="bank transfer 2026-12", exact=True)).to_be_visible()
    assert _balance(customer) - before == Decimal(CREDIT)

    # grant a package: it is on the customer's dashboard
    grant = page.locator("form", has=page.get_by_role("heading", name="Grant a package"))
    grant.get_by_label("Package type").select_option(str(kind["id"]))
    grant.get_by_role("button", name="Grant this package").click()
    expect(page.get_by_role("status")).to_contain_text("The package was granted")
    expect(page.get_by_role("cell", name=kind["name"], exact=True)).to_be_visible()
    customer.goto("/console/")
    expect(customer.get_by_role("cell", name="2.500000")).to_be_visible()

    # set the group
    group = page.locator("form", has=page.get_by_role("heading", name="Set the group"))
    group.get_by_label("Group").select_option("partner")
    group.get_by_role("button", name="Set the group").click()
    expect(page.get_by_role("status")).to_contain_text("The group was changed")
    assert gateway.op("GET", f"/users/{uid}")["group"] == "partner"

    # disable: the relay refuses the key, the console refuses the session
    page.get_by_text("Disable this user…").click()
    page.get_by_role("button", name=f"Disable {email}").click()
    expect(page.get_by_role("status")).to_contain_text("The user is disabled")
    shot(page, "admin-user-disabled")
    with pytest.raises(openai.AuthenticationError):
        gateway.openai(key).chat.completions.create(
            model=ECHO, messages=[{"role": "user", "content": "still there?"}]
        )
    customer.goto("/console/")
    expect(customer).to_have_url(re.compile(r"/console/login"))

    # enable again: the key works
    page.get_by_role("button", name=f"Enable {email}").click()
    expect(page.get_by_role("status")).to_contain_text("enabled again")
    answer = gateway.openai(key).chat.completions.create(
        model=ECHO, messages=[{"role": "user", "content": "back"}]
    )
    assert answer.choices[0].message.content

    # the audit trail on the page names the operator's changes
    audit = page.locator("section", has=page.get_by_role("heading", name="Audit trail"))
    for action in ("package.grant", "user.group", "user.disable", "user.enable"):
        row = audit.locator("tbody tr", has=page.get_by_role("cell", name=action, exact=True))
        expect(row.get_by_role("cell", name="you", exact=True)).to_be_visible()
    topup = audit.locator("tbody tr", has_text="bank transfer 2026-12")
    expect(topup).to_contain_text("balance.topup")
    expect(topup).to_contain_text(f"amount: {CREDIT}")
    expect(topup.get_by_role("cell", name="you", exact=True)).to_be_visible()

    # at 360 px: no sideways scroll of the page (wide tables scroll inside themselves)
    user_page = page.url.split("?")[0]
    page.set_viewport_size(PHONE)
    for url, name in (
        ("/console/admin/", "admin-overview-360"),
        ("/console/admin/users", "admin-users-360"),
        (user_page, "admin-user-360"),
    ):
        page.goto(url)
        _no_sideways_scroll(page)
        shot(page, name)
        assert_accessible(page, context=f"{url} at 360px")

    # first load under 150 KB each
    for url in ("/console/admin/", "/console/admin/users", user_page):
        page_weight(page, url).assert_under()
