"""The Anthropic API (and Anthropic-compatible upstreams) as an upstream channel.

The request is the caller's Messages, count_tokens or legacy Complete body (or the
relay's rewrite of it) with the channel's key; the reply is handed back unparsed, so a
same-dialect call is relayed byte for byte, ``event:`` lines included.

Base URL rule: the channel's ``base_url`` names the API root, with or without the
version segment. ``https://api.anthropic.com`` and ``https://api.anthropic.com/v1`` (a
trailing slash either way) both send ``POST https://api.anthropic.com/v1/messages``;
an upstream mounted under a path (``https://gw.example/anthropic``) gets ``/v1``
appended like any other root. Operators paste either form, and OpenAI-style channels
are configured with ``/v1``, so the provider accepts both instead of doubling it.

Headers: ``x-api-key`` (the channel's key), ``anthropic-version`` (``2023-06-01`` unless
the channel's ``headers`` set another: the version fixes the wire shape the gateway
reads, so the caller's own version is not forwarded) and ``content-type``, then the
channel's other headers and the call's. ``anthropic-beta`` values of the channel and the
call are merged into one comma-separated line without duplicates. A call header never
replaces the key, the version or the framing headers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from relaygate.channels.spec import ChannelSpec
from relaygate.relay.providers.base import UpstreamCall, UpstreamReply
from relaygate.relay.providers.call_options import ChannelCallOptions
from relaygate.relay.providers.http import (
    HTTPReply,
    clean_header_line,
    edit_headers,
    upstream_failure,
)
from relaygate.relay.transport import HTTPClient, TransportError

__all__ = ["ANTHROPIC_VERSION", "AnthropicProvider", "endpoint_url"]

ANTHROPIC_VERSION = "2023-06-01"
_BETA = "anthropic-beta"
_VERSION = "anthropic-version"
# Set by the provider or the transport; a channel header of these names is ignored.
_OWNED = frozenset({"host", "content-length", "transfer-encoding", "connection"})
_OWNED |= {"content-type", "x-api-key"}
# A call header may add to the request but not change who is calling or how.
_NOT_FROM_CALL = _OWNED | {"authorization", _VERSION}
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")


def endpoint_url(base_url: str, endpoint: str) -> str:
    """The full URL of ``endpoint`` (e.g. ``messages``) under a channel's base URL."""
    return _prefix(base_url) + endpoint


def _prefix(base_url: str) -> str:
    base = base_url.rstrip("/")
    return f"{base}/" if base.endswith("/v1") else f"{base}/v1/"


def _betas(value: str) -> list[str]:
    return [flag.strip() for flag in value.split(",") if flag.strip()]


@dataclass(frozen=True, slots=True)
class _Prepared:
    """A channel's request prefix, computed once per channel version."""

    channel: ChannelSpec
    prefix: str  # base URL ending in "/v1/"
    head: bytes  # every header line, the channel's anthropic-beta included
    plain: bytes  # the same without anthropic-beta, for calls that add betas
    betas: tuple[str, ...]


def _prepare(channel: ChannelSpec, key: str) -> _Prepared:
    version = ANTHROPIC_VERSION
    betas: list[str] = []
    lines = [clean_header_line("content-type", "application/json")]
    if key:
        lines.append(clean_header_line("x-api-key", key))
    extra = []
    for name, value in channel.headers.items():
        lower = name.strip().lower()
        if lower == _VERSION:
            version = value.strip()
        elif lower == _BETA:
            betas.extend(_betas(value))
        elif lower not in _OWNED and _TOKEN.fullmatch(name):
            extra.append(clean_header_line(name, value))
    lines.append(clean_header_line(_VERSION, version))
    plain = b"".join(lines + extra)
    betas = list(dict.fromkeys(betas))
    beta_line = clean_header_line(_BETA, ",".join(betas)) if betas else b""
    return _Prepared(channel, _prefix(channel.base_url), plain + beta_line, plain, tuple(betas))


def _with_call_headers(prepared: _Prepared, headers: tuple[tuple[str, str], ...]) -> bytes:
    """The channel's header lines plus the call's, ``anthropic-beta`` merged into one."""
    betas = list(prepared.betas)
    lines = [prepared.plain]
    for name, value in headers:
        lower = name.lower()
        if lower in _NOT_FROM_CALL or not _TOKEN.fullmatch(name):
            continue
        if lower == _BETA:
            betas.extend(_betas(value))
        else:
            lines.append(clean_header_line(name, value))
    if betas:
        lines.append(clean_header_line(_BETA, ",".join(dict.fromkeys(betas))))
    return b"".join(lines)


class AnthropicProvider:
    def __init__(self, client: HTTPClient) -> None:
        self.client = client
        # per channel: its prepared prefix and headers, one per key (the rotation's order)
        self._prepared: dict[int, tuple[_Prepared, ...]] = {}
        self._options = ChannelCallOptions()  # per channel version: timeouts, proxy

    def _prepared_for(self, channel: ChannelSpec, key_index: int = 0) -> _Prepared:
        cached = self._prepared.get(channel.id)
        if cached is None or cached[0].channel is not channel:
            keys = channel.keys or (channel.api_key,)
            cached = tuple(_prepare(channel, key) for key in keys)
            self._prepared[channel.id] = cached
        return cached[key_index] if key_index < len(cached) else cached[0]

    async def send(self, channel: ChannelSpec, call: UpstreamCall) -> UpstreamReply:
        prepared = self._prepared_for(channel, call.key_index)
        headers = _with_call_headers(prepared, call.headers) if call.headers else prepared.head
        if call.header_edits is not None:
            headers = edit_headers(headers, call.header_edits)
        try:
            url = prepared.prefix + call.endpoint
            response = await self.client.post(url, headers, call.body, self._options(channel))
        except TransportError as exc:
            raise upstream_failure(exc) from exc
        return HTTPReply(response)
