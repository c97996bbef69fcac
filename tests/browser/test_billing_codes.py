"""Redemption codes in a browser: the operator generates a batch on /console/admin/codes
and downloads its CSV; a user redeems a code from it on /console/billing and sees the
balance change on the dashboard. Each page: screenshot, axe, weight, and 360 px."""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Callable
from pathlib import Path

from playwright.sync_api import BrowserContext, Page, expect

from tests.browser.conftest import OPERATOR_EMAIL
from tests.browser.kit import assert_accessible, new_email, page_weight, shot

PHONE = {"width": 360, "height": 780}


def _generate(page: Page, name: str) -> list[dict[str, str]]:
    page.goto("/console/admin/codes")
    page.get_by_label("Name").fill(name)
    page.get_by_label("Money per redemption").fill("3")
    page.get_by_label("Number of codes").fill("5")
    page.get_by_role("button", name="Generate codes").click()
    expect(page.get_by_role("status").first).to_contain_text("Codes generated.")
    row = page.get_by_role("row").filter(has_text=name)
    expect(row).to_contain_text("3.000000")
    with page.expect_download() as info:
        row.get_by_role("link", name=f"Download CSV {name}").click()
    text = Path(info.value.path()).read_text()
    return list(csv.DictReader(io.StringIO(text)))


def test_the_operator_generates_codes_and_a_user_redeems_one(
    page: Page,
    sign_in: Callable[..., None],
    new_context: Callable[..., BrowserContext],
) -> None:
    sign_in(page, OPERATOR_EMAIL)
    name = f"browser-{uuid.uuid4().hex[:6]}"
    rows = _generate(page, name)
    assert len(rows) == 5 and all(len(r["code"]) == 19 for r in rows)
    shot(page, "admin-codes")
    assert_accessible(page)
    page_weight(page.context.new_page(), "/console/admin/codes").assert_under()

    user = new_context().new_page()
    sign_in(user, new_email("redeem"))
    user.get_by_role("link", name="Billing").click()
    expect(user.get_by_role("heading", name="Redeem a code")).to_be_visible()
    expect(user.get_by_text("No redemptions yet.")).to_be_visible()
    shot(user, "console-billing-empty")
    assert_accessible(user)
    user.get_by_role("textbox", name="Code").fill("WRONG-CODE")
    user.get_by_role("button", name="Redeem").click()
    expect(user.get_by_role("alert")).to_contain_text("invalid, already used or expired")
    shot(user, "console-billing-refused")
    user.get_by_role("textbox", name="Code").fill(rows[0]["code"].lower())
    user.get_by_role("button", name="Redeem").click()
    expect(user.get_by_role("status").first).to_contain_text("Code redeemed")
    expect(user.get_by_role("row").filter(has_text=name)).to_contain_text("3.000000")
    shot(user, "console-billing")
    assert_accessible(user)
    page_weight(user.context.new_page(), "/console/billing").assert_under()

    user.get_by_role("link", name="Dashboard").click()
    expect(user.locator(".tiles .tile").first.locator(".value")).to_have_text("3.000000")

    phone = new_context(viewport=PHONE, storage_state=user.context.storage_state()).new_page()
    phone.goto("/console/billing")
    shot(phone, "console-billing-360")
    assert_accessible(phone)
    operator_phone = new_context(
        viewport=PHONE, storage_state=page.context.storage_state()
    ).new_page()
    operator_phone.goto("/console/admin/codes")
    shot(operator_phone, "admin-codes-360")
    assert_accessible(operator_phone)
