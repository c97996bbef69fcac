"""The operator API: channels, users, keys; secrets never leave; admin-only, in the envelope."""

from __future__ import annotations

import re
import time

import httpx
import openai
import pytest

from tests.fakes.openai_upstream import FakeOpenAI
from tests.harness import ADMIN_KEY, Gateway
from tests.integration.assertions import assert_envelope_error

USER = [{"role": "user", "content": "hi"}]
KEY_FORMAT = re.compile(r"^sk-[A-Za-z0-9]{48}$")
CHANNEL_FIELDS = {
    "id",
    "name",
    "type",
    "base_url",
    "models",
    "priority",
    "weight",
    "enabled",
    "headers",
    "has_api_key",
    "source",
    "created_at",
    "updated_at",
}


def test_channel_crud_never_shows_the_key(gateway: Gateway, fake: FakeOpenAI) -> None:
    secret = f"sk-channel-very-secret-{fake.port}"
    created = gateway.add_channel(
        fake, models=[f"m-a-{fake.port}", f"m-b-{fake.port}"], api_key=secret, priority=3, weight=2
    )
    assert set(created) >= CHANNEL_FIELDS
    assert created["type"] == "openai" and created["base_url"] == fake.base_url
    assert created["models"] == {
        f"m-a-{fake.port}": f"m-a-{fake.port}",
        f"m-b-{fake.port}": f"m-b-{fake.port}",
    }
    assert (created["priority"], created["weight"], created["enabled"]) == (3, 2, True)
    assert created["has_api_key"] is True
    cid = created["id"]
    texts = [
        gateway.operator.get("/channels").text,
        gateway.operator.get(f"/channels/{cid}").text,
        gateway.operator.patch(f"/channels/{cid}", json={"priority": 5}).text,
        gateway.operator.post(
            "/channels",
            json={
                "name": f"second-{fake.port}",
                "type": "openai",
                "base_url": fake.base_url,
                "api_key": secret,
                "models": [f"m-c-{fake.port}"],
            },
        ).text,
    ]
    for text in texts:
        assert secret not in text
        assert "very-secret" not in text
    listed = gateway.op("GET", "/channels")
    assert cid in [c["id"] for c in listed]
    fetched = gateway.op("GET", f"/channels/{cid}")
    assert fetched["priority"] == 5 and fetched["weight"] == 2  # PATCH is partial
    assert "api_key" not in fetched or not fetched["api_key"]


def test_channel_model_mapping_shape(gateway: Gateway, fake: FakeOpenAI) -> None:
    ch = gateway.add_channel(fake, models={f"pub-{fake.port}": "up-model"})
    assert ch["models"] == {f"pub-{fake.port}": "up-model"}


def test_disabled_channel_stops_serving(gateway: Gateway, fake: FakeOpenAI) -> None:
    ch = gateway.add_channel(fake)
    model = next(iter(ch["models"]))
    client = gateway.openai(gateway.make_user_key().key)
    client.chat.completions.create(model=model, messages=USER)
    served = len(fake.requests)
    gateway.op("PATCH", f"/channels/{ch['id']}", json={"enabled": False})
    with pytest.raises((openai.NotFoundError, openai.InternalServerError)) as info:
        client.chat.completions.create(model=model, messages=USER)
    assert info.value.status_code in (404, 503)
    assert len(fake.requests) == served
    gateway.op("PATCH", f"/channels/{ch['id']}", json={"enabled": True})
    assert client.chat.completions.create(model=model, messages=USER).choices


def test_channel_patch_takes_effect(gateway: Gateway, fake: FakeOpenAI) -> None:
    """PATCH models, base_url and api_key: the next call uses the new values."""
    ch = gateway.add_channel(fake)
    old_model = next(iter(ch["models"]))
    new_model = f"renamed-{fake.port}"
    client = gateway.openai(gateway.make_user_key().key)
    with FakeOpenAI() as other:
        patched = gateway.op(
            "PATCH",
            f"/channels/{ch['id']}",
            json={
                "models": {new_model: "upstream-renamed"},
                "base_url": other.base_url,
                "api_key": "sk-rotated-channel-key",
            },
        )
        assert patched["models"] == {new_model: "upstream-renamed"}
        assert patched["base_url"] == other.base_url and patched["has_api_key"] is True
        assert "sk-rotated-channel-key" not in str(patched)
        client.chat.completions.create(model=new_model, messages=USER)
        assert other.requests[-1].body["model"] == "upstream-renamed"
        assert other.requests[-1].headers["Authorization"] == "Bearer sk-rotated-channel-key"
        with pytest.raises(openai.NotFoundError):
            client.chat.completions.create(model=old_model, messages=USER)
    assert not fake.requests


def test_key_permission_change_takes_effect(gateway: Gateway, fake: FakeOpenAI) -> None:
    ch = gateway.add_channel(fake)
    model = next(iter(ch["models"]))
    key = gateway.make_user_key(permissions=["relaygate-echo"])
    client = gateway.openai(key.key)
    with pytest.raises(openai.AuthenticationError):
        client.chat.completions.create(model=model, messages=USER)
    gateway.op("PATCH", f"/keys/{key.id}", json={"permissions": ["relaygate-echo", model]})
    deadline = time.monotonic() + gateway.settings.key_cache_ttl + 5
    while True:
        try:
            client.chat.completions.create(model=model, messages=USER)
            break
        except openai.AuthenticationError:
            assert time.monotonic() < deadline, "new permission never took effect"
            time.sleep(0.1)
    keys = gateway.op("GET", f"/users/{key.user_id}/keys")
    assert [k["permissions"] for k in keys if k["id"] == key.id] == [["relaygate-echo", model]]


def test_deleted_channel_stops_serving(gateway: Gateway, fake: FakeOpenAI) -> None:
    ch = gateway.add_channel(fake)
    model = next(iter(ch["models"]))
    client = gateway.openai(gateway.make_user_key().key)
    client.chat.completions.create(model=model, messages=USER)
    gateway.op("DELETE", f"/channels/{ch['id']}")
    with pytest.raises(openai.NotFoundError):
        client.chat.completions.create(model=model, messages=USER)
    assert gateway.operator.get(f"/channels/{ch['id']}").status_code == 404


def test_channel_validation(gateway: Gateway) -> None:
    response = gateway.operator.post("/channels", json={"name": "", "type": "nonsense"})
    assert response.status_code in (400, 422)
    body = response.json()
    assert body["statusCode"] == response.status_code and body["data"] is None


def test_user_and_key_lifecycle(gateway: Gateway) -> None:
    email = f"alice-{time.time_ns()}@example.test"
    user = gateway.create_user(email=email, name="Alice")
    gateway.credit(user["id"], "5")
    assert {"id", "email", "name", "is_operator", "is_disabled", "created_at"} <= set(user)
    assert (user["email"], user["name"], user["is_operator"]) == (email, "Alice", False)
    assert user["id"] in [u["id"] for u in gateway.op("GET", "/users", params={"limit": 1000})]

    issued = gateway.make_user_key(["relaygate-echo"], user_id=user["id"], remark="ci")
    data = issued.data
    assert KEY_FORMAT.match(issued.key), issued.key
    assert {
        "id",
        "key",
        "hint",
        "remark",
        "permissions",
        "expired_at",
        "is_disabled",
        "is_admin",
        "created_at",
    } <= set(data)
    assert data["permissions"] == ["relaygate-echo"] and data["remark"] == "ci"
    assert data["is_disabled"] is False and data["is_admin"] is False
    assert data["hint"] and data["hint"] != issued.key
    second = gateway.make_user_key(user_id=user["id"])
    assert second.key != issued.key

    listing = gateway.operator.get(f"/users/{user['id']}/keys")
    assert issued.key not in listing.text and second.key not in listing.text
    keys = listing.json()["data"]
    assert {k["id"] for k in keys} == {issued.id, second.id}
    assert all("key" not in k for k in keys)

    gateway.openai(issued.key).chat.completions.create(model="relaygate-echo", messages=USER)


def test_duplicate_user_email_refused(gateway: Gateway) -> None:
    email = f"dup-{time.time_ns()}@example.test"
    gateway.create_user(email=email)
    response = gateway.operator.post("/users", json={"email": email})
    assert_envelope_error(response, (400, 409))


def test_key_for_unknown_user_is_404(gateway: Gateway) -> None:
    response = gateway.operator.post("/users/987654321/keys", json={})
    assert_envelope_error(response, (404,))


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/channels"),
        ("POST", "/channels"),
        ("GET", "/users"),
        ("POST", "/users"),
        ("GET", "/usage"),
        ("PATCH", "/keys/1"),
        ("GET", "/users/1/keys"),
    ],
)
def test_operator_routes_refuse_non_admins(gateway: Gateway, method: str, path: str) -> None:
    user_key = gateway.make_user_key().key
    not_operator_admin = gateway.make_user_key(is_admin=True).key
    base = gateway.url + "/api/v1/operator"
    with httpx.Client(base_url=base, timeout=30) as http:
        for headers in (
            {},
            {"Authorization": f"Bearer {user_key}"},
            {"Authorization": f"Bearer {not_operator_admin}"},
            {"Authorization": "Bearer sk-" + "Q" * 48},
            {"x-api-key": user_key},
        ):
            response = http.request(method, path, headers=headers, json={})
            assert_envelope_error(response, (401, 403))
        assert (
            http.get(
                path if method == "GET" else "/users",
                headers={"Authorization": f"Bearer {ADMIN_KEY}"},
            ).status_code
            == 200
        )


def test_duplicate_channel_name_refused(gateway: Gateway, fake: FakeOpenAI) -> None:
    name = f"dup-channel-{fake.port}"
    gateway.add_channel(fake, name=name)
    response = gateway.operator.post(
        "/channels",
        json={
            "name": name,
            "type": "openai",
            "base_url": fake.base_url,
            "api_key": "sk-x",
            "models": [f"dup-model-{fake.port}"],
        },
    )
    assert_envelope_error(response, (400, 409))


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/channels/987654321", None),
        ("PATCH", "/channels/987654321", {"priority": 1}),
        ("DELETE", "/channels/987654321", None),
        ("PATCH", "/keys/987654321", {"remark": "x"}),
        ("GET", "/users/987654321", None),
        ("GET", "/users/987654321/keys", None),
        ("GET", "/no-such-operator-route", None),
    ],
)
def test_operator_not_found_in_envelope(
    gateway: Gateway, method: str, path: str, body: dict[str, object] | None
) -> None:
    response = gateway.operator.request(method, path, json=body)
    assert_envelope_error(response, (404,))


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/users", {"email": "not-an-email"}),
        ("POST", "/users", {}),
        ("POST", "/users", {"email": "x@example.test", "unknown": 1}),
        ("POST", "/channels", {"name": "x", "type": "openai", "models": "not-a-list"}),
        ("PATCH", "/keys/1", {"permissions": "everything"}),
        ("PATCH", "/keys/1", {"expired_at": "next tuesday"}),
        ("GET", "/channels/not-a-number", None),
    ],
)
def test_operator_validation_errors_in_envelope(
    gateway: Gateway, method: str, path: str, body: dict[str, object] | None
) -> None:
    response = gateway.operator.request(method, path, json=body)
    assert_envelope_error(response, (400, 404, 422))


@pytest.mark.parametrize("when", ["2020-01-01T00:00:00", "2020-01-01"])
def test_key_expiry_without_timezone(gateway: Gateway, when: str) -> None:
    """A naive ISO time (no offset) is read as UTC or refused in the envelope; never a 500."""
    user = gateway.create_user()
    ok_key = gateway.make_user_key(user_id=user["id"])
    base = gateway.url + "/api/v1/operator"
    headers = {"Authorization": f"Bearer {ADMIN_KEY}"}
    # One connection per call: after a 500 the server drops the connection.
    created = httpx.post(
        f"{base}/users/{user['id']}/keys", json={"expired_at": when}, headers=headers, timeout=30
    )
    patched = httpx.patch(
        f"{base}/keys/{ok_key.id}", json={"expired_at": when}, headers=headers, timeout=30
    )
    for response in (created, patched):
        if response.status_code != 200:
            assert_envelope_error(response, (400, 422))
            continue
        expired_at = response.json()["data"]["expired_at"]
        assert expired_at.startswith("2020-01-01T00:00:00") and (
            expired_at.endswith("Z") or expired_at.endswith("+00:00")
        ), expired_at
    if created.status_code == 200:
        with pytest.raises(openai.AuthenticationError):
            gateway.openai(created.json()["data"]["key"]).chat.completions.create(
                model="relaygate-echo", messages=USER
            )
