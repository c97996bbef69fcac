"""The OAuth open API over real HTTP (docs/oauth.md), on both databases: the
authorization-code flow driven by Authlib's client with and without PKCE, through the
consent page; every refusal the brief names; charges (idempotent under 50 concurrent
requests) with the ledger equal to every wallet after each scenario.

Expired codes are made by ageing their row (the column the service reads), not by waiting.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from decimal import Decimal

import httpx
import pytest
from authlib.integrations.base_client.errors import OAuthError
from sqlalchemy import update

from relaygate.core.clock import utcnow
from relaygate.db.engine import Database
from relaygate.oauth.models import OAuthCode
from tests.harness import Gateway, run_sync
from tests.integration.oauth_kit import (
    REDIRECT,
    TOKEN_URL,
    App,
    approve,
    client,
    ledger_matches,
    register,
    signed_in_user,
)


def _authorized(gw: Gateway, app: App, *, pkce: bool) -> tuple[dict[str, str], int, str]:
    """A user approves ``app``; Authlib exchanges the code. (token, user id, callback URL)."""
    person, uid = signed_in_user(gw)
    oauth = client(gw, app, pkce=pkce)
    verifier = "v" * 64 if pkce else None
    url, state = oauth.create_authorization_url("/next/v1/oauth", code_verifier=verifier)
    done = approve(person, url)
    assert done.status_code == 303, done.text
    location = done.headers["location"]
    assert location.startswith(REDIRECT + "?code=") and f"state={state}" in location
    token = oauth.fetch_token(TOKEN_URL, authorization_response=location, code_verifier=verifier)
    assert token["access_token"].startswith("omg-oat-v1-")
    return token, uid, location


def _bearer(gw: Gateway, token: str) -> httpx.Client:
    return gw.http(token)


@pytest.mark.parametrize("pkce", [False, True])
def test_the_code_flow_gives_a_token_that_reads_the_user(gateway: Gateway, pkce: bool) -> None:
    app = register(gateway)
    token, uid, _ = _authorized(gateway, app, pkce=pkce)
    with _bearer(gateway, token["access_token"]) as http:
        info = http.post("/api/v1/user/oauth/user-info")
        assert info.status_code == 200 and info.json()["data"]["user_id"] == str(uid)
        money = http.post("/api/v1/user/oauth/balance").json()["data"]
        assert money == {"balance": "10.000000", "free_balance": "0.000000"}
    ledger_matches(gateway, uid, app.owner_id)


def test_a_public_client_must_use_pkce_and_the_right_verifier(gateway: Gateway) -> None:
    app = register(gateway, public=True)
    person, _ = signed_in_user(gateway)
    plain = client(gateway, app, pkce=False)
    url, _ = plain.create_authorization_url("/next/v1/oauth")
    page = person.get(url)
    assert page.status_code == 400 and "PKCE" in page.text
    oauth = client(gateway, app, pkce=True, secret="")
    url, _ = oauth.create_authorization_url("/next/v1/oauth", code_verifier="a" * 50)
    location = approve(person, url).headers["location"]
    with pytest.raises(OAuthError):  # the wrong verifier
        oauth.fetch_token(TOKEN_URL, authorization_response=location, code_verifier="b" * 50)
    token = oauth.fetch_token(TOKEN_URL, authorization_response=location, code_verifier="a" * 50)
    assert token["access_token"].startswith("omg-oat-v1-")


def test_bad_requests_are_an_error_page_never_a_redirect(gateway: Gateway) -> None:
    app = register(gateway)
    person, _ = signed_in_user(gateway)
    base = {"response_type": "code", "client_id": app.client_id, "state": "s1"}
    cases = [
        {**base, "redirect_uri": "https://evil.example.test/cb", "scope": "general_api_access"},
        {
            **base,
            "redirect_uri": "https://app.example.test.evil.test/",
            "scope": "general_api_access",
        },
        {**base, "redirect_uri": REDIRECT, "scope": "general_api_access more"},
        {**base, "client_id": "0" * 24, "redirect_uri": REDIRECT, "scope": "general_api_access"},
        # a template that would move the host is refused when the browser comes back
    ]
    for params in cases:
        page = person.get("/next/v1/oauth", params=params)
        assert page.status_code == 400, params
        assert "location" not in page.headers
        assert "text/html" in page.headers["content-type"]


def test_a_template_cannot_move_the_host(gateway: Gateway) -> None:
    import base64

    app = register(gateway)
    person, _ = signed_in_user(gateway)
    template = base64.b64encode(b"@evil.example.test/?code={code}").decode()
    params = {
        "response_type": "code",
        "client_id": app.client_id,
        "redirect_uri": "https://app.example.test",
        "scope": "general_api_access",
        "redirect_template": template,
    }
    url = str(httpx.URL("/next/v1/oauth", params=params))
    done = approve(person, url)
    assert done.status_code == 400 and "location" not in done.headers
    good = base64.b64encode(b"/tg?code={code}&state={state}&tgid=114514").decode()
    url = str(
        httpx.URL("/next/v1/oauth", params={**params, "redirect_template": good, "state": "x"})
    )
    target = approve(person, url).headers["location"]
    assert target.startswith("https://app.example.test/tg?code=")
    assert target.endswith("&state=x&tgid=114514")


def test_deny_redirects_with_access_denied(gateway: Gateway) -> None:
    app = register(gateway)
    person, _ = signed_in_user(gateway)
    url, state = client(gateway, app, pkce=False).create_authorization_url("/next/v1/oauth")
    done = approve(person, url, decision="deny")
    assert done.headers["location"] == f"{REDIRECT}?error=access_denied&state={state}"


def test_a_reused_code_is_refused_and_revokes_its_token(gateway: Gateway) -> None:
    app = register(gateway)
    token, _, location = _authorized(gateway, app, pkce=False)
    with pytest.raises(OAuthError):
        client(gateway, app, pkce=False).fetch_token(TOKEN_URL, authorization_response=location)
    with _bearer(gateway, token["access_token"]) as http:
        refused = http.post("/api/v1/user/oauth/balance")
    assert refused.status_code == 401
    assert refused.json()["errorType"] == "oauth_invalid_token_error"


def test_wrong_secret_and_expired_code_are_refused(gateway: Gateway) -> None:
    app = register(gateway)
    person, _ = signed_in_user(gateway)
    url, _ = client(gateway, app, pkce=False).create_authorization_url("/next/v1/oauth")
    location = approve(person, url).headers["location"]
    with pytest.raises(OAuthError):
        client(gateway, app, pkce=False, secret="x" * 32).fetch_token(
            TOKEN_URL, authorization_response=location
        )

    async def age() -> None:
        db = Database(gateway.db_url)
        try:
            async with db.session() as session, session.begin():
                await session.execute(
                    update(OAuthCode).values(expires_at=utcnow() - timedelta(seconds=1))
                )
        finally:
            await db.dispose()

    run_sync(age())
    with pytest.raises(OAuthError):
        client(gateway, app, pkce=False).fetch_token(TOKEN_URL, authorization_response=location)


def test_a_rotated_secret_replaces_the_old_one(gateway: Gateway) -> None:
    app = register(gateway)
    from tests.integration.oauth_kit import csrf_of

    rotated = app.developer.post(
        f"/api/v1/user/oauth/apps/{app.client_id}/rotate-secret",
        headers={"X-CSRF-Token": csrf_of(app.developer)},
    )
    new_secret = rotated.json()["data"]["client_secret"]
    assert new_secret != app.client_secret
    person, _ = signed_in_user(gateway)
    url, _ = client(gateway, app, pkce=False).create_authorization_url("/next/v1/oauth")
    location = approve(person, url).headers["location"]
    with pytest.raises(OAuthError):
        client(gateway, app, pkce=False).fetch_token(TOKEN_URL, authorization_response=location)
    fresh = client(gateway, app, pkce=False, secret=new_secret)
    assert fresh.fetch_token(TOKEN_URL, authorization_response=location)["access_token"]


def test_charges_move_money_once_per_key_under_50_concurrent_requests(gateway: Gateway) -> None:
    app = register(gateway)
    token, uid, _ = _authorized(gateway, app, pkce=True)
    body = {"amount": "1.5", "remark": "one ride", "idempotency_key": "order-1"}

    async def burst() -> list[httpx.Response]:
        headers = {"Authorization": f"Bearer {token['access_token']}"}
        async with httpx.AsyncClient(base_url=gateway.url, headers=headers, timeout=60) as http:
            calls = [http.post("/api/v1/user/oauth/charge", data=body) for _ in range(50)]
            return list(await asyncio.gather(*calls))

    answers = run_sync(burst())
    assert all(a.status_code == 200 for a in answers), [
        a.text for a in answers if a.status_code != 200
    ]
    datas = [a.json()["data"] for a in answers]
    assert len({d["charge_id"] for d in datas}) == 1
    assert sum(not d["replayed"] for d in datas) == 1
    assert {d["balance_after"] for d in datas} == {"8.500000"}
    with _bearer(gateway, token["access_token"]) as http:
        assert http.post("/api/v1/user/oauth/balance").json()["data"]["balance"] == "8.500000"
    percent = Decimal(str(gateway.settings.oauth_commission_percent))
    commission = Decimal("1.5") * percent / 100
    assert Decimal(datas[0]["commission"]) == commission.quantize(Decimal("0.000001"))
    apps = app.developer.get("/api/v1/user/oauth/apps").json()["data"]
    assert Decimal(apps[0]["revenue"]) == Decimal("1.5") - Decimal(datas[0]["commission"])
    ledger_matches(gateway, uid, app.owner_id)


def test_402_when_the_balance_cannot_pay_and_bad_amounts_are_400(gateway: Gateway) -> None:
    app = register(gateway)
    token, uid, _ = _authorized(gateway, app, pkce=False)
    with _bearer(gateway, token["access_token"]) as http:
        too_much = http.post(
            "/api/v1/user/oauth/charge", data={"amount": "10.000001", "idempotency_key": "a"}
        )
        assert too_much.status_code == 402
        assert too_much.json()["errorType"] == "insufficient_balance_error"
        for bad in ({"amount": "0", "idempotency_key": "b"}, {"amount": "1"}, {"amount": "x"}):
            assert http.post("/api/v1/user/oauth/charge", data=bad).status_code == 400, bad
        assert (
            http.post(
                "/api/v1/user/oauth/charge", data={"amount": "10", "idempotency_key": "all"}
            ).status_code
            == 200
        )
        empty = http.post("/api/v1/user/oauth/charge", data={"amount": "1", "idempotency_key": "c"})
        assert empty.status_code == 402
    ledger_matches(gateway, uid, app.owner_id)


def test_unknown_tokens_are_refused(gateway: Gateway) -> None:
    for key in ("omg-oat-v1-" + "x" * 43, "sk-whatever", ""):
        with gateway.http(key or None) as http:
            got = http.post("/api/v1/user/oauth/user-info")
        assert got.status_code == 401
        assert got.json()["errorType"] == "oauth_invalid_token_error"


def test_concurrent_first_charges_with_different_keys_all_land(gateway: Gateway) -> None:
    """20 charges at once, each its own key, the first ones a new developer receives:
    every one is charged once and the wallets still equal their ledgers."""
    app = register(gateway)
    token, uid, _ = _authorized(gateway, app, pkce=False)

    async def burst() -> list[httpx.Response]:
        headers = {"Authorization": f"Bearer {token['access_token']}"}
        async with httpx.AsyncClient(base_url=gateway.url, headers=headers, timeout=60) as http:
            calls = [
                http.post(
                    "/api/v1/user/oauth/charge", data={"amount": "0.1", "idempotency_key": f"k{i}"}
                )
                for i in range(20)
            ]
            return list(await asyncio.gather(*calls))

    answers = run_sync(burst())
    assert [a.status_code for a in answers] == [200] * 20, [a.text for a in answers]
    with _bearer(gateway, token["access_token"]) as http:
        assert http.post("/api/v1/user/oauth/balance").json()["data"]["balance"] == "8.000000"
    ledger_matches(gateway, uid, app.owner_id)
