"""The platform's own response envelope, used by every ``/api/v1/*`` route.

``{"statusCode": 200, "message": "...", "data": ...}``; errors add ``errorType`` and
carry ``data: null`` (platform-api.md §1.3). :func:`error_responses` documents the
errors a route answers, so the OpenAPI document lists every status a route can give.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from relaygate.core.errors import RelaygateError

__all__ = ["ErrorEnvelope", "envelope", "error_envelope", "error_responses", "refused_when"]


def envelope(data: Any, message: str = "success", status: int = 200) -> dict[str, Any]:
    return {"statusCode": status, "message": message, "data": data}


def error_envelope(err: RelaygateError) -> dict[str, Any]:
    return {
        "statusCode": err.status,
        "message": err.message,
        "data": None,
        "errorType": err.type,
    }


class ErrorEnvelope(BaseModel):
    """The platform envelope of an error, as the OpenAPI document shows it."""

    statusCode: int  # noqa: N815 - the platform's wire name
    message: str
    data: None
    errorType: str  # noqa: N815


_WHY = {
    400: "Invalid input; the message names the field",
    401: "No API key, or an unknown, disabled or expired one",
    402: "The balance cannot pay for this",
    403: "This key may not use this route",
    404: "No such object (or not yours)",
    409: "Conflicts with an existing object",
    413: "Too large for the limit that applies",
    416: "The `Range` starts past the end; `content-range` gives the size",
    429: "Too many requests; retry after `retry-after` seconds",
    500: "A bug in Relaygate; the server closes the connection after this answer",
    503: "A service Relaygate depends on (an upstream, the payment provider) did not answer",
}


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` entries for the errors a route can answer, in the envelope."""
    return {status: {"model": ErrorEnvelope, "description": _WHY[status]} for status in statuses}


def refused_when(reason: str) -> dict[int | str, dict[str, Any]]:
    """A route's 400 that also names the business rule no request schema can express
    (``reason``: "an email that has an account already"), so a client reading the document
    knows a schema-valid request can still be refused, and why."""
    return {400: {"model": ErrorEnvelope, "description": f"{_WHY[400]}; or {reason}"}}
