"""The credentials' shapes and PKCE S256 (RFC 7636 §4.2)."""

from __future__ import annotations

import base64
import hashlib
import re

from relaygate.oauth.secrets import (
    TOKEN_PREFIX,
    digest,
    new_client_id,
    new_code,
    new_secret,
    new_token,
    pkce_matches,
)


def test_shapes() -> None:
    assert re.fullmatch(r"[0-9a-f]{24}", new_client_id())
    assert len(new_secret()) == 32 and len(new_code()) == 32
    token = new_token()
    assert token.startswith(TOKEN_PREFIX) and len(token) == len(TOKEN_PREFIX) + 43
    assert new_secret() != new_secret()
    assert len(digest("x")) == 64


def test_pkce_s256() -> None:
    verifier = "a-43-character-verifier_0123456789.abcdefghij~"
    hashed = hashlib.sha256(verifier.encode()).digest()
    challenge = base64.urlsafe_b64encode(hashed).decode().rstrip("=")
    assert pkce_matches(verifier, challenge)
    assert not pkce_matches(verifier + "x", challenge)
    assert not pkce_matches("", challenge)
    assert not pkce_matches(verifier, challenge + "=")  # padding is not part of S256
