"""Minimal ASGI request/response helpers for the hot path.

The relay routes are raw ASGI rather than framework routes: a relayed call is the
product's speed, and a framework's request object, routing and middleware would cost
more CPU than everything else the gateway does per call (measured: docs/benchmarks.md).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any

from relaygate.core.error_formats import ErrorAnswer
from relaygate.core.errors import HeadersTooLarge, PayloadTooLarge

__all__ = [
    "ClientGone",
    "Headers",
    "Receive",
    "Scope",
    "Send",
    "read_body",
    "read_headers",
    "respond",
    "respond_error",
]

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


class ClientGone(Exception):
    """The client disconnected before the request body was complete."""


@dataclass(slots=True)
class Headers:
    api_key: str | None
    content_length: int
    anthropic_version: str | None
    anthropic_beta: str | None = None


def read_headers(scope: Scope, limit: int) -> Headers:
    """Pick the headers the relay needs in one pass, and enforce the header size limit."""
    api_key: str | None = None
    x_api_key: str | None = None
    length = -1
    version: str | None = None
    betas: list[str] = []
    size = 0
    for name, value in scope["headers"]:
        size += len(name) + len(value)
        if name == b"authorization":
            if value[:7].lower() == b"bearer ":
                api_key = value[7:].strip().decode("latin-1")
        elif name == b"x-api-key":
            x_api_key = value.strip().decode("latin-1")
        elif name == b"content-length":
            length = int(value) if value.isdigit() else -1
        elif name == b"anthropic-version":
            version = value.decode("latin-1")
        elif name == b"anthropic-beta":
            betas.append(value.decode("latin-1"))
    if size > limit:
        raise HeadersTooLarge(f"Request headers exceed {limit} bytes.")
    return Headers(api_key or x_api_key, length, version, ",".join(betas) or None)


async def read_body(receive: Receive, declared: int, limit: int) -> bytes:
    if declared > limit:
        raise PayloadTooLarge(f"Request body exceeds the limit of {limit} bytes.")
    message = await receive()
    body: bytes = message.get("body", b"")
    if not message.get("more_body"):
        if message["type"] == "http.disconnect":
            raise ClientGone
        if len(body) > limit:
            raise PayloadTooLarge(f"Request body exceeds the limit of {limit} bytes.")
        return body
    parts = [body]
    size = len(body)
    while message.get("more_body"):
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientGone
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"Request body exceeds the limit of {limit} bytes.")
        parts.append(chunk)
    return b"".join(parts)


async def respond(
    send: Send, status: int, body: bytes, content_type: bytes, headers: list[tuple[bytes, bytes]]
) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", content_type), *headers],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def respond_error(send: Send, answer: ErrorAnswer, ids: list[tuple[bytes, bytes]]) -> None:
    """An error answer (``core/error_formats.py``), with our request-id and rate-limit
    headers (``ids``) before the error's own."""
    headers = [*ids, *answer.raw_headers()]
    await respond(send, answer.status, answer.body, answer.content_type.encode(), headers)
