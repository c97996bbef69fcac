"""The webhook's SSRF guard: which URLs are admitted, which addresses are refused."""

from __future__ import annotations

import asyncio
import ipaddress

import pytest

from relaygate.core.errors import InvalidRequest
from relaygate.relay.media.webhook import WebhookSender, check_webhook_url, refusal_reason

REFUSED = [
    "127.0.0.1",
    "127.8.9.10",
    "10.0.0.1",
    "10.255.1.2",
    "172.16.0.5",
    "192.168.1.20",
    "169.254.169.254",  # cloud metadata
    "0.0.0.0",
    "224.0.0.1",
    "240.0.0.1",
    "100.64.0.1",  # shared address space (carrier-grade NAT)
    "::1",
    "::",
    "fc00::1",
    "fd12:3456::1",
    "fe80::1",
    "ff02::1",
    "::ffff:127.0.0.1",
    "::ffff:10.0.0.1",
    "2002:7f00:1::1",  # 6to4 of 127.0.0.1
    "2002:a9fe:a9fe::1",  # 6to4 of 169.254.169.254 (cloud metadata)
    "2002:0a00:0001::1",  # 6to4 of 10.0.0.1
    "2002:c0a8:0101::",  # 6to4 of 192.168.1.1
    "2001:0:5ef5:79fd:0:0:f5fe:fffe",  # Teredo, client 10.1.0.1
    "2001:0:7f00:1:0:0:80ff:fffe",  # Teredo, server 127.0.0.1, client 127.0.0.1
    "fec0::1",  # site-local (deprecated, still routed inside some networks)
    "feff:ffff::1",
]
ALLOWED = [
    "8.8.8.8",
    "1.1.1.1",
    "93.184.216.34",
    "2606:4700:4700::1111",
    "2001:4860::8888",
    "2002:0808:0808::1",  # 6to4 of a public address
]


@pytest.mark.parametrize("address", REFUSED)
def test_internal_addresses_are_refused(address: str) -> None:
    assert refusal_reason(ipaddress.ip_address(address)) is not None


@pytest.mark.parametrize("address", ALLOWED)
def test_public_addresses_are_allowed(address: str) -> None:
    assert refusal_reason(ipaddress.ip_address(address)) is None


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("2002:7f00:1::1", "loopback"),
        ("2002:a9fe:a9fe::1", "link-local"),
        ("2001:0:5ef5:79fd:0:0:f5fe:fffe", "private"),
        ("fec0::1", "site-local"),
    ],
)
def test_wrapped_ipv4_and_site_local_reasons(address: str, reason: str) -> None:
    """The embedded IPv4 address is what a 6to4 or Teredo relay delivers to."""
    assert refusal_reason(ipaddress.ip_address(address)) == reason


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.com/hook",
        "file:///etc/passwd",
        "http://",
        "https:///path",
        "example.com/hook",
        "http://example.com:99999/",
        "http://exa mple.com/",
        "http://example.com/\r\nX: y",
        "https://example.com/" + "a" * 2000,
        42,
    ],
)
def test_malformed_urls_are_refused_at_admission(url: object) -> None:
    with pytest.raises(InvalidRequest) as refused:
        check_webhook_url(url)
    assert refused.value.param == "ohmygpt_webhook_url"


def test_good_urls_and_no_url() -> None:
    assert check_webhook_url("https://hooks.example.com/a?b=c") == "https://hooks.example.com/a?b=c"
    assert check_webhook_url("http://[2001:db8::1]:8080/x") == "http://[2001:db8::1]:8080/x"
    assert check_webhook_url(None) is None and check_webhook_url("") is None


def _resolving_to(*addresses: str):  # type: ignore[no-untyped-def]
    async def resolve(host: str, port: int) -> list[str]:
        return list(addresses)

    return resolve


def test_a_name_resolving_to_any_internal_address_is_not_called() -> None:
    """One public and one private address: refused whole (no connection is tried)."""

    async def scenario() -> int | None:
        sender = WebhookSender(2.0, resolver=_resolving_to("93.184.216.34", "10.0.0.7"))
        return await sender.deliver("http://hooks.example.com/x", {"a": 1})

    assert asyncio.run(scenario()) is None


def test_the_checked_address_is_the_one_connected_to() -> None:
    """The host name resolves (once, through the resolver) to a local receiver: with
    private targets allowed the POST reaches it, with the Host header of the URL."""

    async def scenario() -> tuple[int | None, bytes]:
        seen: list[bytes] = []

        async def receiver(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            seen.append(await reader.readuntil(b"\r\n\r\n"))
            writer.write(b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n")
            await writer.drain()
            writer.close()

        server = await asyncio.start_server(receiver, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        async with server:
            sender = WebhookSender(2.0, allow_private=True, resolver=_resolving_to("127.0.0.1"))
            status = await sender.deliver(f"http://hooks.example.test:{port}/cb?x=1", {"a": 1})
        return status, seen[0]

    status, head = asyncio.run(scenario())
    assert status == 204
    assert head.startswith(b"POST /cb?x=1 HTTP/1.1\r\n")
    assert b"Host: hooks.example.test:" in head


def test_shutdown_cancels_a_webhook_after_the_grace() -> None:
    async def scenario() -> tuple[int, int]:
        async def hang(host: str, port: int) -> list[str]:
            await asyncio.sleep(30)
            return ["93.184.216.34"]

        sender = WebhookSender(60.0, resolver=hang)
        sender.send("https://hooks.example.com/x", {"a": 1})
        before = sender.pending
        await sender.close(grace=0.05)
        await asyncio.sleep(0)
        return before, sender.pending

    assert asyncio.run(scenario()) == (1, 0)
