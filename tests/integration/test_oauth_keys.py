"""An OAuth token used as an API key (docs/oauth.md §5 "The token as an API key"), the
scopes, and the app's management key, over real HTTP on both databases: the official
``openai`` SDK calls /v1 with the token against the fake upstream; the call is billed to
the authorising user under the token's key; revoking, a burnt code and a disabled user
stop the token on the very next call."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import anthropic
import openai
import pytest
from sqlalchemy import select

from relaygate.accounts.models import ApiKey, AuditEntry
from relaygate.db.engine import Database
from relaygate.oauth.models import OAuthToken
from tests.fakes.openai_upstream import FakeOpenAI
from tests.harness import Gateway, run_sync
from tests.integration.oauth_kit import (
    TOKEN_URL,
    Grant,
    authorized,
    client,
    ledger_matches,
    register,
    revoke,
)
from tests.integration.test_money import priced_model

USER = [{"role": "user", "content": "hi"}]
BOTH = "general_api_access admin_token"
BALANCE = "/api/v1/user/admin/balance"  # a management key's route (no per-second limit)


def _chat(gw: Gateway, key: str, model: str) -> Any:
    """One call through the SDK; its raw response (headers and the parsed completion)."""
    return gw.openai(key).chat.completions.with_raw_response.create(model=model, messages=USER)


def _token_row(gw: Gateway, token_id_of: str) -> tuple[OAuthToken, ApiKey | None]:
    async def read() -> tuple[OAuthToken, ApiKey | None]:
        from relaygate.oauth.secrets import digest

        db = Database(gw.db_url)
        try:
            async with db.session() as session:
                row = await session.scalar(
                    select(OAuthToken).where(OAuthToken.token_hash == digest(token_id_of))
                )
                assert row is not None
                key = None if row.api_key_id is None else await session.get(ApiKey, row.api_key_id)
                return row, key
        finally:
            await db.dispose()

    return run_sync(read())


def _audit(gw: Gateway, user_id: int) -> list[str]:
    async def read() -> list[str]:
        db = Database(gw.db_url)
        try:
            async with db.session() as session:
                rows = await session.scalars(
                    select(AuditEntry.action)
                    .where(AuditEntry.subject_user_id == user_id)
                    .order_by(AuditEntry.id)
                )
                return list(rows)
        finally:
            await db.dispose()

    return run_sync(read())


def _refused_on_v1(gw: Gateway, token: str, model: str) -> None:
    with pytest.raises(openai.AuthenticationError) as info:
        _chat(gw, token, model)
    assert info.value.status_code == 401


def test_the_token_is_an_openai_key_billed_to_the_user(gateway: Gateway, fake: FakeOpenAI) -> None:
    model = priced_model(gateway, fake, input="2.00", output="8.00")
    app = register(gateway)
    grant = authorized(gateway, app)
    answer = _chat(gateway, grant.token, model)
    assert answer.parse().choices[0].message.content
    record = gateway.wait_for_usage(answer.headers["x-request-id"])
    row, key = _token_row(gateway, grant.token)
    assert key is not None and row.api_key_id == key.id
    assert record["user_id"] == grant.user_id and record["key_id"] == key.id
    assert record["amount"] > 0
    assert key.purpose == "oauth" and not key.is_admin and key.remark == "OAuth: Example app"
    with gateway.http(grant.token) as http:
        balance = http.post("/api/v1/user/oauth/balance").json()["data"]["balance"]
    assert Decimal(balance) == Decimal(10) - Decimal(record["amount"]) / 1_000_000
    ledger_matches(gateway, grant.user_id)
    # not one of the keys the user manages
    manager = gateway.make_user_key(user_id=grant.user_id, is_admin=True)
    with gateway.http(manager.key) as http:
        mine = http.post("/api/v1/user/admin/get-api-tokens").json()["data"]
        assert [k["remark"] for k in mine] == [""]  # only the management key itself
        hidden = http.post("/api/v1/user/admin/update-api-token", data={"key": grant.token})
        assert hidden.status_code == 404
    listed = gateway.op("GET", f"/users/{grant.user_id}/keys")
    assert key.id not in [k["id"] for k in listed]  # the operator's list is the person's too


def test_the_token_is_an_anthropic_key_on_the_claude_code_route(
    gateway: Gateway, fake: FakeOpenAI
) -> None:
    model = priced_model(gateway, fake, input="1", output="1")
    grant = authorized(gateway, register(gateway))
    sdk = anthropic.Anthropic(
        base_url=gateway.url + "/api/v1/ai/openai/cc-omg", api_key=grant.token, max_retries=0
    )
    answer = sdk.messages.with_raw_response.create(model=model, max_tokens=16, messages=USER)
    record = gateway.wait_for_usage(answer.headers["x-request-id"])
    assert record["user_id"] == grant.user_id and record["route_group"] == "cc-omg"


def test_the_token_works_on_a_platform_route_taking_a_users_key(gateway: Gateway) -> None:
    grant = authorized(gateway, register(gateway))
    with gateway.http(grant.token) as http:
        rates = http.get("/api/v1/pay/model-rates")
    assert rates.status_code == 200 and "models" in rates.json()["data"]


def test_a_revoked_token_is_refused_on_the_next_call(gateway: Gateway, fake: FakeOpenAI) -> None:
    model = priced_model(gateway, fake, input="1", output="1")
    app = register(gateway)
    grant = authorized(gateway, app)
    assert _chat(gateway, grant.token, model).status_code == 200  # now in the key cache
    revoke(gateway, grant, app)
    _refused_on_v1(gateway, grant.token, model)
    with gateway.http(grant.token) as http:
        assert http.post("/api/v1/user/oauth/balance").status_code == 401
    _, key = _token_row(gateway, grant.token)
    assert key is not None and key.is_disabled
    assert "oauth.revoked" in _audit(gateway, grant.user_id)


def test_a_burnt_code_stops_its_token_on_v1(gateway: Gateway, fake: FakeOpenAI) -> None:
    model = priced_model(gateway, fake, input="1", output="1")
    app = register(gateway)
    grant = authorized(gateway, app)
    assert _chat(gateway, grant.token, model).status_code == 200
    again = client(gateway, app, pkce=True)
    with pytest.raises(Exception):  # noqa: B017,PT011 - Authlib's OAuthError: the code is used
        again.fetch_token(TOKEN_URL, authorization_response=grant.location, code_verifier="v" * 64)
    _refused_on_v1(gateway, grant.token, model)


def test_a_disabled_user_stops_the_token_everywhere(gateway: Gateway, fake: FakeOpenAI) -> None:
    model = priced_model(gateway, fake, input="1", output="1")
    grant = authorized(gateway, register(gateway))
    assert _chat(gateway, grant.token, model).status_code == 200
    gateway.op("PATCH", f"/users/{grant.user_id}", json={"is_disabled": True})
    _refused_on_v1(gateway, grant.token, model)
    with gateway.http(grant.token) as http:
        assert http.post("/api/v1/user/oauth/user-info").status_code == 401


def test_a_scope_without_general_api_access_is_no_key(gateway: Gateway, fake: FakeOpenAI) -> None:
    model = priced_model(gateway, fake, input="1", output="1")
    app = register(gateway, scope="admin_token")
    grant = authorized(gateway, app, scope="admin_token")
    _refused_on_v1(gateway, grant.token, model)
    with gateway.http(grant.token) as http:
        assert http.post("/api/v1/user/oauth/user-info").json()["data"]["scope"] == "admin_token"
        for path in ("balance", "charge"):
            refused = http.post(f"/api/v1/user/oauth/{path}", data={"amount": "1"})
            assert refused.status_code == 403, refused.text
            assert refused.json()["errorType"] == "permission_error"
            assert "general_api_access" in refused.json()["message"]


def test_an_app_without_admin_token_gets_no_management_key(gateway: Gateway) -> None:
    grant = authorized(gateway, register(gateway))
    with gateway.http(grant.token) as http:
        for path in ("get-admin-token", "update-admin-token"):
            refused = http.post(f"/api/v1/user/oauth/{path}")
            assert refused.status_code == 403 and "admin_token" in refused.json()["message"]


def test_the_token_is_never_a_management_key(gateway: Gateway) -> None:
    grant = authorized(gateway, register(gateway, scope=BOTH), scope=BOTH)
    with gateway.http(grant.token) as http:
        listing = http.post("/api/v1/user/admin/get-api-tokens")
        created = http.post(
            "/api/v1/user/admin/new-api-token", data={"expired_at": "", "max_fee": "0"}
        )
        operator = http.get("/api/v1/operator/users")
    for refused in (listing, created, operator):
        assert refused.status_code == 403, refused.text
        assert refused.json()["errorType"] == "permission_error" and refused.json()["data"] is None


def test_unknown_scopes_are_refused_and_a_scope_list_is_normalised(gateway: Gateway) -> None:
    from tests.integration.oauth_kit import browser, csrf_of, email
    from tests.integration.test_console_sessions import sign_in

    dev = browser(gateway)
    sign_in(gateway, dev, email())
    body = {"name": "x", "redirect_domains": "app.example.test"}
    headers = {"X-CSRF-Token": csrf_of(dev)}
    bad = dev.post("/api/v1/user/oauth/apps", data={**body, "scope": "everything"}, headers=headers)
    assert bad.status_code == 400 and "general_api_access" in bad.json()["message"]
    good = dev.post(
        "/api/v1/user/oauth/apps",
        data={**body, "scope": "admin_token general_api_access admin_token"},
        headers=headers,
    )
    assert good.json()["data"]["scope"] == BOTH


def _admin(grant: Grant, gw: Gateway, path: str) -> dict[str, Any]:
    with gw.http(grant.token) as http:
        answer = http.post(f"/api/v1/user/oauth/{path}")
    assert answer.status_code == 200, answer.text
    data: dict[str, Any] = answer.json()["data"]
    return data


def test_the_admin_token_is_made_once_rotated_and_revoked(gateway: Gateway) -> None:
    app = register(gateway, scope=BOTH)
    grant = authorized(gateway, app, scope="admin_token general_api_access")  # any order
    with gateway.http(grant.token) as http:
        assert http.post("/api/v1/user/oauth/user-info").json()["data"]["scope"] == BOTH
    first = _admin(grant, gateway, "get-admin-token")
    assert first["created"] and first["key"].startswith("sk-")
    with gateway.http(first["key"]) as http:
        listing = http.post("/api/v1/user/admin/get-api-tokens")
    assert listing.status_code == 200 and listing.json()["data"] == []  # app keys are hidden
    again = _admin(grant, gateway, "get-admin-token")
    assert again == {**first, "key": None, "created": False}
    rotated = _admin(grant, gateway, "update-admin-token")
    assert rotated["created"] and rotated["key"] != first["key"]
    with gateway.http(first["key"]) as http:
        assert http.post(BALANCE).status_code == 401
    with gateway.http(rotated["key"]) as http:
        assert http.post(BALANCE).status_code == 200
        assert http.get("/api/v1/operator/users").status_code == 403  # not the operator's
    actions = _audit(gateway, grant.user_id)
    assert "oauth.admin_token_issued" in actions and "oauth.admin_token_rotated" in actions
    revoke(gateway, grant, app)
    with gateway.http(rotated["key"]) as http:
        assert http.post(BALANCE).status_code == 401


def test_the_consent_page_names_what_the_scope_allows(gateway: Gateway) -> None:
    from tests.integration.oauth_kit import signed_in_user

    person, _ = signed_in_user(gateway)
    for scope, management in (("general_api_access", False), (BOTH, True)):
        app = register(gateway, scope=scope)
        oauth = client(gateway, app, pkce=True, scope=scope)
        url, _ = oauth.create_authorization_url("/next/v1/oauth", code_verifier="v" * 64)
        page = person.get(url)
        assert page.status_code == 200, page.text
        assert "billed to your balance" in page.text
        assert ("management key of your account" in page.text) is management


def test_the_operators_account_hands_no_management_key(
    gateway_factory: Callable[..., Gateway],
) -> None:
    from tests.integration.oauth_kit import approve, browser
    from tests.integration.test_console_sessions import sign_in

    gateway = gateway_factory(operator_email="oauth-operator@example.test")
    app = register(gateway, scope=BOTH)
    operator = browser(gateway)
    sign_in(gateway, operator, "oauth-operator@example.test")
    oauth = client(gateway, app, pkce=True, scope=BOTH)
    url, _ = oauth.create_authorization_url("/next/v1/oauth", code_verifier="v" * 64)
    location = approve(operator, url).headers["location"]
    token = oauth.fetch_token(TOKEN_URL, authorization_response=location, code_verifier="v" * 64)
    with gateway.http(token["access_token"]) as http:
        refused = http.post("/api/v1/user/oauth/get-admin-token")
        operator_api = http.get("/api/v1/operator/users")
    assert refused.status_code == 403 and "operator" in refused.json()["message"]
    assert operator_api.status_code == 403  # the token is no management key either
