"""Key authentication and model permission errors (401/404), on both databases."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import httpx
import openai
import pytest

from tests.fakes.openai_upstream import FakeOpenAI
from tests.harness import Gateway
from tests.integration.assertions import assert_openai_error

ECHO = "relaygate-echo"
USER = [{"role": "user", "content": "hi"}]
# No key at all: OpenAI itself answers 401 invalid_request_error; either code is fine.
NO_KEY_CODES = ("invalid_api_key", "missing_api_key")


def _chat(client: openai.OpenAI, model: str = ECHO) -> None:
    client.chat.completions.create(model=model, messages=USER)


def test_missing_key(gateway: Gateway) -> None:
    with gateway.http() as http:
        response = http.post("/v1/chat/completions", json={"model": ECHO, "messages": USER})
    assert_openai_error(response, 401, NO_KEY_CODES)


def test_malformed_authorization_header(gateway: Gateway) -> None:
    with gateway.http() as http:
        response = http.post(
            "/v1/chat/completions",
            json={"model": ECHO, "messages": USER},
            headers={"Authorization": "Basic dXNlcjpwYXNz"},
        )
    assert_openai_error(response, 401, NO_KEY_CODES)


def test_unknown_key(gateway: Gateway) -> None:
    client = gateway.openai("sk-" + "Z" * 48)
    with pytest.raises(openai.AuthenticationError) as info:
        _chat(client)
    error = assert_openai_error(info.value.response, 401, "invalid_api_key")
    assert "Z" * 20 not in error["message"]


def test_disabled_key(gateway: Gateway) -> None:
    key = gateway.make_user_key()
    gateway.op("PATCH", f"/keys/{key.id}", json={"is_disabled": True})
    with pytest.raises(openai.AuthenticationError) as info:
        _chat(gateway.openai(key.key))
    assert_openai_error(info.value.response, 401, "invalid_api_key")


def test_key_disabled_after_use_is_refused_soon(gateway: Gateway) -> None:
    """A revoked key that sits in the key cache is refused within the cache TTL."""
    key = gateway.make_user_key()
    client = gateway.openai(key.key)
    _chat(client)
    gateway.op("PATCH", f"/keys/{key.id}", json={"is_disabled": True})
    deadline = time.monotonic() + gateway.settings.key_cache_ttl + 5
    while True:
        try:
            _chat(client)
        except openai.AuthenticationError as exc:
            assert_openai_error(exc.response, 401, "invalid_api_key")
            break
        assert time.monotonic() < deadline, "disabled key still accepted"
        time.sleep(0.1)


def test_expired_key(gateway: Gateway) -> None:
    past = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    key = gateway.make_user_key(expired_at=past)
    with pytest.raises(openai.AuthenticationError) as info:
        _chat(gateway.openai(key.key))
    assert_openai_error(info.value.response, 401)


def test_future_expiry_is_accepted(gateway: Gateway) -> None:
    future = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    key = gateway.make_user_key(expired_at=future)
    _chat(gateway.openai(key.key))


def test_model_not_in_key_permissions(gateway: Gateway, fake: FakeOpenAI) -> None:
    ch = gateway.add_channel(fake)
    other_model = next(iter(ch["models"]))
    key = gateway.make_user_key(permissions=[ECHO])
    client = gateway.openai(key.key)
    _chat(client)  # the permitted model works
    with pytest.raises(openai.AuthenticationError) as info:
        _chat(client, other_model)
    assert_openai_error(info.value.response, 401, "model_not_permitted")
    assert not fake.requests, "a refused call must not reach the upstream"


def test_unknown_model(gateway: Gateway) -> None:
    client = gateway.openai(gateway.make_user_key().key)
    with pytest.raises(openai.NotFoundError) as info:
        _chat(client, "definitely-not-a-model")
    assert_openai_error(info.value.response, 404, "model_not_found")


def test_x_api_key_header_works(gateway: Gateway) -> None:
    key = gateway.make_user_key()
    with httpx.Client(base_url=gateway.url, timeout=30) as http:
        response = http.post(
            "/v1/chat/completions",
            json={"model": ECHO, "messages": USER},
            headers={"x-api-key": key.key},
        )
    assert response.status_code == 200, response.text
    assert response.json()["choices"][0]["message"]["role"] == "assistant"
    assert response.headers["x-request-id"]


def test_key_patch_that_keeps_it_enabled(gateway: Gateway) -> None:
    """Patching a key's remark leaves it working, and the list shows the change."""
    key = gateway.make_user_key()
    gateway.op("PATCH", f"/keys/{key.id}", json={"is_disabled": False, "remark": "still on"})
    _chat(gateway.openai(key.key))
    keys = gateway.op("GET", f"/users/{key.user_id}/keys")
    assert [k["remark"] for k in keys if k["id"] == key.id] == ["still on"]
