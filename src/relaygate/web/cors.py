"""CORS: which web pages may call Relaygate from a browser, at the ASGI edge.

Browser clients (LobeChat's web app, extensions such as Immersive Translate) call the
relay from a page, so the browser first sends a preflight (``OPTIONS`` with
``Access-Control-Request-Method``) and then only lets the page read an answer that names
its origin. Two policies, by path: the relay routes (``/v1/...`` and the route groups),
open to any origin by default, and every other route (operator, platform, sign-in),
closed unless the operator lists origins. Neither allows credentials: the relay
authenticates by key, never by cookie, so ``*`` is safe there and no cookie is ever sent
cross-origin.

This sits in front of the raw relay handlers, so it is written for the hot path: a call
without an ``Origin`` header (every SDK, every server) costs one scan of the header list
(measured in docs/configuration.md); a browser call adds precomputed header tuples to the
response start, nothing per streamed chunk but one function call.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, MutableMapping
from dataclasses import dataclass
from typing import Any

from relaygate.relay.asgi import Scope, Send

__all__ = ["RELAY_PREFIXES", "Cors", "CorsPolicy", "request_origin"]

Header = tuple[bytes, bytes]
RELAY_PREFIXES = ("/v1/", "/api/v1/ai/openai/")
# What a page's script may read besides the safelisted headers: the request id (OpenAI
# and Anthropic names), the rate-limit state and the back-off of a 429.
EXPOSED = (
    b"x-request-id, request-id, retry-after, retry-after-ms, "
    b"x-ratelimit-limit-requests, x-ratelimit-remaining-requests, x-ratelimit-reset-requests, "
    b"x-ratelimit-limit-tokens, x-ratelimit-remaining-tokens, x-ratelimit-reset-tokens, "
    b"anthropic-ratelimit-requests-limit, anthropic-ratelimit-requests-remaining, "
    b"anthropic-ratelimit-requests-reset, anthropic-ratelimit-tokens-limit, "
    b"anthropic-ratelimit-tokens-remaining, anthropic-ratelimit-tokens-reset"
)
# Sent when a preflight names no headers it can be given back (or names them badly); the
# SDKs' own headers. A well-formed request list is reflected instead, because the SDKs
# add x-stainless-* and openai-* headers that no fixed list keeps up with.
ALLOWED = (
    b"authorization, x-api-key, content-type, anthropic-version, anthropic-beta, "
    b"anthropic-dangerous-direct-browser-access, openai-organization, openai-project, "
    b"openai-beta, x-stainless-arch, x-stainless-lang, x-stainless-os, "
    b"x-stainless-package-version, x-stainless-retry-count, x-stainless-runtime, "
    b"x-stainless-runtime-version, x-stainless-timeout, x-stainless-helper-method"
)
METHODS = b"GET, POST, PUT, PATCH, DELETE, OPTIONS"
MAX_AGE = b"7200"  # Chromium's cap; browsers cache the preflight this many seconds
_HEADER_LIST = re.compile(rb"[A-Za-z0-9!#$%&'*+.^_`|~-]+(?:\s*,\s*[A-Za-z0-9!#$%&'*+.^_`|~-]+)*")
_MAX_LIST = 4096


def request_origin(scope: Scope) -> bytes | None:
    """The ``Origin`` header, or None (no browser page made the call)."""
    for name, value in scope["headers"]:
        if name == b"origin":
            return bytes(value)
    return None


def _requested(scope: Scope, wanted: bytes) -> bytes | None:
    for name, value in scope["headers"]:
        if name == wanted:
            return bytes(value)
    return None


@dataclass(frozen=True, slots=True)
class CorsPolicy:
    """The origins one group of routes answers, with its headers built once."""

    any_origin: bool
    origins: frozenset[bytes]

    @classmethod
    def of(cls, origins: Iterable[str]) -> CorsPolicy:
        listed = [o.strip().rstrip("/").lower() for o in origins if o.strip()]
        return cls("*" in listed, frozenset(o.encode() for o in listed if o != "*"))

    def allows(self, origin: bytes) -> bool:
        return self.any_origin or origin in self.origins

    def answer_headers(self, origin: bytes) -> tuple[Header, ...]:
        """Headers for the answer to an allowed origin's call."""
        if self.any_origin:
            return _ANY_ORIGIN
        return ((b"access-control-allow-origin", origin), (b"vary", b"Origin"), _EXPOSE)

    def preflight_headers(self, scope: Scope, origin: bytes) -> list[Header]:
        requested = _requested(scope, b"access-control-request-headers")
        reflect = (
            requested is not None
            and len(requested) <= _MAX_LIST
            and _HEADER_LIST.fullmatch(requested.strip()) is not None
        )
        allowed = requested.strip().lower() if reflect and requested else ALLOWED
        headers = [
            (b"access-control-allow-origin", b"*" if self.any_origin else origin),
            (b"access-control-allow-methods", METHODS),
            (b"access-control-allow-headers", allowed),
            (b"access-control-max-age", MAX_AGE),
            (b"vary", b"Origin, Access-Control-Request-Headers"),
            (b"content-length", b"0"),
        ]
        # Chromium asks before a public page may call a gateway on a private address.
        if _requested(scope, b"access-control-request-private-network") == b"true":
            headers.append((b"access-control-allow-private-network", b"true"))
        return headers


_EXPOSE = (b"access-control-expose-headers", EXPOSED)
_ANY_ORIGIN = ((b"access-control-allow-origin", b"*"), _EXPOSE)
_REFUSED = b"This origin may not call this route from a browser (see cors_origins)."


class Cors:
    """The two policies, chosen by path, applied to one request."""

    def __init__(self, relay_origins: Iterable[str], platform_origins: Iterable[str]) -> None:
        self.relay = CorsPolicy.of(relay_origins)
        self.platform = CorsPolicy.of(platform_origins)

    def policy(self, path: str) -> CorsPolicy:
        return self.relay if path.startswith(RELAY_PREFIXES) else self.platform

    async def preflight(self, scope: Scope, origin: bytes, send: Send) -> bool:
        """Answer a preflight; False when the request is not one (a plain OPTIONS)."""
        if _requested(scope, b"access-control-request-method") is None:
            return False
        policy = self.policy(scope["path"])
        if policy.allows(origin):
            status, headers, body = 204, policy.preflight_headers(scope, origin), b""
        else:
            status, body = 403, _REFUSED
            headers = [(b"content-type", b"text/plain; charset=utf-8"), (b"vary", b"Origin")]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})
        return True

    def wrap(self, scope: Scope, origin: bytes, send: Send) -> Send:
        """``send`` adding the CORS headers to the response start, when the origin may
        read the answer; ``send`` itself otherwise (the browser then hides the answer)."""
        policy = self.policy(scope["path"])
        if not policy.allows(origin):
            return send
        extra = policy.answer_headers(origin)

        async def send_with_cors(message: MutableMapping[str, Any]) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), *extra]
            await send(message)

        return send_with_cors
