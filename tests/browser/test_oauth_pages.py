"""The OAuth pages in a real browser: a developer registers an app on /console/apps and
copies the secret shown once; a user opens the authorisation URL Authlib builds (PKCE),
signs in first, approves on the consent page and lands on /next/v1/oauth/succeed with
the code (the app has no web callback, as a Telegram bot); Authlib exchanges it; the user
sees the app on /console/apps/authorized and revokes it. Every page is screenshotted (one
at 360 px), checked by axe and weighed."""

from __future__ import annotations

import re
from collections.abc import Callable
from urllib.parse import urlsplit

from playwright.sync_api import BrowserContext, Page, expect

from tests.browser.kit import assert_accessible, new_email, page_weight, shot
from tests.harness import Gateway
from tests.integration.oauth_kit import TOKEN_URL, App, client

VERIFIER = "browser-verifier-" + "x" * 40


def _register(page: Page, gateway: Gateway) -> App:
    page.goto("/console/apps")
    expect(page.get_by_text("No apps yet")).to_be_visible()
    shot(page, "console-apps-empty")
    assert_accessible(page)
    page.get_by_label("Name", exact=True).fill("Ride bot")
    page.get_by_label("Homepage").fill("https://ride.example.test")
    page.get_by_label("Redirect domains").fill(urlsplit(gateway.url).hostname or "")
    page.locator("input[name=public]").check()
    page.get_by_role("button", name="Register app").click()
    expect(page.get_by_text("Copy the client secret now")).to_be_visible()
    shot(page, "console-apps-secret")
    assert_accessible(page)
    client_id = page.get_by_label("Client ID").input_value()
    secret = page.get_by_label("Client secret").input_value()
    assert len(client_id) == 24 and len(secret) == 32
    return App(client_id, secret, 0, None)  # type: ignore[arg-type]


def test_register_authorise_exchange_and_revoke(
    page: Page,
    new_context: Callable[..., BrowserContext],
    sign_in: Callable[..., None],
    gateway: Gateway,
) -> None:
    sign_in(page, new_email("dev"))
    app = _register(page, gateway)
    page.goto("/console/apps")
    expect(page.locator("td", has_text="Ride bot").first).to_be_visible()
    shot(page, "console-apps")
    assert_accessible(page)
    page_weight(page, "/console/apps").assert_under()

    oauth = client(gateway, app, pkce=True)
    oauth.redirect_uri = gateway.url + "/next/v1/oauth/succeed"
    url, state = oauth.create_authorization_url(
        gateway.url + "/next/v1/oauth", code_verifier=VERIFIER
    )

    user = new_context().new_page()
    email = new_email("authorise")
    sign_in(user, email)
    user.goto(url)
    expect(user.get_by_role("heading", name="Authorise Ride bot")).to_be_visible()
    shot(user, "oauth-consent")
    assert_accessible(user)
    user.get_by_role("button", name="Approve").click()
    user.wait_for_url(re.compile(r"/next/v1/oauth/succeed\?code="))
    code = user.get_by_label("Authorisation code").input_value()
    assert len(code) == 32 and state in user.url
    shot(user, "oauth-succeed")
    assert_accessible(user)
    token = oauth.fetch_token(TOKEN_URL, authorization_response=user.url, code_verifier=VERIFIER)
    with gateway.http(token["access_token"]) as http:
        info = http.post("/api/v1/user/oauth/user-info").json()["data"]
    assert info["email"] == email

    user.goto("/console/apps/authorized")
    expect(user.locator("td", has_text="Ride bot").first).to_be_visible()
    shot(user, "console-apps-authorized")
    assert_accessible(user)
    page_weight(user, "/console/apps/authorized").assert_under()
    user.get_by_role("button", name="Revoke access of Ride bot").click()
    expect(user.get_by_text("Access revoked")).to_be_visible()
    with gateway.http(token["access_token"]) as http:
        assert http.post("/api/v1/user/oauth/user-info").status_code == 401


def test_consent_page_at_360px_after_signing_in(
    new_context: Callable[..., BrowserContext], sign_in: Callable[..., None], gateway: Gateway
) -> None:
    phone = new_context(viewport={"width": 360, "height": 740}).new_page()
    sign_in(phone, new_email("phone-dev"))
    app = _register(phone, gateway)
    phone.context.clear_cookies()  # a visitor who is not signed in
    oauth = client(gateway, app, pkce=True)
    oauth.redirect_uri = gateway.url + "/next/v1/oauth/succeed"
    url, _ = oauth.create_authorization_url(gateway.url + "/next/v1/oauth", code_verifier=VERIFIER)
    phone.goto(url)
    assert "/console/login" in phone.url and "next=" in phone.url
    sign_in(phone, new_email("phone-user"))
    phone.goto(url)
    expect(phone.get_by_role("button", name="Approve")).to_be_visible()
    shot(phone, "oauth-consent-360")
    assert_accessible(phone)
    page_weight(phone, url).assert_under()
    phone.get_by_role("button", name="Deny").click()
    phone.wait_for_url(re.compile(r"/next/v1/oauth/succeed\?error=access_denied"))
