"""The client's address: from the configured header of a trusted proxy, never otherwise."""

from __future__ import annotations

from typing import Any

import pytest

from relaygate.settings import Settings
from relaygate.web.proxies import TrustedProxies, proxy_networks, trusted_proxies


def _scope(peer: str, **headers: str) -> dict[str, Any]:
    return {
        "type": "http",
        "scheme": "http",
        "client": (peer, 50000),
        "headers": [(k.replace("_", "-").lower().encode(), v.encode()) for k, v in headers.items()],
    }


def _client(proxies: TrustedProxies, peer: str, **headers: str) -> str:
    scope = _scope(peer, **headers)
    proxies.apply(scope)
    return str(scope["client"][0])


LAN = TrustedProxies(proxy_networks(["10.0.0.0/8", "127.0.0.1"]), "x-forwarded-for")


def test_a_trusted_peer_gives_the_forwarded_client() -> None:
    assert _client(LAN, "10.1.2.3", x_forwarded_for="198.51.100.7") == "198.51.100.7"
    assert _client(LAN, "127.0.0.1", x_forwarded_for="198.51.100.7") == "198.51.100.7"


def test_an_untrusted_peer_keeps_its_own_address() -> None:
    assert _client(LAN, "203.0.113.5", x_forwarded_for="198.51.100.7") == "203.0.113.5"
    assert _client(LAN, "11.0.0.1", x_real_ip="198.51.100.7") == "11.0.0.1"


def test_the_chain_is_read_from_the_right_past_trusted_hops() -> None:
    """A client's own ``X-Forwarded-For`` entries sit left of what the proxies added:
    the first address from the right that no trusted proxy added is the client."""
    chain = "1.1.1.1, 198.51.100.7, 10.9.9.9"  # forged, the client, an inner proxy
    assert _client(LAN, "10.0.0.2", x_forwarded_for=chain) == "198.51.100.7"
    every = TrustedProxies(proxy_networks(["*"]), "x-forwarded-for")  # all trusted: the first
    assert _client(every, "203.0.113.5", x_forwarded_for="10.0.0.1, 10.0.0.2") == "10.0.0.1"


def test_garbage_in_the_header_is_ignored() -> None:
    assert _client(LAN, "10.0.0.2", x_forwarded_for="not-an-ip, 198.51.100.7") == "10.0.0.2"
    assert _client(LAN, "10.0.0.2", x_forwarded_for="") == "10.0.0.2"


def test_only_the_configured_header_counts() -> None:
    cloudflare = TrustedProxies(proxy_networks(["10.0.0.0/8"]), "cf-connecting-ip")
    assert _client(cloudflare, "10.0.0.2", cf_connecting_ip="2001:db8::7") == "2001:db8::7"
    forged = {"x_forwarded_for": "198.51.100.7", "x_real_ip": "198.51.100.8"}
    assert _client(cloudflare, "10.0.0.2", **forged) == "10.0.0.2"
    real_ip = TrustedProxies(proxy_networks(["10.0.0.0/8"]), "x-real-ip")
    assert _client(real_ip, "10.0.0.2", **forged) == "198.51.100.8"


def test_the_scheme_from_a_trusted_proxy() -> None:
    scope = _scope("10.0.0.2", x_forwarded_proto="https")
    LAN.apply(scope)
    assert scope["scheme"] == "https"
    scope = _scope("203.0.113.5", x_forwarded_proto="https")
    LAN.apply(scope)
    assert scope["scheme"] == "http"


def test_settings() -> None:
    assert trusted_proxies(Settings()) is None  # nobody is trusted by default
    old_style = Settings(trust_proxy_headers=True, forwarded_allow_ips="127.0.0.1, 10.0.0.1")
    proxies = trusted_proxies(old_style)
    assert proxies is not None and proxies.trusts("10.0.0.1") and not proxies.trusts("10.0.0.2")
    new = trusted_proxies(Settings(trusted_proxies=["10.0.0.0/8"], client_ip_header="X-Real-IP"))
    assert new is not None and new.trusts("10.200.0.1") and new.header == b"x-real-ip"
    with pytest.raises(ValueError, match="10.0.0.300"):
        proxy_networks(["10.0.0.300"])
