"""The playground's JSON endpoints over real HTTP (both databases): the key endpoint needs
the session's CSRF token, gives the signed-in user's one playground key a new short-lived
secret (the same row, so the bills keep naming it; the keys lists leave it out), and the
charge lookup finds the user's own calls only.

The calls themselves go to the relay with the playground key, as the page's script makes
them; the fake upstream serves a priced model so the charge is not zero.
"""

from __future__ import annotations

import re
import uuid
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import select

from relaygate.accounts.audit import AuditLine, AuditTrail
from relaygate.accounts.models import ApiKey
from relaygate.core.clock import utcnow
from relaygate.core.ids import hash_key
from relaygate.core.money import format_money
from relaygate.db.engine import Database
from tests.fakes.openai_upstream import FakeOpenAI
from tests.harness import Gateway, run_sync
from tests.integration.test_console_sessions import sign_in

KEY = "/console/playground/key"
CALLS = "/console/playground/calls/"
CSRF = re.compile(r'data-csrf="([^"]+)"')


def _user(gw: Gateway, credit: str = "10") -> tuple[int, httpx.Client]:
    """A user the operator made (with money), signed in through the pages."""
    email = f"playground-{uuid.uuid4().hex[:10]}@example.test"
    user_id = int(gw.create_user(email)["id"])
    if credit:
        gw.credit(user_id, credit)
    browser = httpx.Client(base_url=gw.url, timeout=30, follow_redirects=False)
    sign_in(gw, browser, email)
    return user_id, browser


def _csrf(browser: httpx.Client) -> str:
    page = browser.get("/console/playground")
    assert page.status_code == 200, page.text
    found = CSRF.search(page.text)
    assert found is not None, page.text
    return found.group(1)


def _key_row(gw: Gateway, key: str) -> ApiKey | None:
    async def run() -> ApiKey | None:
        db = Database(gw.db_url)
        try:
            async with db.session() as session:
                found: ApiKey | None = await session.scalar(
                    select(ApiKey).where(ApiKey.key_hash == hash_key(key))
                )
                return found
        finally:
            await db.dispose()

    return run_sync(run())


def _audit(gw: Gateway, user_id: int) -> list[AuditLine]:
    async def read() -> list[AuditLine]:
        db = Database(gw.db_url)
        try:
            return list((await AuditTrail(db).list_for(user_id, limit=50)).lines)
        finally:
            await db.dispose()

    return run_sync(read())


def _priced_model(gw: Gateway, fake: FakeOpenAI) -> str:
    model = f"pg-priced-{uuid.uuid4().hex[:8]}"
    gw.add_channel(fake, [model])
    gw.op("PUT", f"/models/{model}", json={"input": "1000", "output": "2000"})
    return model


def _chat(gw: Gateway, key: str, model: str) -> httpx.Response:
    body: dict[str, Any] = {
        "model": model,
        "messages": [{"role": "user", "content": "hi"}],
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    with gw.http(key) as client:
        return client.post("/v1/chat/completions", json=body)


def test_the_key_endpoint_needs_the_csrf_token(gateway: Gateway) -> None:
    _, browser = _user(gateway)
    _csrf(browser)
    assert browser.post(KEY).status_code == 403
    assert browser.post(KEY, headers={"X-CSRF-Token": "not-the-token"}).status_code == 403
    assert browser.post(KEY, data={"csrf_token": "not-the-token"}).status_code == 403
    anonymous = httpx.Client(base_url=gateway.url, follow_redirects=False)
    assert anonymous.post(KEY).status_code == 303  # to the sign-in page


def test_a_playground_key_is_the_users_short_lived_and_rotated_in_place(
    gateway: Gateway, fake: FakeOpenAI
) -> None:
    user_id, browser = _user(gateway)
    token = _csrf(browser)
    model = _priced_model(gateway, fake)

    first = browser.post(KEY, headers={"X-CSRF-Token": token})
    assert first.status_code == 200, first.text
    assert first.headers["cache-control"] == "no-store"
    key = first.json()["key"]
    row = _key_row(gateway, key)
    assert row is not None and row.user_id == user_id
    assert row.purpose == "playground" and row.remark == "Playground" and not row.is_admin
    assert row.expired_at is not None and row.expired_at <= utcnow() + timedelta(hours=4)
    assert row.permissions is not None and model in row.permissions
    assert "relaygate-echo" in row.permissions
    assert _chat(gateway, key, model).status_code == 200  # authenticated: now in the cache

    second = browser.post(KEY, headers={"X-CSRF-Token": token})
    assert second.status_code == 200
    assert _key_row(gateway, key) is None  # the old secret is gone...
    rotated = _key_row(gateway, second.json()["key"])
    assert rotated is not None and rotated.id == row.id  # ...from the same row
    assert rotated.hint == second.json()["hint"] != row.hint
    assert rotated.expired_at is not None and rotated.expired_at >= row.expired_at
    refused = _chat(gateway, key, model)
    assert refused.status_code == 401  # at once, though the cache had it
    assert _chat(gateway, second.json()["key"], model).status_code == 200

    actions = [(a.action, a.detail.get("key_id")) for a in _audit(gateway, user_id)]
    assert actions[:2] == [("key.rotate", row.id), ("key.create", row.id)]
    assert "key.delete" not in [action for action, _ in actions]


def test_the_playground_key_is_not_listed_but_its_calls_stay_named(
    gateway: Gateway, fake: FakeOpenAI
) -> None:
    user_id, browser = _user(gateway)
    own = gateway.make_user_key(user_id=user_id, remark="mine")
    token = _csrf(browser)
    model = _priced_model(gateway, fake)
    first = browser.post(KEY, headers={"X-CSRF-Token": token}).json()["key"]
    call = _chat(gateway, first, model)
    gateway.wait_for_usage(call.headers["x-request-id"])
    second = browser.post(KEY, headers={"X-CSRF-Token": token}).json()["key"]
    row = _key_row(gateway, second)
    assert row is not None

    keys_page = browser.get("/console/keys")
    assert keys_page.status_code == 200
    assert own.data["hint"] in keys_page.text and row.hint not in keys_page.text
    assert browser.get(f"/console/keys/{row.id}").status_code == 404  # not edited by hand
    listed = browser.post("/api/v1/user/admin/get-api-tokens", headers={"X-CSRF-Token": token})
    assert [k["remark"] for k in listed.json()["data"]] == ["mine"]
    operator_list = gateway.op("GET", f"/users/{user_id}/keys")
    assert [k["id"] for k in operator_list] == [own.id]

    bills = browser.get("/console/bills")
    assert bills.status_code == 200
    assert f'<option value="{row.id}"' in bills.text and "Playground (" in bills.text
    assert '<span class="sub">Playground · /v1' in bills.text  # the line names the key
    filtered = browser.get(f"/console/bills?key={row.id}")
    assert filtered.status_code == 200 and model in filtered.text  # the call before rotation


def test_a_users_own_keys_survive_a_new_playground_key(gateway: Gateway) -> None:
    user_id, browser = _user(gateway)
    own = gateway.make_user_key(user_id=user_id, remark="Playground")
    assert browser.post(KEY, headers={"X-CSRF-Token": _csrf(browser)}).status_code == 200
    assert browser.post(KEY, headers={"X-CSRF-Token": _csrf(browser)}).status_code == 200
    assert _key_row(gateway, own.key) is not None


def test_the_charge_of_a_call_is_its_bill_line_and_only_its_users(
    gateway: Gateway, fake: FakeOpenAI
) -> None:
    _, browser = _user(gateway)
    token = _csrf(browser)
    model = _priced_model(gateway, fake)
    key = browser.post(KEY, headers={"X-CSRF-Token": token}).json()["key"]
    call = _chat(gateway, key, model)
    assert call.status_code == 200
    request_id = call.headers["x-request-id"]
    usage = gateway.wait_for_usage(request_id)
    assert usage["amount"] > 0

    assert browser.get(CALLS + request_id).status_code == 403  # no CSRF header
    line = browser.get(CALLS + request_id, headers={"X-CSRF-Token": token})
    assert line.status_code == 200, line.text
    assert line.headers["cache-control"] == "no-store"
    found = line.json()
    assert found["amount"] == format_money(usage["amount"])
    assert found["prompt_tokens"] == usage["prompt_tokens"]
    assert found["completion_tokens"] == usage["completion_tokens"]
    assert found["request_id"] == request_id and found["model"] == model

    _, other = _user(gateway)
    stranger = other.get(CALLS + request_id, headers={"X-CSRF-Token": _csrf(other)})
    assert stranger.status_code == 404
    assert "text/html" in stranger.headers["content-type"]  # the console's 404 page
    missing = browser.get(CALLS + "req_nothing", headers={"X-CSRF-Token": token})
    assert missing.status_code == 404


# ---------------------------------------------------------------- the page without script


def _post_message(browser: httpx.Client, token: str, **fields: str) -> httpx.Response:
    return browser.post("/console/playground", data={"csrf_token": token, **fields})


def test_the_form_without_script_needs_the_csrf_token(gateway: Gateway) -> None:
    _, browser = _user(gateway)
    _csrf(browser)
    refused = browser.post("/console/playground", data={"message": "hi", "model": "relaygate-echo"})
    assert refused.status_code == 403


def test_the_form_without_script_calls_the_relay_and_carries_the_conversation(
    gateway: Gateway, fake: FakeOpenAI
) -> None:
    user_id, browser = _user(gateway)
    token = _csrf(browser)
    model = _priced_model(gateway, fake)
    first = _post_message(browser, token, model=model, system="Be brief.", message="hello")
    assert first.status_code == 200, first.text
    assert "Hello from the fake upstream." in first.text
    sent = fake.requests_for("/chat/completions")[-1].body
    assert sent["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "hello"},
    ]
    assert not sent.get("stream")
    # the charge shown is the bill line's, for this user's playground key
    usage = gateway.wait_for_records(user_id=user_id, model=model)[0]
    assert f'data-field="amount">{format_money(usage["amount"])}<' in first.text
    history = re.search(r'name="history" value="([^"]*)"', first.text)
    assert history is not None
    carried = history.group(1).replace("&#34;", '"').replace("&quot;", '"')

    second = _post_message(
        browser, token, model=model, system="Be brief.", message="more", history=carried
    )
    assert second.status_code == 200
    roles = [m["role"] for m in fake.requests_for("/chat/completions")[-1].body["messages"]]
    assert roles == ["system", "user", "assistant", "user"]


def test_the_form_without_script_shows_a_refusal(gateway: Gateway, fake: FakeOpenAI) -> None:
    _, browser = _user(gateway, credit="")
    token = _csrf(browser)
    model = _priced_model(gateway, fake)
    page = _post_message(browser, token, model=model, message="hello")
    assert page.status_code == 200
    assert 'role="alert">User balance is insufficient' in page.text
    bad = _post_message(browser, token, model=model, message="hi", temperature="warm")
    assert bad.status_code == 400 and "temperature" in bad.text


# ---------------------------------------------------------------- a call a package paid


def _package(gw: Gateway, user_id: int, model: str) -> str:
    name = f"Trial {uuid.uuid4().hex[:6]}"
    body = {"name": name, "amount": "5", "scope_models": [model]}
    type_id = int(gw.op("POST", "/package-types", json=body)["id"])
    gw.op("POST", f"/users/{user_id}/packages", json={"type_id": type_id})
    return name


def test_a_call_a_package_paid_shows_the_package_not_a_zero_charge(
    gateway: Gateway, fake: FakeOpenAI
) -> None:
    user_id, browser = _user(gateway)
    token = _csrf(browser)
    model = _priced_model(gateway, fake)
    name = _package(gateway, user_id, model)
    key = browser.post(KEY, headers={"X-CSRF-Token": token}).json()["key"]
    call = _chat(gateway, key, model)
    assert call.status_code == 200
    usage = gateway.wait_for_usage(call.headers["x-request-id"])
    assert usage["amount"] == 0 and usage["package_amount"] > 0

    found = browser.get(CALLS + usage["request_id"], headers={"X-CSRF-Token": token}).json()
    assert found["amount"] == "0.000000"
    assert [(p["name"], p["amount"]) for p in found["packages"]] == [
        (name, format_money(usage["package_amount"]))
    ]

    page = _post_message(browser, token, model=model, message="hello")
    assert page.status_code == 200, page.text
    records = gateway.usage(user_id=user_id, model=model)
    (drawn,) = [r for r in records if r["request_id"] != usage["request_id"]]
    assert drawn["amount"] == 0 and drawn["package_amount"] > 0
    assert f"<dt>Package: {name}</dt>" in page.text
    assert 'data-field="package" data-package-id="' in page.text
    assert f">−{format_money(drawn['package_amount'])}</dd>" in page.text
    assert '<dt>Charged to balance</dt><dd class="num" data-field="amount">0.000000<' in page.text
    # the same in Chinese
    browser.cookies.set("rg_lang", "zh")
    zh = _post_message(browser, token, model=model, message="again")
    assert f"<dt>资源包：{name}</dt>" in zh.text and "<dt>从余额扣费</dt>" in zh.text
