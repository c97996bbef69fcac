"""The dashboard, invite and prices pages over real HTTP (both databases): each needs a
session, shows only the signed-in user's numbers, the invite page's terms are the landing
page's, and the prediction form answers a mistake with a friendly 400 naming the field."""

from __future__ import annotations

import re
from html import unescape

import httpx
import pytest

from tests.harness import Gateway
from tests.integration.console import NEW_KEY, csrf_token, new_browser, new_email, signed_in

PAGES = ("/console/", "/console/?chart=calls", "/console/invite", "/console/prices")
ECHO = "relaygate-echo"
ECHO_ROW = f'<a href="/console/bills?model={ECHO}">'


def _text(html: str) -> str:
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


@pytest.mark.parametrize("path", PAGES)
def test_each_page_needs_a_session(gateway: Gateway, path: str) -> None:
    with new_browser(gateway) as anonymous:
        response = anonymous.get(path)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/console/login?next=")


def test_pages_answer_with_the_console_headers(gateway: Gateway) -> None:
    with signed_in(gateway) as browser:
        for path in PAGES:
            response = browser.get(path)
            assert response.status_code == 200, (path, response.text[:300])
            assert "script-src 'self'" in response.headers["content-security-policy"]
            assert ' style="' not in response.text  # the policy forbids inline styles
            assert response.headers["cache-control"] == "no-store"


def test_the_dashboard_shows_only_the_users_own_calls(gateway: Gateway) -> None:
    email = new_email()
    gateway.credit(int(gateway.create_user(email)["id"]), "1")  # a call needs a balance
    with signed_in(gateway, email) as caller, signed_in(gateway) as other:
        made = caller.post(
            "/api/v1/user/admin/new-api-token",
            data=NEW_KEY,
            headers={"X-CSRF-Token": csrf_token(caller)},
        )
        assert made.status_code == 200, made.text
        client = gateway.openai(made.json()["data"])
        reply = client.chat.completions.with_raw_response.create(
            model=ECHO, messages=[{"role": "user", "content": "mine"}]
        )
        gateway.wait_for_usage(reply.headers["x-request-id"])
        mine = caller.get("/console/")
        assert ECHO_ROW in mine.text and "Make your first call" not in mine.text
        assert "1 call" in _text(mine.text)
        theirs = other.get("/console/")
        assert ECHO_ROW not in theirs.text
        assert "Make your first call" in theirs.text


def test_the_invite_page_shows_the_landing_pages_terms_and_masked_invitees(
    gateway: Gateway,
) -> None:
    with signed_in(gateway) as inviter:
        page = inviter.get("/console/invite").text
        code = inviter.get("/api/v1/user/invite", headers={"X-CSRF-Token": csrf_token(inviter)})
        api_code = code.json()["data"]["code"]
        assert f"{gateway.url}/i/{api_code}" in page  # the same code as the API's
        landing = httpx.get(f"{gateway.url}/i/{api_code}").text
        terms = re.compile(r'<dl class="facts">.*?</ul>', re.S)
        assert terms.search(page).group(0) == terms.search(landing).group(0)  # type: ignore[union-attr]
        assert "Nobody has signed up with your link yet." in page

        friend = new_email()
        with signed_in(gateway, friend, invite=api_code) as invitee:
            assert "Nobody has signed up" in invitee.get("/console/invite").text
        listed = inviter.get("/console/invite").text
        assert friend[:2] + "***@example.test" in listed
        assert friend not in listed
        assert "/console/packages#package-" in listed  # the reward it earned


def _predict(browser: httpx.Client, **fields: str) -> httpx.Response:
    query = {"predict": "1", "model": ECHO, "prompt": "10", "completion": "5", "route": ""}
    return browser.get("/console/prices", params={**query, **fields})


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"model": "no-such-model"}, "model", "this one is not available to you"),
        ({"prompt": "-5"}, "prompt", "Enter a whole number of tokens, 0 or more."),
        ({"completion": "1.5"}, "completion", "Enter a whole number of tokens, 0 or more."),
        ({"prompt": ""}, "prompt", "Enter a whole number of tokens, 0 or more."),
        ({"completion": "100000001"}, "completion", "Enter at most 100,000,000 tokens."),
        ({"route": "no-such-group"}, "route", "Choose a route group from the list."),
    ],
)
def test_a_wrong_prediction_is_a_friendly_400(
    gateway: Gateway, fields: dict[str, str], field: str, message: str
) -> None:
    with signed_in(gateway) as browser:
        response = _predict(browser, **fields)
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("text/html")
    assert message in unescape(response.text)
    assert f'aria-describedby="{field}-error"' in response.text
    assert 'id="predicted-amount"' not in response.text
    assert "Traceback" not in response.text


def test_a_valid_prediction_answers_with_the_amount(gateway: Gateway) -> None:
    with signed_in(gateway) as browser:
        response = _predict(browser, prompt=" 1000 ", completion="0", route="cc-omg")
    assert response.status_code == 200, response.text[:500]
    found = re.search(r'id="predicted-amount">([^<]+)<', response.text)
    assert found is not None and re.fullmatch(r"\d+\.\d{6}", found.group(1))
    assert "through cc-omg" in _text(response.text)
