"""The error renderers: one per format a caller can read, found by the format's name.

Every plane answers an error the same way: it names the caller's format and calls
:func:`render_error`. The relay (raw ASGI) and the media routes name their caller's
dialect, the control plane's OpenAI routes (stored responses, conversations) name
``"openai"``, the platform routes and everything else ``"platform"``; the top-level
500 handler picks by path. A format the console needs (an HTML page) is one more entry
in :data:`RENDERERS`, and every plane can serve it without knowing its shape.

The renderers live in ``core`` because the planes that use them sit on different
layers (``state`` is below ``relay``). What they render is ours: messages are never an
upstream's raw text (that is masked by ``core/redact.py`` before it becomes an error).
Mid-stream error frames are the dialects' (``relay/dialects/*/errors.py``), built on
the same bodies.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import orjson

from relaygate.core.envelope import error_envelope
from relaygate.core.errors import RelaygateError

__all__ = [
    "CLOSE",
    "RENDERERS",
    "ErrorAnswer",
    "ErrorFormat",
    "ErrorRenderer",
    "anthropic_envelope",
    "anthropic_error_type",
    "openai_error",
    "render_error",
]

ErrorFormat = Literal["openai", "anthropic", "platform"]
CLOSE = ("connection", "close")  # after a bug: the server ends the connection with the answer
JSON = "application/json"


@dataclass(frozen=True, slots=True)
class ErrorAnswer:
    """A whole HTTP answer to an error, so an ASGI handler and a FastAPI route send the
    same bytes. ``headers`` are the error's own (``retry-after`` and the like); the
    caller adds its request-id and rate-limit headers in front."""

    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes
    content_type: str = JSON

    def closing(self) -> ErrorAnswer:
        """The answer to a bug: the connection is closed after it, so a client that
        kept it alive does not send its next request on a connection the server drops."""
        return ErrorAnswer(self.status, (*self.headers, CLOSE), self.body, self.content_type)

    def raw_headers(self) -> list[tuple[bytes, bytes]]:
        return [(name.encode(), value.encode()) for name, value in self.headers]


ErrorRenderer = Callable[[RelaygateError, "str | None"], ErrorAnswer]


def _answer(err: RelaygateError, body: dict[str, Any]) -> ErrorAnswer:
    return ErrorAnswer(err.status, tuple(err.headers.items()), orjson.dumps(body))


def openai_error(err: RelaygateError) -> dict[str, Any]:
    """OpenAI's error object, the value of ``error`` in a body and in a stream frame."""
    return {"message": err.message, "type": err.type, "param": err.param, "code": err.code}


def _render_openai(err: RelaygateError, request_id: str | None) -> ErrorAnswer:
    """``{"error": {"message", "type", "param", "code"}}``; the request id travels in
    ``x-request-id`` only, as OpenAI's does."""
    return _answer(err, {"error": openai_error(err)})


# Anthropic's SDKs pick the exception class by HTTP status, and clients such as Claude
# Code decide whether to retry by status, so ``error.type`` follows the status the client
# sees (Anthropic's documented pairs, with ``request_too_large`` for 413 and
# ``billing_error`` for 402) rather than the Python class; the tree's ``anthropic_type``
# declarations agree with this table. Other 4xx are ``invalid_request_error``, as
# Anthropic documents, and other 5xx ``api_error``.
_ANTHROPIC_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    502: "api_error",
    503: "overloaded_error",  # nothing to serve the model right now: retry later
    504: "timeout_error",
    529: "overloaded_error",
}


def anthropic_error_type(status: int) -> str:
    """Anthropic's ``error.type`` for an HTTP status."""
    known = _ANTHROPIC_TYPES.get(status)
    if known is not None:
        return known
    return "invalid_request_error" if 400 <= status < 500 else "api_error"


def anthropic_envelope(err: RelaygateError, request_id: str | None) -> dict[str, Any]:
    """``{"type": "error", "error": {"type", "message"}}``, the same as an HTTP body and
    as a stream's ``event: error``; ``request_id`` is added as Anthropic's API does."""
    body: dict[str, Any] = {
        "type": "error",
        "error": {"type": anthropic_error_type(err.status), "message": err.message},
    }
    if request_id:
        body["request_id"] = request_id
    return body


def _render_anthropic(err: RelaygateError, request_id: str | None) -> ErrorAnswer:
    return _answer(err, anthropic_envelope(err, request_id))


def _render_platform(err: RelaygateError, request_id: str | None) -> ErrorAnswer:
    """The platform envelope (platform-api.md §1.3); the id travels in ``x-request-id``."""
    return _answer(err, error_envelope(err))


RENDERERS: dict[ErrorFormat, ErrorRenderer] = {
    "openai": _render_openai,
    "anthropic": _render_anthropic,
    "platform": _render_platform,
}


def render_error(
    fmt: ErrorFormat, err: RelaygateError, request_id: str | None = None
) -> ErrorAnswer:
    """``err`` as a caller that reads ``fmt`` expects it."""
    return RENDERERS[fmt](err, request_id)
