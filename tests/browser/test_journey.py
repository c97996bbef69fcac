"""The console's whole story in one browser run (issue 13, "Proof"), on a gateway that
mails its sign-in links through a real SMTP server (tests/fakes/smtp.py: STARTTLS, AUTH).

A friend opens an existing user's invitation link, signs up by the link read from the
mail they received, creates a key, is credited by the operator on the operator's user
page, calls the relay with the key through the openai SDK (the echo model, priced here so
the call costs something), finds the call in the bills and on the dashboard's chart,
exports the CSV and reads it, gets a streamed answer in the playground, and signs out.
The operator (signed in by mail as well) adds a channel pointing at a fake upstream and
tests it, edits the echo model's price, and the friend's price list shows the new price.
The inviter's invite page lists the friend with the reward. Every page visited is
screenshotted under test-artifacts/screenshots/journey-*.
"""

from __future__ import annotations

import csv
import re
import time
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from tests.browser.conftest import OPERATOR_EMAIL
from tests.browser.kit import assert_accessible, new_email, shot
from tests.fakes.openai_upstream import FakeOpenAI
from tests.fakes.smtp import FakeSMTP, SMTPSettings
from tests.harness import Gateway, start_gateway

ECHO = "relaygate-echo"
ECHO_PRICE = {"input": "3", "output": "15"}  # per million tokens
NEW_INPUT = "4.25"
CREDIT = "12.5"


@pytest.fixture(scope="module")
def mail(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FakeSMTP]:
    tls = tmp_path_factory.mktemp("journey-smtp")
    with FakeSMTP(tls_dir=tls, user="relay", password="journey-mail") as server:
        yield server


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory, mail: FakeSMTP) -> Iterator[Gateway]:
    """A gateway of its own that mails through ``mail``: no outbox, links come by SMTP."""
    url = f"sqlite:///{tmp_path_factory.mktemp('journey-gw')}/gw.db"
    gw = start_gateway(
        url,
        operator_email=OPERATOR_EMAIL,
        login_per_address_per_minute=0,
        login_per_ip_per_minute=0,
        login_per_ip_per_hour=0,
        **SMTPSettings(mail).overrides(),
    )
    gw.op("PUT", f"/models/{ECHO}", json=ECHO_PRICE)
    yield gw
    gw.stop()


@pytest.fixture(scope="module")
def upstream() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as server:
        yield server


def _sign_in_by_mail(page: Page, gateway: Gateway, mail: FakeSMTP, email: str) -> None:
    """Ask for a link on the page in front of the user, read it from the mail as a person
    would, open it and confirm. Ends on the dashboard."""
    received = len(mail.to(email))
    page.get_by_label(re.compile("email", re.IGNORECASE)).fill(email)
    page.get_by_role("button", name=re.compile("link", re.IGNORECASE)).click()
    page.wait_for_url(re.compile(r"/console/login/sent"))
    letter = mail.wait_for(email, count=received + 1)
    assert letter.over_tls and letter.link, letter
    link = urlsplit(letter.link)
    page.goto(f"{gateway.url}{link.path}?{link.query}")
    page.get_by_role("button", name=re.compile(r"sign in", re.IGNORECASE)).click()
    page.wait_for_url(re.compile(r"/console/(\?.*)?$"))


def _visit(page: Page, name: str) -> None:
    """Every page the story visits: a screenshot and the axe check."""
    shot(page, f"journey-{name}")
    assert_accessible(page)


def _user_id(gateway: Gateway, email: str) -> int:
    users = gateway.op("GET", "/users", params={"limit": 1000})
    return int(next(u["id"] for u in users if u["email"] == email))


def _wait_for_bills(gateway: Gateway, user_id: int, count: int) -> None:
    deadline = time.monotonic() + 10
    while len(gateway.usage(user_id=user_id)) < count:  # written just after the answer
        assert time.monotonic() < deadline, "the calls' bills did not arrive"
        time.sleep(0.05)


def _inviter_link(page: Page, gateway: Gateway, mail: FakeSMTP, email: str) -> str:
    page.goto("/console/login")
    _sign_in_by_mail(page, gateway, mail, email)
    page.get_by_role("navigation").get_by_role("link", name="Invite").first.click()
    link = page.locator("#invite-link").inner_text()
    assert re.fullmatch(re.escape(gateway.url) + r"/i/[A-Z0-9]+", link), link
    _visit(page, "inviter-invite-before")
    return link


def _create_key(page: Page) -> str:
    page.get_by_role("navigation").get_by_role("link", name="Keys").first.click()
    expect(page.get_by_text("You have no keys yet")).to_be_visible()
    _visit(page, "keys-empty")
    page.get_by_role("link", name="Create a key").first.click()
    page.get_by_label("Name").fill("my laptop")
    _visit(page, "keys-new")
    page.get_by_role("button", name="Create key").click()
    page.wait_for_url(re.compile(r"/console/keys/\d+/created$"))
    secret = page.get_by_label(re.compile("Your new key")).input_value()
    assert secret.startswith("sk-")
    _visit(page, "keys-created")
    return secret


def _operator_credits(page: Page, gateway: Gateway, mail: FakeSMTP, email: str) -> None:
    page.goto("/console/login")
    _sign_in_by_mail(page, gateway, mail, OPERATOR_EMAIL)
    page.get_by_role("link", name="Users", exact=True).first.click()
    page.get_by_label("Email or id").fill(email)
    page.get_by_label("Email or id").press("Enter")
    page.locator("#user-results").get_by_role("link", name=email).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(email)
    _visit(page, "admin-user")
    credit = page.locator("form", has=page.get_by_role("heading", name="Credit or adjust"))
    credit.get_by_label("Kind").select_option("topup")
    credit.get_by_label("Amount").fill(CREDIT)
    credit.get_by_label("Memo").fill("welcome credit")
    credit.get_by_role("button", name="Change the balance").click()
    expect(page.get_by_role("status")).to_contain_text("The balance was changed")
    _visit(page, "admin-user-credited")


def _bills_and_csv(page: Page, request_ids: list[str]) -> None:
    page.get_by_role("navigation").get_by_role("link", name="Bills").first.click()
    rows = page.locator("table.bills tbody tr")
    expect(rows).to_have_count(len(request_ids))
    expect(rows.first).to_contain_text(ECHO)
    _visit(page, "bills")
    rows.first.get_by_role("link").first.click()
    page.wait_for_url(re.compile(r"/console/bills/\d+"))
    expect(page.get_by_text("The worked-out amount equals the billed amount.")).to_be_visible()
    _visit(page, "bill-line")
    page.goto("/console/bills")
    with page.expect_download() as download:
        page.get_by_role("link", name="Export CSV").click()
    with open(Path(download.value.path()), encoding="utf-8", newline="") as handle:
        lines = list(csv.DictReader(handle))
    assert sorted(line["requestId"] for line in lines) == sorted(request_ids)
    assert all(Decimal(line["amount"]) > 0 and line["model"] == ECHO for line in lines), lines


def _operator_adds_a_channel(page: Page, upstream: FakeOpenAI) -> None:
    page.get_by_role("link", name="Channels", exact=True).first.click()
    _visit(page, "admin-channels-before")
    page.get_by_role("link", name="Add a channel").click()
    page.get_by_label("Name").fill("journey-upstream")
    page.get_by_label("Type").select_option("openai")
    page.get_by_label("Base URL").fill(upstream.base_url)
    page.get_by_label("Models").fill("journey-model")
    page.get_by_label("Upstream keys").fill("sk-journey-upstream-key-0001")
    _visit(page, "admin-channel-new")
    page.get_by_role("button", name="Create channel").click()
    expect(page.get_by_role("status").first).to_contain_text("Channel created.")
    page.get_by_role("button", name="Test journey-upstream now").click()
    expect(page.locator(".test-result")).to_contain_text("The channel answered.")
    _visit(page, "admin-channel-tested")
    page.goto("/console/admin/channels")
    expect(page.get_by_role("row").filter(has_text="journey-upstream")).to_contain_text("Closed")
    _visit(page, "admin-channels")


def _operator_edits_the_price(page: Page) -> None:
    page.get_by_role("link", name="Models and prices", exact=True).first.click()
    row = page.get_by_role("row").filter(has_text=ECHO)
    row.get_by_label(f"Input: {ECHO}", exact=True).fill(NEW_INPUT)
    row.get_by_role("button", name=f"Save {ECHO}").click()
    expect(row.locator("[data-row-status]")).to_contain_text("Saved")
    page.reload()
    expect(row.get_by_label(f"Input: {ECHO}", exact=True)).to_have_value(NEW_INPUT)
    _visit(page, "admin-models")


def _playground(page: Page) -> None:
    """A streamed answer in the playground, with its tokens and charge once it ends."""
    page.get_by_role("navigation").get_by_role("link", name="Playground").first.click()
    _visit(page, "playground-empty")
    page.get_by_label("Model").select_option(ECHO)
    page.get_by_label("System prompt").fill("Answer briefly.")
    page.get_by_label("Message", exact=True).fill("hello playground")
    page.get_by_role("button", name="Send").click()
    answer = page.locator(".msg-assistant").last
    expect(answer.locator(".text")).to_have_text("Echo: hello playground")
    expect(answer).to_have_attribute("data-state", "done")
    charged = answer.locator(".call-facts [data-field=amount]")
    expect(charged).to_have_text(re.compile(r"^\d+\.\d{6}$"))
    assert Decimal(charged.inner_text()) > 0
    _visit(page, "playground")


def _echo_input_price(page: Page) -> str:
    page.get_by_role("navigation").get_by_role("link", name="Prices").first.click()
    row = page.locator("#price-rows tr", has=page.get_by_role("rowheader", name=ECHO))
    return row.locator("td").nth(0).inner_text().strip()


def test_from_an_invitation_to_bills_and_the_operator_at_work(
    new_context: Callable[..., BrowserContext],
    gateway: Gateway,
    mail: FakeSMTP,
    upstream: FakeOpenAI,
) -> None:
    inviter_email, friend_email = new_email("inviter"), new_email("friend")
    gateway.create_user(inviter_email)  # an existing user, made by the operator
    inviter = new_context().new_page()
    link = _inviter_link(inviter, gateway, mail, inviter_email)

    # the friend opens the invitation and signs up by the mailed link
    friend = new_context(accept_downloads=True).new_page()
    friend.goto(link)
    expect(friend.get_by_role("heading", level=1)).to_contain_text("invited you")
    _visit(friend, "invitation")
    friend.get_by_role("link", name="Accept and sign up").click()
    friend.wait_for_url(re.compile(r"/console/login\?invite="))
    _visit(friend, "login")
    _sign_in_by_mail(friend, gateway, mail, friend_email)
    _visit(friend, "dashboard-new")
    friend_id = _user_id(gateway, friend_email)
    secret = _create_key(friend)

    # the operator credits the friend on the operator's user page
    operator = new_context().new_page()
    _operator_credits(operator, gateway, mail, friend_email)

    # calls through the relay with the new key (the openai SDK, as the friend's code would)
    client = gateway.openai(secret)
    request_ids = []
    for text in ("hello from the journey", "a second question, a little longer"):
        raw = client.chat.completions.with_raw_response.create(
            model=ECHO, messages=[{"role": "user", "content": text}]
        )
        assert raw.parse().choices[0].message.content
        request_ids.append(raw.headers["x-request-id"])
    _wait_for_bills(gateway, friend_id, len(request_ids))

    _bills_and_csv(friend, request_ids)
    friend.get_by_role("navigation").get_by_role("link", name="Dashboard").first.click()
    today = friend.locator(".dash-chart g.day.today")
    expect(today.locator("rect.bar")).to_have_count(1)
    expect(today.locator("title")).to_contain_text("2 calls")
    _visit(friend, "dashboard")
    _playground(friend)
    before = _echo_input_price(friend)
    assert Decimal(before) == Decimal(ECHO_PRICE["input"])
    _visit(friend, "prices-before")
    friend.get_by_role("button", name="Sign out").click()
    friend.goto("/console/")
    expect(friend).to_have_url(re.compile(r"/console/login"))

    # the operator adds a channel, tests it, and changes the echo model's price
    _operator_adds_a_channel(operator, upstream)
    _operator_edits_the_price(operator)

    # the friend signs in again (a new mail): the price list has the new price
    friend.goto("/console/login")
    _sign_in_by_mail(friend, gateway, mail, friend_email)
    assert Decimal(_echo_input_price(friend)) == Decimal(NEW_INPUT)
    _visit(friend, "prices-after")

    # the inviter sees the friend and the reward
    inviter.goto("/console/invite")
    rows = inviter.locator("table.data tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first.locator("td").nth(0)).to_have_text(friend_email[:2] + "***@example.test")
    expect(rows.first.locator("td").nth(2).get_by_role("link")).to_be_visible()
    _visit(inviter, "inviter-invite-after")
