"""The playground without JavaScript: one non-streamed chat call to this gateway's own
relay, over HTTP, with the user's playground key.

It goes out through the socket the request came in on (the ASGI ``server`` address), so
the call takes the same path as any client's: authentication by key, limits, holds,
billing, the bill line with its ``x-request-id``. The standard library's client in a
worker thread is enough for a path a person drives one message at a time; it ignores
proxy environment variables (a loopback call must not leave the machine).
"""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["Reply", "chat_once", "own_origin"]

CHAT_PATH = "/v1/chat/completions"
TIMEOUT = 600.0  # a non-streamed answer arrives whole: as long as the relay may take
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@dataclass(frozen=True, slots=True)
class Reply:
    ok: bool
    status: int  # 0: the gateway could not be reached
    text: str  # the answer, or the relay's error message
    request_id: str | None


def own_origin(scope: Mapping[str, Any]) -> str | None:
    """``scheme://host:port`` of the socket this request arrived on, or None (a Unix
    socket, or a server that does not say)."""
    server = scope.get("server")
    if not server or server[1] is None:
        return None
    host = str(server[0])
    if ":" in host:  # IPv6
        host = f"[{host}]"
    scheme = "https" if scope.get("scheme") == "https" else "http"
    return f"{scheme}://{host}:{server[1]}"


def _message(raw: bytes) -> str:
    try:
        body = json.loads(raw)
    except ValueError:
        return ""
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict) and isinstance(error.get("message"), str):
            return str(error["message"])
        if isinstance(body.get("message"), str):
            return str(body["message"])
    return ""


def _answer(raw: bytes) -> str:
    body = json.loads(raw)
    choices = body.get("choices") if isinstance(body, dict) else None
    if not choices:
        return ""
    content = (choices[0].get("message") or {}).get("content")
    return content if isinstance(content, str) else ""


def _post(url: str, key: str, payload: dict[str, Any]) -> Reply:
    data = json.dumps(payload).encode()
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    request = urllib.request.Request(url, data=data, headers=headers, method="POST")
    try:
        with _OPENER.open(request, timeout=TIMEOUT) as response:
            raw = response.read()
            request_id = response.headers.get("x-request-id")
            return Reply(True, response.status, _answer(raw), request_id)
    except urllib.error.HTTPError as err:
        raw = err.read()
        return Reply(False, err.code, _message(raw), err.headers.get("x-request-id"))
    except (urllib.error.URLError, OSError, ValueError):
        return Reply(False, 0, "", None)


async def chat_once(origin: str, key: str, payload: dict[str, Any]) -> Reply:
    """POST ``payload`` (not streamed) to the relay at ``origin`` with ``key``."""
    return await asyncio.to_thread(_post, origin + CHAT_PATH, key, payload)
