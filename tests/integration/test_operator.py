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
