"""The passkey service's pure checks: names, the challenge inside the client data, the
user handle an answer may name."""

from __future__ import annotations

import base64
import json

import pytest

from relaygate.accounts.passkeys import (
    PasskeyService,
    _challenge_of,
    _name,
    _transports,
    user_handle,
)
from relaygate.core.errors import InvalidRequest


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _client_data(value: object) -> dict[str, object]:
    return {"response": {"clientDataJSON": _b64(json.dumps(value).encode())}}


def test_names_are_trimmed_defaulted_and_bounded() -> None:
    assert _name("  Work\tlaptop  ") == "Work laptop"
    assert _name("   ") == "Passkey"
    with pytest.raises(InvalidRequest):
        _name("x" * 101)


def test_the_challenge_is_read_from_the_client_data() -> None:
    assert _challenge_of(_client_data({"challenge": "abc", "type": "webauthn.get"})) == "abc"


@pytest.mark.parametrize(
    "credential",
    [
        {},
        {"response": []},
        {"response": {"clientDataJSON": "%%%"}},
        {"response": {"clientDataJSON": _b64(b"not json")}},
        _client_data([1, 2]),
        _client_data({"challenge": 5}),
        _client_data({"challenge": ""}),
        _client_data({"challenge": "x" * 201}),
    ],
)
def test_a_missing_or_malformed_challenge_is_a_400(credential: dict[str, object]) -> None:
    with pytest.raises(InvalidRequest):
        _challenge_of(credential)


def test_only_known_transports_are_kept() -> None:
    credential = {"response": {"transports": ["usb", "carrier-pigeon", 3, "internal"]}}
    assert _transports(credential) == ["usb", "internal"]
    assert _transports({"response": {"transports": "usb"}}) == []


def test_a_user_handle_must_name_the_owner() -> None:
    def answer(handle: object) -> dict[str, object]:
        return {"response": {"userHandle": handle}}

    assert PasskeyService._handle_matches(answer(_b64(user_handle(7))), 7)
    assert PasskeyService._handle_matches(answer(None), 7)  # not every answer names one
    assert not PasskeyService._handle_matches(answer(_b64(user_handle(8))), 7)
    assert not PasskeyService._handle_matches(answer(5), 7)
    assert not PasskeyService._handle_matches(answer("%%%"), 7)
