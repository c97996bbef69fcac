"""The invite page as an inviter uses it: the link and its copy button, the terms, then a
friend who opens the link, signs up through it and shows up in the inviter's list with the
package the invitation earned."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from playwright.sync_api import Page, expect

from tests.browser.kit import assert_accessible, latest_link, new_email, page_weight, shot
from tests.harness import Gateway

PHONE = {"width": 360, "height": 780}


def _sign_up_through(page: Page, gateway: Gateway, link: str, email: str) -> None:
    """A friend opens the shared link, accepts, and signs up by the mailed link."""
    page.goto(link)
    expect(page.get_by_role("heading", level=1)).to_contain_text("invited you")
    page.get_by_role("link", name="Accept and sign up").click()
    page.wait_for_url(re.compile(r"/console/login\?invite="))
    page.get_by_label(re.compile("email", re.IGNORECASE)).fill(email)
    page.get_by_role("button", name=re.compile("link", re.IGNORECASE)).click()
    page.wait_for_url(re.compile(r"/console/login/sent"))
    mailed = urlsplit(latest_link(gateway, email, None))
    page.goto(f"{gateway.url}{mailed.path}?{mailed.query}")
    page.get_by_role("button", name=re.compile(r"sign in", re.IGNORECASE)).click()
    page.wait_for_url(re.compile(r"/console/(\?.*)?$"))


def test_an_invitee_appears_with_the_reward(
    page: Page, sign_in: Callable[..., None], gateway: Gateway, new_context: Any
) -> None:
    inviter = new_email("inviter")
    sign_in(page, inviter)
    page.get_by_role("navigation").get_by_role("link", name="Invite").first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Invite")
    link = page.locator("#invite-link")
    url = link.inner_text()
    assert re.fullmatch(re.escape(gateway.url) + r"/i/[A-Z0-9]+", url), url
    expect(page.get_by_text("Nobody has signed up with your link yet.")).to_be_visible()
    expect(page.get_by_role("heading", name="Conditions")).to_be_visible()
    shot(page, "console-invite-empty")
    assert_accessible(page)
    # the copy button puts the whole link on the clipboard (console.js)
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=gateway.url)
    page.get_by_role("button", name="Copy link").click()
    expect(page.get_by_role("button", name="Copied")).to_be_visible()
    assert page.evaluate("() => navigator.clipboard.readText()") == url

    # the link opens the invitation page
    link.click()
    page.wait_for_url(url)
    expect(page.get_by_role("link", name="Accept and sign up")).to_be_visible()

    friend = new_email("friend")
    _sign_up_through(new_context().new_page(), gateway, url, friend)

    page.goto("/console/invite")
    rows = page.locator("table.data tbody tr")
    expect(rows).to_have_count(1)
    masked = friend[:2] + "***@example.test"
    expect(rows.first.locator("td").nth(0)).to_have_text(masked)
    assert friend not in page.content()  # never the whole address
    reward = rows.first.locator("td").nth(2)
    expect(reward.get_by_role("link")).to_have_attribute("href", re.compile(r"^/console/packages#"))
    expect(rows.first.locator("td").nth(3)).to_have_text(re.compile(r"^\d+\.\d{6}$"))
    shot(page, "console-invite")
    assert_accessible(page)

    phone = new_context(viewport=PHONE, storage_state=page.context.storage_state()).new_page()
    phone.goto("/console/invite")
    expect(phone.locator("#invite-link")).to_be_visible()
    shot(phone, "console-invite-360")
    assert_accessible(phone)
    page_weight(page.context.new_page(), "/console/invite").assert_under()
