"""Passkeys in a real browser: Chromium's virtual authenticator (DevTools ``WebAuthn``
domain: a CTAP2 platform authenticator with resident keys and user verification) stands
in for the device's screen lock. A person adds a passkey on the account page, renames
it, signs out, signs in with the login page's passkey button, and deletes it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from playwright.sync_api import BrowserContext, CDPSession, Page, expect

from tests.browser.kit import assert_accessible, new_email, page_weight, shot, sign_in_by_link
from tests.harness import Gateway


def _on_localhost(gateway: Gateway) -> Gateway:
    """The same gateway reached as ``localhost``: browsers refuse an IP address as a
    passkey's relying party, so a gateway on 127.0.0.1 binds its passkeys to localhost
    (build.py ``relying_party``)."""
    return replace(gateway, url=gateway.url.replace("127.0.0.1", "localhost"))


def _authenticator(page: Page) -> tuple[CDPSession, str]:
    cdp = page.context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    found: dict[str, Any] = cdp.send(
        "WebAuthn.addVirtualAuthenticator",
        {
            "options": {
                "protocol": "ctap2",
                "transport": "internal",
                "hasResidentKey": True,
                "hasUserVerification": True,
                "isUserVerified": True,
            }
        },
    )
    return cdp, str(found["authenticatorId"])


def test_add_a_passkey_sign_out_and_sign_in_with_it(
    new_context: Callable[..., BrowserContext], gateway: Gateway
) -> None:
    local = _on_localhost(gateway)
    page = new_context(base_url=local.url).new_page()
    email = new_email("passkey")
    sign_in_by_link(page, local, email)
    cdp, authenticator = _authenticator(page)
    page.goto("/console/account")
    passkeys = page.locator("#passkeys")
    expect(passkeys.get_by_text("No passkeys yet")).to_be_visible()
    expect(page.get_by_text("needs a browser with passkey support")).to_be_hidden()
    page.get_by_label("Name for the new passkey").fill("test laptop")
    page.get_by_role("button", name="Add a passkey").click()
    notice = page.locator("p.note[role=status]")
    expect(notice).to_contain_text("Passkey added")
    expect(passkeys.locator("tbody tr")).to_have_count(1)
    expect(passkeys.locator("tbody tr")).to_contain_text("Never")
    stored = cdp.send("WebAuthn.getCredentials", {"authenticatorId": authenticator})
    assert len(stored["credentials"]) == 1 and stored["credentials"][0]["isResidentCredential"]
    shot(page, "console-account-passkeys")
    assert_accessible(page)

    rename = passkeys.get_by_label("New name for passkey test laptop")
    rename.fill("work laptop")
    passkeys.get_by_role("button", name="Rename").click()
    expect(notice).to_have_text("Passkey renamed.")
    expect(passkeys.locator("tbody tr td").first).to_have_text("work laptop")

    page.get_by_role("button", name="Sign out").first.click()
    page.wait_for_url(re.compile(r"/console/login"))
    page.goto("/console/login?next=/console/keys")
    button = page.get_by_role("button", name="Sign in with a passkey")
    expect(button).to_be_visible()
    shot(page, "console-login-passkey")
    assert_accessible(page)
    button.click()
    page.wait_for_url(re.compile(r":\d+/console/keys$"))
    page.goto("/console/account")
    expect(page.locator(".who").first).to_have_text(email)
    row = page.locator("#passkeys tbody tr")
    expect(row).not_to_contain_text("Never")  # last used: now

    row.get_by_text("Delete…").click()
    row.get_by_role("button", name="Delete passkey work laptop").click()
    expect(notice).to_contain_text("Passkey deleted")
    expect(page.get_by_text("No passkeys yet")).to_be_visible()


def test_a_passkey_that_is_not_registered_does_not_sign_in(
    new_context: Callable[..., BrowserContext], gateway: Gateway
) -> None:
    context = new_context(base_url=_on_localhost(gateway).url)
    page = context.new_page()
    _authenticator(page)  # empty: the browser has no passkey for this site
    page.goto("/console/login")
    page.get_by_role("button", name="Sign in with a passkey").click()
    expect(page.get_by_role("status")).to_contain_text("did not work", timeout=15000)
    assert not any(c["name"] == "rg_session" for c in context.cookies())


def test_without_webauthn_the_button_stays_hidden_and_the_page_is_light(
    new_context: Callable[..., BrowserContext],
) -> None:
    plain = new_context(java_script_enabled=False)
    page = plain.new_page()
    page.goto("/console/login")
    expect(page.get_by_role("button", name="Sign in with a passkey")).to_be_hidden()
    page_weight(new_context().new_page(), "/console/login").assert_under()
