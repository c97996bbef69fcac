"""Passkeys over real HTTP, both ceremonies run by a software authenticator with real keys
(tests/fakes/authenticator.py), on both databases.

A user signs in by mailed link, registers a passkey with the session token, then signs in
with the passkey alone; the refusals are the attacks a relying party must stop: a page on
another origin, a replayed challenge or assertion, another user's challenge or
credential, a cloned authenticator whose counter went back.
"""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from tests.fakes.authenticator import SoftAuthenticator, SoftCredential
from tests.harness import Gateway
from tests.integration.test_signup_referral import sign_in


@pytest.fixture
def gw(gateway: Gateway) -> Gateway:
    return gateway


def _user(gw: Gateway) -> tuple[str, int]:
    """A new user signed in by mail: their session token and id."""
    data = sign_in(gw, f"pk-{uuid.uuid4().hex[:10]}@example.test")
    return data["session_token"], int(data["user_id"])


def _call(gw: Gateway, method: str, path: str, token: str | None = None, **kw: Any) -> Any:
    with gw.http(token) as http:
        return http.request(method, path, **kw)


def _ok(response: httpx.Response) -> Any:
    assert response.status_code == 200, response.text
    return response.json()["data"]


def _register(
    gw: Gateway, token: str, device: SoftAuthenticator, name: str = "Laptop"
) -> dict[str, Any]:
    options = _ok(_call(gw, "POST", "/api/v1/user/passkeys/options", token))
    credential = device.create(options)
    return _ok(
        _call(
            gw,
            "POST",
            "/api/v1/user/passkeys",
            token,
            json={"credential": credential, "name": name},
        )
    )


def _sign_in_options(gw: Gateway) -> dict[str, Any]:
    options: dict[str, Any] = _ok(_call(gw, "POST", "/api/v1/auth/passkey/options"))
    return options


def _verify(gw: Gateway, credential: dict[str, Any]) -> httpx.Response:
    response: httpx.Response = _call(
        gw, "POST", "/api/v1/auth/passkey/verify", json={"credential": credential}
    )
    return response


def _device(gw: Gateway) -> SoftAuthenticator:
    return SoftAuthenticator(origin=gw.url)


def test_register_then_sign_in_with_the_passkey(gw: Gateway) -> None:
    token, user_id = _user(gw)
    device = _device(gw)
    options = _ok(_call(gw, "POST", "/api/v1/user/passkeys/options", token))
    assert options["rp"] == {"id": "127.0.0.1", "name": "Relaygate"}
    assert options["user"]["id"] and options["excludeCredentials"] == []
    created = _ok(
        _call(
            gw,
            "POST",
            "/api/v1/user/passkeys",
            token,
            json={"credential": device.create(options), "name": "  My   phone "},
        )
    )
    assert created["name"] == "My phone" and created["last_used_at"] is None
    assert set(created["transports"]) == {"internal", "hybrid"}

    signed_in = _ok(_verify(gw, device.get(_sign_in_options(gw))))
    assert signed_in["user_id"] == user_id and signed_in["is_new"] is False
    new_token = signed_in["session_token"]
    assert new_token.startswith("rgs_") and new_token != token
    listed = _ok(_call(gw, "GET", "/api/v1/user/passkeys", new_token))  # the new session works
    assert [p["id"] for p in listed] == [created["id"]]
    assert listed[0]["last_used_at"] is not None

    # the registered passkey is excluded from the next registration's options
    again = _ok(_call(gw, "POST", "/api/v1/user/passkeys/options", token))
    assert [c["id"] for c in again["excludeCredentials"]] == list(device.credentials)


def test_a_page_on_another_origin_is_refused(gw: Gateway) -> None:
    token, _ = _user(gw)
    device = _device(gw)
    options = _ok(_call(gw, "POST", "/api/v1/user/passkeys/options", token))
    forged = device.create(options, origin="https://evil.example")
    refused = _call(gw, "POST", "/api/v1/user/passkeys", token, json={"credential": forged})
    assert refused.status_code == 400 and "origin" in refused.json()["message"]
    assert _ok(_call(gw, "GET", "/api/v1/user/passkeys", token)) == []

    device = _device(gw)
    _register(gw, token, device)
    answer = device.get(_sign_in_options(gw), origin="https://evil.example")
    refused = _verify(gw, answer)
    assert refused.status_code == 401 and refused.json()["data"] is None


def test_a_replayed_challenge_is_refused(gw: Gateway) -> None:
    token, _ = _user(gw)
    device = _device(gw)
    options = _ok(_call(gw, "POST", "/api/v1/user/passkeys/options", token))
    first = device.create(options)
    _ok(_call(gw, "POST", "/api/v1/user/passkeys", token, json={"credential": first}))
    replay = device.create(options)  # a new key on the used challenge
    refused = _call(gw, "POST", "/api/v1/user/passkeys", token, json={"credential": replay})
    assert refused.status_code == 400 and "challenge" in refused.json()["message"]

    sign_in_options = _sign_in_options(gw)
    answer = device.get(sign_in_options, credential_id=first["id"])
    _ok(_verify(gw, answer))
    assert _verify(gw, answer).status_code == 401  # the same assertion again
    fresh_answer_old_challenge = device.get(sign_in_options, credential_id=first["id"])
    assert _verify(gw, fresh_answer_old_challenge).status_code == 401


def test_an_unissued_challenge_is_refused(gw: Gateway) -> None:
    token, _ = _user(gw)
    device = _device(gw)
    _register(gw, token, device)
    made_up = {"rpId": "127.0.0.1", "challenge": "bm90LWlzc3VlZC1ieS10aGUtZ2F0ZXdheQ"}
    assert _verify(gw, device.get(made_up)).status_code == 401


def test_another_users_challenge_and_credential_are_refused(gw: Gateway) -> None:
    token_a, user_a = _user(gw)
    token_b, _ = _user(gw)
    device_a, device_b = _device(gw), _device(gw)

    # B answers A's registration challenge: the challenge belongs to A
    options_a = _ok(_call(gw, "POST", "/api/v1/user/passkeys/options", token_a))
    stolen = device_b.create(options_a)
    refused = _call(gw, "POST", "/api/v1/user/passkeys", token_b, json={"credential": stolen})
    assert refused.status_code == 400

    passkey_a = _register(gw, token_a, device_a)
    _register(gw, token_b, device_b)
    id_a = next(iter(device_a.credentials))
    # B's key signs an assertion claiming A's credential id
    device_b.credentials[id_a] = SoftCredential(
        rp_id="127.0.0.1",
        user_handle=str(user_a).encode(),
        credential_id=device_a.credentials[id_a].credential_id,
        key=next(iter(device_b.credentials.values())).key,
        sign_count=5,
    )
    assert _verify(gw, device_b.get(_sign_in_options(gw), credential_id=id_a)).status_code == 401
    # A's credential answering with another user handle
    forged = device_a.get(_sign_in_options(gw))
    forged["response"]["userHandle"] = "OTk5OTk5"  # "999999"
    assert _verify(gw, forged).status_code == 401
    # A's passkey is not B's to rename or delete: not found, and it stays
    path = f"/api/v1/user/passkeys/{passkey_a['id']}"
    assert _call(gw, "DELETE", path, token_b).status_code == 404
    assert _call(gw, "PATCH", path, token_b, json={"name": "mine"}).status_code == 404
    assert _ok(_verify(gw, device_a.get(_sign_in_options(gw))))["user_id"] == user_a


def test_a_cloned_authenticator_is_refused(gw: Gateway) -> None:
    token, _ = _user(gw)
    device = _device(gw)
    _register(gw, token, device)
    _ok(_verify(gw, device.get(_sign_in_options(gw))))  # the counter is 1 now
    next(iter(device.credentials.values())).sign_count = 0  # a clone starts over
    assert _verify(gw, device.get(_sign_in_options(gw))).status_code == 401


def test_rename_and_delete(gw: Gateway) -> None:
    token, _ = _user(gw)
    device = _device(gw)
    passkey = _register(gw, token, device, name="Old")
    path = f"/api/v1/user/passkeys/{passkey['id']}"
    renamed = _ok(_call(gw, "PATCH", path, token, json={"name": "Work laptop"}))
    assert renamed["name"] == "Work laptop"
    too_long = _call(gw, "PATCH", path, token, json={"name": "x" * 101})
    assert too_long.status_code == 400
    _ok(_call(gw, "DELETE", path, token))
    assert _ok(_call(gw, "GET", "/api/v1/user/passkeys", token)) == []
    assert _call(gw, "DELETE", path, token).status_code == 404
    assert _verify(gw, device.get(_sign_in_options(gw))).status_code == 401


def test_a_disabled_account_cannot_sign_in_with_its_passkey(gw: Gateway) -> None:
    token, user_id = _user(gw)
    device = _device(gw)
    _register(gw, token, device)
    gw.op("PATCH", f"/users/{user_id}", json={"is_disabled": True})
    assert _verify(gw, device.get(_sign_in_options(gw))).status_code == 403


def test_the_routes_need_a_signed_in_user(gw: Gateway) -> None:
    assert _call(gw, "GET", "/api/v1/user/passkeys").status_code == 401
    assert _call(gw, "POST", "/api/v1/user/passkeys/options", "rgs_unknown").status_code == 401
    manager = gw.make_user_key(is_admin=True)
    assert _ok(_call(gw, "GET", "/api/v1/user/passkeys", manager.key)) == []


def test_malformed_credentials_are_a_400_not_a_500(gw: Gateway) -> None:
    token, _ = _user(gw)
    bodies: list[Any] = [
        {"credential": {}},
        {"credential": {"response": "x"}},
        {"credential": {"response": {"clientDataJSON": "%%%"}}},
        {"credential": {"response": {"clientDataJSON": "e30"}}},  # {}
        {"credential": {"id": 1, "response": {"clientDataJSON": "eyJjaGFsbGVuZ2UiOjF9"}}},
        {"credential": []},
        {},
    ]
    for body in bodies:
        registered = _call(gw, "POST", "/api/v1/user/passkeys", token, json=body)
        signed = _call(gw, "POST", "/api/v1/auth/passkey/verify", json=body)
        assert registered.status_code == 400, (body, registered.text)
        assert signed.status_code == 400, (body, signed.text)
