"""The platform's own response envelope, used by every ``/api/v1/*`` route.

``{"statusCode": 200, "message": "...", "data": ...}``; errors add ``errorType`` and
carry ``data: null`` (platform-api.md §1.3).
"""

from __future__ import annotations

from typing import Any

from relaygate.core.errors import RelaygateError

__all__ = ["envelope", "error_envelope"]


def envelope(data: Any, message: str = "success", status: int = 200) -> dict[str, Any]:
    return {"statusCode": status, "message": message, "data": data}


def error_envelope(err: RelaygateError) -> dict[str, Any]:
    return {
        "statusCode": err.status,
        "message": err.message,
        "data": None,
        "errorType": err.type,
    }
