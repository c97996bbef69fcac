"""Identifiers and secrets.

API keys are shown once and stored only as a SHA-256 digest: a key has 285 bits of
entropy, so an unsalted fast hash is enough and keeps the per-request lookup cheap.
"""

from __future__ import annotations

import hashlib
import itertools
import os
import secrets
import string

__all__ = ["RequestIds", "hash_key", "key_hint", "new_api_key", "new_request_id"]

_KEY_ALPHABET = string.ascii_letters + string.digits
KEY_BODY_LENGTH = 48


def new_api_key() -> str:
    """Return a fresh key in the platform's format: ``sk-`` and 48 alphanumerics."""
    return "sk-" + "".join(secrets.choice(_KEY_ALPHABET) for _ in range(KEY_BODY_LENGTH))


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def key_hint(key: str) -> str:
    """A short, non-secret form of a key for lists and logs (``sk-AbCd…wXyZ``)."""
    return f"{key[:7]}…{key[-4:]}"


def new_request_id() -> str:
    return "req_" + os.urandom(12).hex()


class RequestIds:
    """Unique request ids without a system call each: a random per-process prefix and a
    counter. They identify calls; they are not secrets."""

    def __init__(self) -> None:
        self._prefix = "req_" + os.urandom(6).hex()
        self._counter = itertools.count(1)

    def next(self) -> str:
        return f"{self._prefix}{next(self._counter):012x}"
