"""The playground in a real browser: a streamed answer from the echo model with a system
prompt, the call's tokens and charge equal to its bill line, a second turn carrying the
conversation, a slow upstream whose answer grows on the page before it ends, a call a
resource package paid (named, with what it paid), and a refusal (no balance) shown as a
readable message. Screenshots, axe, weight, 360 px.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable
from typing import Any

from playwright.sync_api import BrowserContext, Page, Request, expect

from relaygate.core.money import format_money
from tests.browser.kit import assert_accessible, new_email, page_weight, shot
from tests.fakes.openai_payloads import Behaviour
from tests.fakes.openai_upstream import FakeOpenAI
from tests.harness import Gateway

PAGE = "/console/playground"
CHAT = "/v1/chat/completions"
ANY = re.compile(r".+")


def _user(gateway: Gateway, page: Page, sign_in: Callable[..., None], credit: str) -> int:
    email = new_email("playground")
    user_id = int(gateway.create_user(email)["id"])
    if credit:
        gateway.credit(user_id, credit)
    sign_in(page, email)
    return user_id


def _record_chat_bodies(page: Page) -> list[dict[str, Any]]:
    bodies: list[dict[str, Any]] = []

    def seen(request: Request) -> None:
        if request.url.endswith(CHAT) and request.method == "POST":
            bodies.append(json.loads(request.post_data or "{}"))

    page.on("request", seen)
    return bodies


def _send(page: Page, text: str) -> None:
    page.get_by_label("Message", exact=True).fill(text)
    page.get_by_role("button", name="Send").click()


def _assert_charge_is_the_bill_line(gateway: Gateway, answer: Any) -> dict[str, Any]:
    expect(answer).to_have_attribute("data-charged", ANY)
    request_id = answer.get_attribute("data-request-id")
    assert request_id
    usage = gateway.wait_for_usage(request_id)
    facts = answer.locator(".call-facts")
    expect(facts.locator("[data-field=prompt_tokens]")).to_have_text(str(usage["prompt_tokens"]))
    expect(facts.locator("[data-field=completion_tokens]")).to_have_text(
        str(usage["completion_tokens"])
    )
    expect(facts.locator("[data-field=amount]")).to_have_text(format_money(usage["amount"]))
    return usage


def _priced_model(gateway: Gateway, fake: FakeOpenAI) -> str:
    model = f"pg-browser-{uuid.uuid4().hex[:8]}"
    gateway.add_channel(fake, [model])
    gateway.op("PUT", f"/models/{model}", json={"input": "1000", "output": "2000"})
    return model


def test_chat_with_the_echo_model_streams_and_shows_the_charge(
    page: Page, sign_in: Callable[..., None], gateway: Gateway
) -> None:
    _user(gateway, page, sign_in, credit="5")
    bodies = _record_chat_bodies(page)
    page.goto(PAGE)
    expect(page.get_by_role("heading", level=1)).to_have_text("Playground")
    expect(page.get_by_text("No messages yet.")).to_be_visible()
    shot(page, "console-playground-empty")
    assert_accessible(page)

    page.get_by_label("Model").select_option("relaygate-echo")
    page.get_by_label("System prompt").fill("You are terse.")
    page.get_by_label("Temperature").fill("0.5")
    _send(page, "hello there")
    answer = page.locator(".msg-assistant").last
    expect(answer.locator(".text")).to_have_text("Echo: hello there")
    expect(answer).to_have_attribute("data-state", "done")
    _assert_charge_is_the_bill_line(gateway, answer)
    # the echo model streams one event per word, plus the role, finish and usage events
    assert int(answer.get_attribute("data-events") or 0) >= 5
    assert bodies[0]["stream"] is True and bodies[0]["model"] == "relaygate-echo"
    assert bodies[0]["temperature"] == 0.5
    assert bodies[0]["messages"] == [
        {"role": "system", "content": "You are terse."},
        {"role": "user", "content": "hello there"},
    ]

    _send(page, "and again")
    second = page.locator(".msg-assistant").nth(1)
    expect(second.locator(".text")).to_have_text("Echo: and again")
    _assert_charge_is_the_bill_line(gateway, second)
    assert [m["role"] for m in bodies[1]["messages"]] == ["system", "user", "assistant", "user"]
    assert bodies[1]["messages"][2]["content"] == "Echo: hello there"
    shot(page, "console-playground")
    assert_accessible(page)

    page.get_by_role("link", name="New conversation").click()
    expect(page.locator(".msg")).to_have_count(0)


def test_a_slow_upstream_answer_grows_on_the_page_and_its_charge_is_exact(
    page: Page, sign_in: Callable[..., None], gateway: Gateway, fake: FakeOpenAI
) -> None:
    model = _priced_model(gateway, fake)
    words = "one two three four five six seven eight nine ten"
    fake.script(model, Behaviour(text=words, chunk_delay=0.25, prompt_tokens=20))
    _user(gateway, page, sign_in, credit="5")
    page.goto(f"{PAGE}?model={model}")
    expect(page.get_by_label("Model")).to_have_value(model)
    _send(page, "count to ten")
    answer = page.locator(".msg-assistant").last
    # some of the answer is on the page while the stream is still open
    expect(answer).to_have_attribute("data-state", "streaming")
    expect(answer.locator(".text")).not_to_have_text("")
    partial = answer.locator(".text").text_content() or ""
    expect(answer).to_have_attribute("data-state", "done")
    final = answer.locator(".text").text_content() or ""
    assert final == words
    assert partial and final.startswith(partial)
    # one event per word, the opening role event, the finish and the usage events
    assert int(answer.get_attribute("data-events") or 0) >= len(words.split()) + 2
    usage = _assert_charge_is_the_bill_line(gateway, answer)
    assert usage["amount"] > 0 and usage["model"] == model


def test_a_call_a_package_paid_names_the_package(
    page: Page, sign_in: Callable[..., None], gateway: Gateway, fake: FakeOpenAI
) -> None:
    model = _priced_model(gateway, fake)
    user_id = _user(gateway, page, sign_in, credit="5")
    name = f"Trial {uuid.uuid4().hex[:6]}"
    kind = gateway.op("POST", "/package-types", json={"name": name, "amount": "5"})
    gateway.op("POST", f"/users/{user_id}/packages", json={"type_id": kind["id"]})
    page.goto(f"{PAGE}?model={model}")
    _send(page, "on the package")
    answer = page.locator(".msg-assistant").last
    usage = _assert_charge_is_the_bill_line(gateway, answer)
    assert usage["amount"] == 0 and usage["package_amount"] > 0
    facts = answer.locator(".call-facts")
    expect(facts.get_by_text(f"Package: {name}")).to_be_visible()
    expect(facts.locator("[data-field=package]")).to_have_text(
        "\u2212" + format_money(usage["package_amount"])
    )
    expect(facts.get_by_text("Charged to balance")).to_be_visible()


def test_a_refused_call_reads_as_a_message(
    page: Page, sign_in: Callable[..., None], gateway: Gateway, fake: FakeOpenAI
) -> None:
    model = _priced_model(gateway, fake)
    _user(gateway, page, sign_in, credit="")  # no balance
    page.goto(f"{PAGE}?model={model}")
    _send(page, "hello")
    error = page.locator(".msg-error")
    expect(error).to_have_count(1)
    expect(error.get_by_role("alert")).to_contain_text("balance is insufficient")
    shot(page, "console-playground-error")
    assert_accessible(page)
    # the refused turn is not carried into the next request
    bodies = _record_chat_bodies(page)
    page.get_by_label("Model").select_option("relaygate-echo")
    _send(page, "still there?")
    expect(page.locator(".msg-error")).to_have_count(2)  # still no balance
    assert [m["content"] for m in bodies[0]["messages"]] == ["still there?"]


def test_playground_at_360px_and_its_weight(
    new_context: Callable[..., BrowserContext], sign_in: Callable[..., None], gateway: Gateway
) -> None:
    phone = new_context(viewport={"width": 360, "height": 740}, is_mobile=True)
    page = phone.new_page()
    _user(gateway, page, sign_in, credit="5")
    page_weight(page, PAGE).assert_under()
    _send(page, "hi from a phone")
    answer = page.locator(".msg-assistant").last
    expect(answer.locator(".text")).to_have_text("Echo: hi from a phone")
    expect(answer).to_have_attribute("data-charged", ANY)
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= 360, f"the page scrolls sideways at 360 px ({width} px wide)"
    shot(page, "console-playground-360")
    assert_accessible(page)


def test_without_javascript_the_form_answers_with_the_page(
    new_context: Callable[..., BrowserContext], sign_in: Callable[..., None], gateway: Gateway
) -> None:
    page = new_context(java_script_enabled=False).new_page()
    user_id = _user(gateway, page, sign_in, credit="5")
    page.goto(PAGE)
    page.get_by_label("System prompt").fill("You are terse.")
    _send(page, "hello without script")
    answer = page.locator(".msg-assistant").last
    expect(answer.locator(".text")).to_have_text("Echo: hello without script")
    usage = gateway.wait_for_records(user_id=user_id, limit=1)[0]
    expect(answer.locator("[data-field=amount]")).to_have_text(format_money(usage["amount"]))
    expect(page.get_by_label("System prompt")).to_have_value("You are terse.")
    _send(page, "second")
    expect(page.locator(".msg-assistant")).to_have_count(2)
    expect(page.locator(".msg-assistant").last.locator(".text")).to_have_text("Echo: second")
    shot(page, "console-playground-nojs")
    # no axe here: axe runs as a script, and this context runs none (the same markup is
    # checked with script on above)
