"""Rendering of Relaygate errors in Anthropic's error format.

``{"type": "error", "error": {"type": ..., "message": ...}}``, the same envelope as an
HTTP body and as a mid-stream ``event: error`` frame. Anthropic's SDKs pick the
exception class by HTTP status, and clients such as Claude Code decide whether to retry
by status, so ``error.type`` follows the status the client sees (Anthropic's documented
pairs, with ``request_too_large`` for 413 and ``billing_error`` for 402) rather than
the Python class; the tree's ``anthropic_type`` declarations agree with this table.
Other 4xx statuses are ``invalid_request_error``, as Anthropic documents, and other
5xx ``api_error``. Messages are ours, never an upstream's.
"""

from __future__ import annotations

from typing import Any

import orjson

from relaygate.core.errors import RelaygateError

__all__ = ["anthropic_error_type", "error_body", "stream_error_frame"]

_TYPE_BY_STATUS = {
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
    known = _TYPE_BY_STATUS.get(status)
    if known is not None:
        return known
    return "invalid_request_error" if 400 <= status < 500 else "api_error"


def _envelope(err: RelaygateError, request_id: str | None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": "error",
        "error": {"type": anthropic_error_type(err.status), "message": err.message},
    }
    if request_id:
        body["request_id"] = request_id
    return body


def error_body(err: RelaygateError, request_id: str | None = None) -> bytes:
    """The HTTP error body; ``request_id`` is added as Anthropic's API does, when known."""
    return orjson.dumps(_envelope(err, request_id))


def stream_error_frame(err: RelaygateError, request_id: str | None = None) -> bytes:
    """A mid-stream error: an ``event: error`` frame (the Anthropic SDK raises on it)."""
    return b"event: error\ndata: " + orjson.dumps(_envelope(err, request_id)) + b"\n\n"
