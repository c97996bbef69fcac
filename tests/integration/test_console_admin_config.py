"""The operator's configuration pages over HTTP: a non-operator gets the
404 page from every page and form, every POST needs the CSRF token, a bad channel form is
a 400 naming the field (never a 500), upstream keys never come back in a page, and each
change is in the audit trail under the operator who made it."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator

import httpx
import pytest

from relaygate.accounts.audit import AuditLine, AuditTrail
from relaygate.db.engine import Database
from tests.harness import Gateway, run_sync, start_gateway
from tests.integration.console import csrf_token, new_browser, sign_in

OPERATOR = "cfg-operator@example.test"
GET_PAGES = (
    "/console/admin/channels",
    "/console/admin/channels/new",
    "/console/admin/channels/{channel}",
    "/console/admin/models",
    "/console/admin/packages",
    "/console/admin/packages/{type}",
    "/console/admin/settings",
    "/console/admin/tiers",
)
POSTS = (
    "/console/admin/channels/new",
    "/console/admin/channels/{channel}",
    "/console/admin/channels/{channel}/enabled",
    "/console/admin/channels/{channel}/test",
    "/console/admin/channels/{channel}/delete",
    "/console/admin/models/new",
    "/console/admin/models/edit",
    "/console/admin/models/delete",
    "/console/admin/packages",
    "/console/admin/packages/{type}",
    "/console/admin/packages/{type}/active",
    "/console/admin/tiers/membership",
    "/console/admin/tiers/rate-limits",
    "/console/admin/tiers/referral",
    "/console/admin/tiers/rate_limit_tiers/reset",
)


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    """A gateway of its own: the pool's operator (``operator@localhost``) has an address
    the sign-in form refuses, so it cannot sign in to the console."""
    url = f"sqlite:///{tmp_path_factory.mktemp('admin-config')}/gw.db"
    gw = start_gateway(
        url, operator_email=OPERATOR, login_per_ip_per_minute=0, login_per_ip_per_hour=0
    )
    yield gw
    gw.stop()


@pytest.fixture(scope="module")
def signed_in() -> Iterator[dict[str, httpx.Client]]:
    """One signed-in browser per (gateway, email), kept for the module: the sign-in form
    allows five links per address and minute."""
    clients: dict[str, httpx.Client] = {}
    yield clients
    for client in clients.values():
        client.close()


def _browser(gw: Gateway, email: str, signed_in: dict[str, httpx.Client]) -> httpx.Client:
    key = f"{gw.url} {email}"
    if key not in signed_in:
        client = new_browser(gw)
        sign_in(gw, client, email)
        signed_in[key] = client
    return signed_in[key]


def _targets(gw: Gateway, fake_url: str) -> dict[str, str]:
    suffix = uuid.uuid4().hex[:8]
    channel = gw.op(
        "POST",
        "/channels",
        json={"name": f"cfg-{suffix}", "base_url": fake_url, "api_key": f"sk-cfg-{suffix}-key"},
    )
    kind = gw.op("POST", "/package-types", json={"name": f"cfg-{suffix}", "amount": "5"})
    return {"channel": str(channel["id"]), "type": str(kind["id"])}


def _audit(gw: Gateway) -> list[AuditLine]:
    async def read() -> list[AuditLine]:
        db = Database(gw.db_url)
        try:
            return list((await AuditTrail(db).list_all(limit=200)).lines)
        finally:
            await db.dispose()

    return run_sync(read())


def test_operator_pages_are_404_for_anyone_else(
    gateway: Gateway, signed_in: dict[str, httpx.Client]
) -> None:
    targets = _targets(gateway, "http://127.0.0.1:9/v1")
    user = _browser(gateway, f"cfg-{uuid.uuid4().hex[:8]}@example.test", signed_in)
    token = csrf_token(user)
    for path in GET_PAGES:
        page = user.get(path.format(**targets))
        assert page.status_code == 404, path
        assert "text/html" in page.headers["content-type"]
    for path in POSTS:
        sent = user.post(path.format(**targets), data={"csrf_token": token, "model": "x"})
        assert sent.status_code == 404, path
    # nothing changed: the channel is still there for the operator
    gateway.op("GET", f"/channels/{targets['channel']}")


def test_every_post_needs_the_csrf_token(
    gateway: Gateway, signed_in: dict[str, httpx.Client]
) -> None:
    targets = _targets(gateway, "http://127.0.0.1:9/v1")
    operator = _browser(gateway, OPERATOR, signed_in)
    for path in POSTS:
        refused = operator.post(path.format(**targets), data={"name": "x", "model": "x"})
        assert refused.status_code == 403, path
        wrong = operator.post(path.format(**targets), data={"csrf_token": "forged", "model": "x"})
        assert wrong.status_code == 403, path
    gateway.op("GET", f"/channels/{targets['channel']}")  # not deleted


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        ({"type": "openai", "base_url": "ftp://upstream.example"}, "base_url"),
        ({"type": "no-such-type", "base_url": "https://upstream.example"}, "type"),
        ({"type": "openai", "base_url": "https://u.example", "weight": "0"}, "weight"),
        ({"type": "openai", "base_url": "https://u.example", "options": "[1"}, "options"),
        ({"type": "openai", "base_url": "https://u.example", "priority": "high"}, "priority"),
    ],
)
def test_a_bad_channel_form_is_a_form_error(
    gateway: Gateway, signed_in: dict[str, httpx.Client], fields: dict[str, str], named: str
) -> None:
    operator = _browser(gateway, OPERATOR, signed_in)
    token = csrf_token(operator, "/console/admin/channels/new")
    name = f"bad-{uuid.uuid4().hex[:8]}"
    answer = operator.post(
        "/console/admin/channels/new", data={"csrf_token": token, "name": name, **fields}
    )
    assert answer.status_code == 400, answer.text
    assert f'id="error-{named}"' in answer.text
    assert name in answer.text  # what was typed is shown again
    assert all(row["name"] != name for row in gateway.op("GET", "/channels"))


def test_channel_keys_are_write_only_and_changes_are_audited(
    gateway: Gateway, signed_in: dict[str, httpx.Client]
) -> None:
    operator = _browser(gateway, OPERATOR, signed_in)
    token = csrf_token(operator, "/console/admin/channels/new")
    name, key = f"audited-{uuid.uuid4().hex[:8]}", f"sk-writeonly-{uuid.uuid4().hex}"
    created = operator.post(
        "/console/admin/channels/new",
        data={
            "csrf_token": token,
            "name": name,
            "type": "openai",
            "base_url": "https://upstream.example/v1",
            "models": "m-a\nm-b = upstream-b",
            "api_key": key,
            "enabled": "on",
        },
    )
    assert created.status_code == 303, created.text
    location = created.headers["location"]
    channel_id = int(re.search(r"/channels/(\d+)", location).group(1))  # type: ignore[union-attr]
    for page in (location, "/console/admin/channels"):
        html = operator.get(page).text
        assert key not in html and key[-4:] in html  # the hint only
    # an edit that leaves the keys box empty keeps the key
    edited = operator.post(
        f"/console/admin/channels/{channel_id}",
        data={
            "csrf_token": token,
            "name": name,
            "base_url": "https://upstream.example/v1",
            "models": "m-a",
            "priority": "3",
            "weight": "2",
            "options": "{}",
            "enabled": "on",
        },
    )
    assert edited.status_code == 303, edited.text
    stored = gateway.op("GET", f"/channels/{channel_id}")
    assert (
        stored["priority"] == 3 and stored["key_count"] == 1 and stored["models"] == {"m-a": "m-a"}
    )
    lines = [line for line in _audit(gateway) if line.detail.get("channel_id") == channel_id]
    assert [line.action for line in lines][-2:] in (
        ["channel.create", "channel.edit"],
        ["channel.edit", "channel.create"],
    )
    assert all(line.actor_id is not None for line in lines)
    assert all(key not in str(line.detail) for line in lines)


def test_a_disabled_package_type_is_not_granted(
    gateway: Gateway, signed_in: dict[str, httpx.Client]
) -> None:
    operator = _browser(gateway, OPERATOR, signed_in)
    type_id = _targets(gateway, "http://127.0.0.1:9/v1")["type"]
    token = csrf_token(operator, "/console/admin/packages")
    off = operator.post(
        f"/console/admin/packages/{type_id}/active", data={"csrf_token": token, "active": "false"}
    )
    assert off.status_code == 303
    user_id = gateway.create_user()["id"]
    refused = gateway.operator.post(f"/users/{user_id}/packages", json={"type_id": int(type_id)})
    assert refused.status_code == 400, refused.text
    assert "disabled" in refused.text
    on = operator.post(
        f"/console/admin/packages/{type_id}/active", data={"csrf_token": token, "active": "true"}
    )
    assert on.status_code == 303
    gateway.op("POST", f"/users/{user_id}/packages", json={"type_id": int(type_id)})
    actions = [
        line.action for line in _audit(gateway) if line.detail.get("type_id") == int(type_id)
    ]
    assert {"package_type.disable", "package_type.enable"} <= set(actions)


def test_the_pages_render_in_chinese(gateway: Gateway, signed_in: dict[str, httpx.Client]) -> None:
    targets = _targets(gateway, "http://127.0.0.1:9/v1")
    operator = _browser(gateway, OPERATOR, signed_in)
    for path in GET_PAGES:
        page = operator.get(path.format(**targets), cookies={"rg_lang": "zh"})
        assert page.status_code == 200, path
        assert '<html lang="zh-CN">' in page.text
    assert "熔断器" in operator.get("/console/admin/channels", cookies={"rg_lang": "zh"}).text


def test_the_test_button_reports_a_failing_channel(
    gateway: Gateway, signed_in: dict[str, httpx.Client]
) -> None:
    operator = _browser(gateway, OPERATOR, signed_in)
    token = csrf_token(operator, "/console/admin/channels")
    key = f"sk-deadupstream-{uuid.uuid4().hex}"
    dead = gateway.op(
        "POST",
        "/channels",
        json={
            "name": f"dead-{uuid.uuid4().hex[:8]}",
            "base_url": "http://127.0.0.1:9/v1",  # nothing listens on the discard port
            "api_key": key,
            "models": ["dead-model"],
        },
    )
    answer = operator.post(f"/console/admin/channels/{dead['id']}/test", data={"csrf_token": token})
    assert answer.status_code == 200
    assert "The test failed." in answer.text and key not in answer.text
    # a channel without a model cannot be tested: said on the page, not a 500
    bare = _targets(gateway, "http://127.0.0.1:9/v1")["channel"]
    refused = operator.post(f"/console/admin/channels/{bare}/test", data={"csrf_token": token})
    assert refused.status_code == 200 and "serves no model" in refused.text


def test_unknown_ids_are_the_404_page(gateway: Gateway, signed_in: dict[str, httpx.Client]) -> None:
    operator = _browser(gateway, OPERATOR, signed_in)
    token = csrf_token(operator, "/console/admin/channels")
    for missing in ("999999", str(2**70), "abc"):
        for path in ("/console/admin/channels/{}", "/console/admin/packages/{}"):
            page = operator.get(path.format(missing))
            assert page.status_code in (404, 400), (path, missing, page.status_code)
            assert "text/html" in page.headers["content-type"]
        sent = operator.post(
            f"/console/admin/channels/{missing}/delete", data={"csrf_token": token}
        )
        assert sent.status_code in (404, 400), (missing, sent.status_code)
    gone = operator.post(
        "/console/admin/models/edit", data={"csrf_token": token, "model": "no-such-model"}
    )
    assert gone.status_code == 404


def test_a_bad_row_is_shown_on_its_row_and_a_good_one_is_audited(
    gateway: Gateway, signed_in: dict[str, httpx.Client]
) -> None:
    operator = _browser(gateway, OPERATOR, signed_in)
    model = f"row-{uuid.uuid4().hex[:8]}"
    gateway.op("PUT", f"/models/{model}", json={"input": "1", "output": "2"})
    token = csrf_token(operator, "/console/admin/models")
    bad = operator.post(
        "/console/admin/models/edit",
        data={"csrf_token": token, "model": model, "input": "0.0000001", "output": "2"},
    )
    assert bad.status_code == 400 and "0.0000001" in bad.text  # typed value kept
    as_json = operator.post(
        "/console/admin/models/edit",
        data={"csrf_token": token, "model": model, "input": "x"},
        headers={"accept": "application/json"},
    )
    assert as_json.status_code == 400 and "input" in as_json.json()["errors"]
    good = operator.post(
        "/console/admin/models/edit",
        data={"csrf_token": token, "model": model, "input": "1.25", "output": "2"},
    )
    assert good.status_code == 303
    [line] = [m for m in gateway.op("GET", "/models") if m["model"] == model]
    assert line["input"] == "1.250000"
    edits = [a for a in _audit(gateway) if a.action == "price.edit" and a.detail["model"] == model]
    assert edits and edits[0].actor_id is not None


def test_the_channel_form_offers_the_tool_channels_with_their_options(
    gateway: Gateway, signed_in: dict[str, httpx.Client]
) -> None:
    operator = _browser(gateway, OPERATOR, signed_in)
    form = operator.get("/console/admin/channels/new").text
    for kind in ("google_search", "serper", "azure_speech"):
        assert f'<option value="{kind}"' in form
    assert "region (Azure Speech)" in form  # the options box names the tools' options
    token = csrf_token(operator, "/console/admin/channels/new")
    name = f"speech-{uuid.uuid4().hex[:8]}"
    created = operator.post(
        "/console/admin/channels/new",
        data={
            "csrf_token": token,
            "name": name,
            "type": "azure_speech",
            "base_url": "",  # the region gives it
            "api_key": "azure-speech-key",
            "options": '{"region": "eastus"}',
            "enabled": "on",
        },
    )
    assert created.status_code == 303, created.text
    stored = next(row for row in gateway.op("GET", "/channels") if row["name"] == name)
    assert stored["base_url"] == "https://eastus.tts.speech.microsoft.com"
    assert stored["models"] == {"azure-tts": "azure-tts"}
    assert stored["options"]["region"] == "eastus"
    gateway.op("DELETE", f"/channels/{stored['id']}")
