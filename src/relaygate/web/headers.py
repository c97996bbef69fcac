"""Security headers on every console response (pages, redirects, error pages, assets).

The policy allows only this origin's scripts and styles and no inline ones (the console
has none), no framing, no ``<base>``, forms posting only here; with ``no-referrer`` a
sign-in link's token never leaves in a ``Referer``. The API and docs routes are left as
they are (the docs pages run their viewers' scripts).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from relaygate.relay.asgi import Receive, Scope, Send

__all__ = ["CSP", "ConsoleHeaders", "is_console_path"]

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
_HEADERS = (
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
)
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
_PREFIXES = ("/console", "/i/", "/static/console/")


def is_console_path(path: str) -> bool:
    return path == "/" or path.startswith(_PREFIXES)


class ConsoleHeaders:
    """ASGI middleware: adds the headers to responses on console paths."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not is_console_path(scope["path"]):
            await self.app(scope, receive, send)
            return

        async def with_headers(message: MutableMapping[str, Any]) -> None:
            if message["type"] == "http.response.start":
                names = {name.lower() for name, _ in message.get("headers", [])}
                extra = [(n, v) for n, v in _HEADERS if n not in names]
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        await self.app(scope, receive, with_headers)
