"""The ``sign_in`` helper through the console's real login pages: the form, the mailed
link's confirm button, the dashboard; then sign-out and a second sign-in with a new link."""

from __future__ import annotations

import re
from collections.abc import Callable

from playwright.sync_api import Page, expect

from tests.browser.kit import new_email


def test_sign_in_follows_the_mailed_link_to_the_console(
    page: Page, sign_in: Callable[..., None]
) -> None:
    email = new_email("ada")
    sign_in(page, email)
    expect(page.get_by_role("heading", level=1)).to_have_text("Dashboard")
    nav = page.get_by_role("complementary", name="Console")
    expect(nav.locator("p.who")).to_have_text(email)  # the signed-in account
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(re.compile(r"/console/login"))
    # a second sign-in uses the new link, not the spent one
    sign_in(page, email)
    expect(page.get_by_role("heading", level=1)).to_have_text("Dashboard")
