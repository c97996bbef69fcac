"""The platform's ``ohmygpt_webhook_url`` (platform-api.md §3.6): one POST with the
outcome of an image call, sent after the answer, in the background.

The URL is the caller's, so the POST is a request the gateway makes on a stranger's
behalf from inside the operator's network: a server-side request forgery risk. Hence:
only ``http``/``https``; the host is resolved once and the POST is refused (not sent,
logged) when any address it resolves to is loopback, private, link-local, multicast,
reserved, unspecified or otherwise not globally routable, unless the operator allows
private targets (``webhook_allow_private``); and the connection goes to the address that
was checked, never to a second lookup that could answer differently (DNS rebinding).
TLS still verifies the certificate against the URL's host name.

Delivery is at most once: one attempt with a timeout, no retry. Tasks are tracked so a
shutdown waits for them a short grace, then cancels the rest.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
import ssl
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import SplitResult, quote, urlsplit

import orjson

from relaygate import __version__
from relaygate.core.errors import InvalidRequest

__all__ = [
    "WEBHOOK_FIELD",
    "WebhookSender",
    "check_webhook_url",
    "failure_body",
    "refusal_reason",
    "success_body",
]

log = logging.getLogger(__name__)

WEBHOOK_FIELD = "ohmygpt_webhook_url"
MAX_URL_LENGTH = 2000
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], Awaitable[list[str]]]
_PATH_SAFE = "/%:@!$&'()*+,;=-._~?"


def _invalid(message: str) -> InvalidRequest:
    return InvalidRequest(message, param=WEBHOOK_FIELD)


def check_webhook_url(value: Any) -> str | None:
    """The webhook URL if it is well formed (a 400 naming the field otherwise); an empty
    value means no webhook. Where it points is checked when it is used."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise _invalid(f"'{WEBHOOK_FIELD}' must be a string.")
    if len(value) > MAX_URL_LENGTH:
        raise _invalid(f"'{WEBHOOK_FIELD}' is longer than {MAX_URL_LENGTH} characters.")
    if any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in value):
        raise _invalid(f"'{WEBHOOK_FIELD}' must not contain spaces or control characters.")
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises on a port that is not a number in range
    except ValueError as exc:
        raise _invalid(f"'{WEBHOOK_FIELD}' is not a valid URL.") from exc
    if parts.scheme.lower() not in ("http", "https"):
        raise _invalid(f"'{WEBHOOK_FIELD}' must be an http or https URL.")
    if not parts.hostname:
        raise _invalid(f"'{WEBHOOK_FIELD}' has no host.")
    return value


def _embedded(address: IPAddress) -> list[IPAddress]:
    """The IPv4 addresses an IPv6 address carries and is routed to: IPv4-mapped, 6to4
    (``2002::/16``, relayed to its embedded address) and Teredo (``2001::/32``: its server
    and its client)."""
    if not isinstance(address, ipaddress.IPv6Address):
        return []
    inner: list[IPAddress] = []
    if address.ipv4_mapped is not None:
        inner.append(address.ipv4_mapped)
    if address.sixtofour is not None:
        inner.append(address.sixtofour)
    if address.teredo is not None:
        inner.extend(address.teredo)
    return inner


def _own_refusal(address: IPAddress) -> str | None:
    checks = (
        ("unspecified", address.is_unspecified),
        ("loopback", address.is_loopback),
        ("link-local", address.is_link_local),
        ("site-local", isinstance(address, ipaddress.IPv6Address) and address.is_site_local),
        ("multicast", address.is_multicast),
        ("private", address.is_private),
        ("reserved", address.is_reserved),
        ("not globally routable", not address.is_global),
    )
    return next((reason for reason, hit in checks if hit), None)


def refusal_reason(address: IPAddress) -> str | None:
    """Why a webhook may not go to ``address`` (None: a public address). An IPv6 address
    wrapping an IPv4 one is judged by both: ``2002:7f00:1::1`` reaches 127.0.0.1."""
    for inner in _embedded(address):
        reason = _own_refusal(inner)
        if reason:
            return reason
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return None  # ::ffff:a.b.c.d is a.b.c.d, judged above (the block itself is reserved)
    return _own_refusal(address)


def success_body(data: Any) -> dict[str, Any]:
    return {"success": True, "status": "succeed", "message": None, "code": 200, "data": data}


def failure_body(code: int, message: str) -> dict[str, Any]:
    return {"success": False, "status": "failed", "message": message, "code": code, "data": None}


async def _resolve(host: str, port: int) -> list[str]:
    infos = await asyncio.get_running_loop().getaddrinfo(
        host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
    )
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def _target(parts: SplitResult) -> tuple[str, int, bytes, bytes]:
    """(host, port, Host header, request target) of a checked URL; a non-ASCII host
    name in its IDNA (punycode) form."""
    host = parts.hostname or ""
    if not host.isascii():
        host = host.encode("idna").decode("ascii")
    default = 443 if parts.scheme.lower() == "https" else 80
    port = parts.port or default
    shown = f"[{host}]" if ":" in host else host
    header = shown if port == default else f"{shown}:{port}"
    target = quote(parts.path or "/", safe=_PATH_SAFE)
    if parts.query:
        target += "?" + quote(parts.query, safe=_PATH_SAFE)
    return host, port, header.encode("ascii"), target.encode("ascii")


class WebhookSender:
    """Sends the webhook POSTs in the background and keeps track of them."""

    def __init__(
        self, timeout: float, allow_private: bool = False, resolver: Resolver | None = None
    ) -> None:
        self.timeout = timeout
        self.allow_private = allow_private
        self.resolve = resolver or _resolve
        self._tasks: set[asyncio.Task[int | None]] = set()
        self._tls: ssl.SSLContext | None = None

    @property
    def pending(self) -> int:
        return len(self._tasks)

    def send(self, url: str, body: dict[str, Any]) -> None:
        """POST ``body`` to ``url`` once, after this call returns; never raises."""
        task = asyncio.get_running_loop().create_task(self.deliver(url, body))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def deliver(self, url: str, body: dict[str, Any]) -> int | None:
        """The one attempt: the receiver's HTTP status, or None when nothing was sent
        (refused by the address check) or the exchange failed."""
        parts = urlsplit(url)
        try:
            async with asyncio.timeout(self.timeout):
                addresses = await self._checked(parts)
                if addresses is None:
                    return None
                return await self._post(parts, addresses, orjson.dumps(body))
        except (OSError, TimeoutError, ValueError, ssl.SSLError) as exc:
            log.warning("webhook to %s failed: %s", parts.hostname, exc.__class__.__name__)
            return None

    async def _checked(self, parts: SplitResult) -> list[str] | None:
        """The addresses to connect to, each one allowed; None if any is refused."""
        host, port, _, _ = _target(parts)
        addresses = await self.resolve(host, port)
        for address in addresses:
            reason = refusal_reason(ipaddress.ip_address(address.partition("%")[0]))
            if reason and not self.allow_private:
                log.warning("webhook to %s not sent: it resolves to a %s address", host, reason)
                return None
        return addresses or None

    async def _post(self, parts: SplitResult, addresses: list[str], payload: bytes) -> int:
        host, port, host_header, target = _target(parts)
        tls = self._context() if parts.scheme.lower() == "https" else None
        reader, writer = await self._connect(addresses, port, tls, host)
        try:
            head = (
                b"POST " + target + b" HTTP/1.1\r\nHost: " + host_header + b"\r\n"
                b"Content-Type: application/json\r\n"
                b"Content-Length: " + str(len(payload)).encode() + b"\r\n"
                b"User-Agent: Relaygate-Webhook/" + __version__.encode() + b"\r\n"
                b"Connection: close\r\n\r\n"
            )
            writer.write(head + payload)
            await writer.drain()
            status_line = await reader.readline()
            fields = status_line.split()
            if len(fields) < 2 or not fields[1].isdigit():
                raise ValueError("not an HTTP response")
            status = int(fields[1])
            log.info("webhook to %s answered %d", host, status)
            return status
        finally:
            writer.close()

    async def _connect(
        self, addresses: list[str], port: int, tls: ssl.SSLContext | None, host: str
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        """Connect to the first checked address that accepts (nothing is sent before)."""
        failure: OSError | None = None
        for address in addresses:
            try:
                return await asyncio.open_connection(
                    address, port, ssl=tls, server_hostname=host if tls else None
                )
            except OSError as exc:
                failure = exc
        assert failure is not None
        raise failure

    def _context(self) -> ssl.SSLContext:
        if self._tls is None:
            self._tls = ssl.create_default_context()
        return self._tls

    async def close(self, grace: float) -> None:
        """Wait up to ``grace`` seconds for the webhooks in flight, then cancel the rest."""
        if not self._tasks:
            return
        _, pending = await asyncio.wait(set(self._tasks), timeout=grace)
        for task in pending:
            task.cancel()
        if pending:
            log.warning("%d webhook(s) cancelled at shutdown", len(pending))
            await asyncio.gather(*pending, return_exceptions=True)
