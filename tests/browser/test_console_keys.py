"""The keys page in a real browser, as a person uses it: create a key with models, an
expiry and a spend cap, copy the secret shown once, call the relay with it through the
openai SDK, watch its used fee and last use, edit, disable (calls refused), enable and
delete it. Every page is screenshotted (one at 360 px), checked by axe, and weighed.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from typing import Any

import openai
import pytest
from playwright.sync_api import BrowserContext, Page, expect

from tests.browser.kit import assert_accessible, new_email, page_weight, shot
from tests.harness import Gateway

ECHO = "relaygate-echo"


def _user_id(gateway: Gateway, email: str) -> int:
    users: list[dict[str, Any]] = gateway.op("GET", "/users", params={"limit": 1000})
    return next(int(u["id"]) for u in users if u["email"] == email)


def _priced_model(gateway: Gateway, fake: Any) -> str:
    """A model only this test's channel serves, priced per call (the echo model is free,
    so a used fee needs a priced model)."""
    model = f"keys-model-{uuid.uuid4().hex[:8]}"
    gateway.add_channel(fake, [model])
    gateway.op("PUT", f"/models/{model}", json={"per_call": "0.25"})
    return model


def _create_key(page: Page, model: str) -> str:
    page.get_by_role("link", name="Create a key").first.click()
    page.wait_for_url(re.compile(r"/console/keys/new$"))
    page.get_by_label("Name").fill("build server")
    page.get_by_label("Only the models ticked below").check()
    picker = page.get_by_label("Filter models")
    expect(picker).to_be_visible()  # the script shows the filter box
    picker.fill("echo")
    expect(page.get_by_label(model)).to_be_hidden()
    page.get_by_label(ECHO).check()
    picker.fill(model[-8:])
    page.get_by_label(model).check()
    page.get_by_label("Expires on").fill("2099-01-31")
    page.get_by_label("Spend cap").fill("2.5")
    page.get_by_label("Requests per minute").fill("60")
    shot(page, "console-keys-new")
    assert_accessible(page)
    page.get_by_role("button", name="Create key").click()
    page.wait_for_url(re.compile(r"/console/keys/\d+/created$"))
    return page.get_by_label(re.compile("Your new key")).input_value()


def test_a_key_from_creation_to_deletion(
    page: Page, context: BrowserContext, sign_in: Callable[..., None], gateway: Gateway, fake: Any
) -> None:
    email = new_email("keys")
    sign_in(page, email)
    gateway.credit(_user_id(gateway, email), "10")
    model = _priced_model(gateway, fake)
    page.goto("/console/keys")
    expect(page.get_by_text("You have no keys yet")).to_be_visible()
    shot(page, "console-keys-empty")

    secret = _create_key(page, model)
    assert secret.startswith("sk-")
    assert page.content().count(secret) == 1  # in the page once, in the copy field
    expect(page.get_by_role("alert")).to_contain_text("shown only this once")
    context.grant_permissions(["clipboard-read", "clipboard-write"])
    page.get_by_role("button", name="Copy").click()
    expect(page.get_by_role("button", name="Copied")).to_be_visible()
    assert page.evaluate("navigator.clipboard.readText()") == secret
    shot(page, "console-keys-created")
    assert_accessible(page)
    page.reload()
    assert secret not in page.content()
    expect(page.get_by_text("was shown once and cannot be shown again")).to_be_visible()

    client = openai.OpenAI(base_url=gateway.url + "/v1", api_key=secret, max_retries=0)
    for name in (ECHO, model):
        client.chat.completions.create(model=name, messages=[{"role": "user", "content": "hi"}])
    with pytest.raises(openai.AuthenticationError, match="not permitted"):
        client.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}]
        )
    row = page.locator("tr", has_text="build server")
    page.goto("/console/keys")
    for _ in range(50):  # the bill writer records calls just after they answer
        if "2 calls" in row.inner_text():
            break
        page.wait_for_timeout(100)
        page.reload()
    expect(row).to_contain_text("0.250000")  # used fee: the priced call
    expect(row).to_contain_text("2.500000")  # the spend cap
    expect(row).to_contain_text("2 calls")
    expect(row).to_contain_text("60 RPM")
    expect(row).to_contain_text(ECHO)
    shot(page, "console-keys")
    assert_accessible(page)

    row.get_by_role("link", name="Edit").click()
    page.get_by_label("Name").fill("build server (CI)")
    page.get_by_label("Tokens per minute").fill("5000")
    shot(page, "console-keys-edit")
    assert_accessible(page)
    page.get_by_role("button", name="Save key").click()
    expect(page.get_by_role("status")).to_have_text("Key saved.")
    row = page.locator("tr", has_text="build server (CI)")
    expect(row).to_contain_text("5,000 TPM")

    row.get_by_role("button", name=re.compile("^Disable key")).click()
    expect(page.get_by_role("status")).to_contain_text("Key disabled")
    expect(row).to_contain_text("Disabled")
    with pytest.raises(openai.AuthenticationError, match="disabled"):
        client.chat.completions.create(model=ECHO, messages=[{"role": "user", "content": "x"}])
    row.get_by_role("button", name=re.compile("^Enable key")).click()
    expect(row).to_contain_text("Active")
    client.chat.completions.create(model=ECHO, messages=[{"role": "user", "content": "x"}])

    row.get_by_role("link", name="Edit").click()
    page.get_by_text("Delete this key…").click()
    shot(page, "console-keys-delete")
    page.get_by_role("button", name=re.compile("for good$")).click()
    expect(page.get_by_role("status")).to_have_text("Key deleted.")
    expect(page.get_by_text("You have no keys yet")).to_be_visible()
    with pytest.raises(openai.AuthenticationError):
        client.chat.completions.create(model=ECHO, messages=[{"role": "user", "content": "x"}])


def test_the_form_shows_errors_and_fits_a_phone(
    new_context: Callable[..., BrowserContext], sign_in: Callable[..., None]
) -> None:
    phone = new_context(viewport={"width": 360, "height": 780}, is_mobile=True)
    page = phone.new_page()
    sign_in(page, new_email("keys-phone"))
    page.goto("/console/keys/new")
    page.get_by_label("Spend cap").fill("1.0000001")
    page.get_by_label("Expires on").fill("2001-01-01")
    page.get_by_role("button", name="Create key").click()
    expect(page.get_by_role("alert")).to_contain_text("Some fields need attention")
    expect(page.locator("#max_fee-error")).to_contain_text("at most six decimals")
    expect(page.locator("#expires-error")).to_have_text("Choose a day after today.")
    expect(page.get_by_label("Spend cap")).to_have_value("1.0000001")  # kept as typed
    shot(page, "console-keys-new-360")
    assert_accessible(page)
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 360, f"the form is {width}px wide on a 360px screen"


def test_the_keys_page_is_light(
    page: Page, sign_in: Callable[..., None], new_context: Callable[..., BrowserContext]
) -> None:
    sign_in(page, new_email("keys-weight"))
    cookies = page.context.cookies()
    fresh = new_context()
    fresh.add_cookies(cookies)  # type: ignore[arg-type]
    weighed = fresh.new_page()
    for url in ("/console/keys", "/console/keys/new", "/console/account"):
        page_weight(weighed, url).assert_under()
