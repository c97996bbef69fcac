"""Assertions shared by the integration tests (error shapes, SSE parsing)."""

from __future__ import annotations

import json
from typing import Any, Protocol

__all__ = [
    "assert_envelope_error",
    "assert_openai_error",
    "sse_data",
    "sse_lines",
]


class _Response(Protocol):
    status_code: int
    headers: Any

    def json(self) -> Any: ...


def assert_openai_error(
    response: _Response,
    status: int | tuple[int, ...],
    code: str | tuple[str, ...] | None = None,
) -> dict[str, Any]:
    """Assert the OpenAI error envelope ``{"error": {message, type, param, code}}``."""
    statuses = status if isinstance(status, tuple) else (status,)
    assert response.status_code in statuses, (response.status_code, _text(response))
    body = response.json()
    assert isinstance(body, dict) and set(body) == {"error"}, body
    error = body["error"]
    assert {"message", "type", "param", "code"} <= set(error), error
    assert isinstance(error["message"], str) and error["message"], error
    assert isinstance(error["type"], str) and error["type"], error
    if code is not None:
        codes = code if isinstance(code, tuple) else (code,)
        assert error["code"] in codes, error
    assert response.headers.get("x-request-id"), "error response lacks x-request-id"
    return dict(error)


def assert_envelope_error(response: _Response, statuses: tuple[int, ...]) -> dict[str, Any]:
    """Assert the platform error envelope ``{statusCode, message, data: null, errorType}``."""
    assert response.status_code in statuses, (response.status_code, _text(response))
    body = response.json()
    assert body["statusCode"] == response.status_code, body
    assert isinstance(body["message"], str) and body["message"], body
    assert body["data"] is None, body
    assert isinstance(body["errorType"], str) and body["errorType"], body
    return dict(body)


def sse_lines(raw: bytes) -> list[bytes]:
    """Non-empty SSE lines of a raw stream body."""
    return [line for line in raw.replace(b"\r\n", b"\n").split(b"\n") if line]


def sse_data(raw: bytes) -> list[Any]:
    """JSON payloads of the ``data:`` lines (``[DONE]`` excluded)."""
    out: list[Any] = []
    for line in sse_lines(raw):
        if line.startswith(b"data:"):
            payload = line[5:].strip()
            if payload != b"[DONE]":
                out.append(json.loads(payload))
    return out


def _text(response: _Response) -> str:
    text = getattr(response, "text", "")
    return text if isinstance(text, str) else ""
