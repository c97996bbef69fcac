"""The OAuth credentials' shapes and how they are kept: only SHA-256 digests are stored,
so a database leak gives no usable secret, code or token."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import string

__all__ = [
    "TOKEN_PREFIX",
    "digest",
    "new_client_id",
    "new_code",
    "new_secret",
    "new_token",
    "pkce_matches",
]

TOKEN_PREFIX = "omg-oat-v1-"
_ALPHABET = string.ascii_letters + string.digits


def _random(length: int) -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(length))


def new_client_id() -> str:
    """24 hex digits, the seed's ObjectId-like shape (§5)."""
    return secrets.token_hex(12)


def new_secret() -> str:
    return _random(32)


def new_code() -> str:
    """32 characters, not the seed's 16: a code is a bearer credential for its lifetime,
    so it gets as much entropy as a secret (docs/oauth.md)."""
    return _random(32)


def new_token() -> str:
    return TOKEN_PREFIX + _random(43)


def digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def pkce_matches(verifier: str, challenge: str) -> bool:
    """RFC 7636 S256: BASE64URL(SHA256(verifier)) without padding, compared in constant time."""
    hashed = hashlib.sha256(verifier.encode("ascii", "replace")).digest()
    computed = base64.urlsafe_b64encode(hashed).rstrip(b"=").decode()
    return hmac.compare_digest(computed, challenge)
