"""The client's address behind a reverse proxy, believed only from a proxy we trust.

Every reader of the client's address (the sign-in and redemption limits, the usage
record's ``client_ip``, the console's session list) reads the ASGI scope's ``client``.
So this is the one place that decides it: before any route runs, when the socket's peer
is one of ``trusted_proxies``, ``client`` becomes the address in the configured header
(``X-Forwarded-For``, ``CF-Connecting-IP`` or ``X-Real-IP``) and ``scheme`` the one in
``X-Forwarded-Proto``. From any other peer these headers are ignored: a client cannot
pick the address its limits are counted under.

One header, chosen by the operator, rather than whichever is present: a proxy that sets
``X-Forwarded-For`` passes a client's own ``CF-Connecting-IP`` through untouched, so
believing both would let the client choose again.
"""

from __future__ import annotations

from collections.abc import Iterable, MutableMapping
from ipaddress import IPv4Network, IPv6Network, ip_address, ip_network
from typing import Any

from relaygate.settings import Settings

__all__ = ["TrustedProxies", "proxy_networks", "trusted_proxies"]

_FORWARDED_FOR = b"x-forwarded-for"
_PROTO = b"x-forwarded-proto"
_SCHEMES = {"http": ("http", "ws"), "https": ("https", "wss")}  # proto: (http, websocket)
_CACHE_LIMIT = 4096  # trust answers kept per process (peers are few; forwarded chains not)

Network = IPv4Network | IPv6Network


def proxy_networks(proxies: Iterable[str]) -> tuple[Network, ...]:
    """``10.0.0.0/8``, ``127.0.0.1``, ``::1``; ``*`` trusts every address. A malformed
    entry stops the start (ValueError naming it)."""
    networks: list[Network] = []
    for entry in proxies:
        text = entry.strip()
        if not text:
            continue
        if text == "*":
            networks += [ip_network("0.0.0.0/0"), ip_network("::/0")]
            continue
        try:
            networks.append(ip_network(text, strict=False))
        except ValueError:
            raise ValueError(f"trusted_proxies: not an address or CIDR: {text!r}") from None
    return tuple(networks)


def trusted_proxies(settings: Settings) -> TrustedProxies | None:
    """The settings' proxies: ``trusted_proxies``, or the older pair
    ``trust_proxy_headers`` + ``forwarded_allow_ips`` (comma-separated); None: no proxy
    is trusted and the client is always the socket's peer."""
    proxies: Iterable[str] = settings.trusted_proxies
    if not settings.trusted_proxies and settings.trust_proxy_headers:
        proxies = settings.forwarded_allow_ips.split(",")
    networks = proxy_networks(proxies)
    return TrustedProxies(networks, settings.client_ip_header) if networks else None


def _address(text: str) -> str | None:
    """``text`` as an IP address in its normal form, or None when it is not one."""
    try:
        return str(ip_address(text.strip()))
    except ValueError:
        return None


class TrustedProxies:
    def __init__(self, networks: tuple[Network, ...], header: str) -> None:
        self.networks = networks
        self.header = header.lower().encode()
        self._trusted: dict[str, bool] = {}

    def trusts(self, host: str) -> bool:
        known = self._trusted.get(host)
        if known is None:
            try:
                address = ip_address(host)
            except ValueError:
                known = False
            else:
                known = any(address in network for network in self.networks)
            if len(self._trusted) >= _CACHE_LIMIT:
                self._trusted.clear()
            self._trusted[host] = known
        return known

    def apply(self, scope: MutableMapping[str, Any]) -> None:
        """Rewrite ``scope``'s client and scheme from a trusted peer's headers."""
        peer = scope.get("client")
        if not peer or not self.trusts(peer[0]):
            return
        named: list[bytes] = []
        proto = b""
        for name, value in scope.get("headers", ()):
            if name == self.header:
                named.append(value)
            elif name == _PROTO:
                proto = value
        if named:
            client = self._client(b",".join(named).decode("latin-1"))
            if client is not None:
                scope["client"] = (client, 0)
        if proto:
            schemes = _SCHEMES.get(proto.decode("latin-1").split(",")[-1].strip().lower())
            if schemes is not None:
                scope["scheme"] = schemes[scope.get("type") == "websocket"]

    def _client(self, value: str) -> str | None:
        """The client in the header's value; None when the value is not usable."""
        if self.header != _FORWARDED_FOR:  # one address, written by the proxy
            return _address(value.split(",")[0])
        # each proxy appends the address it heard from: the client is the first one,
        # from the right, that no trusted proxy added
        hops = [_address(hop) for hop in value.split(",")]
        if not hops or None in hops:
            return None
        for hop in reversed(hops):
            assert hop is not None
            if not self.trusts(hop):
                return hop
        return hops[0]
