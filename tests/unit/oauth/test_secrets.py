"""The credentials' shapes and PKCE S256 (RFC 7636 appendix B's example)."""

from __future__ import annotations

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


def test_pkce_s256_matches_the_rfc_example() -> None:
    verifier = "dBjftJeZ4CVP-mtmW1YWeGl1gUUfdmDG8aVXyUtu5c"  # RFC 7636 appendix B
    challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
    assert pkce_matches(verifier, challenge)
    assert not pkce_matches(verifier + "x", challenge)
    assert not pkce_matches("", challenge)
