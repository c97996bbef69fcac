"""How the tools' channel types reach their upstreams: the URL, the method, where the key
goes. One :class:`~relaygate.relay.providers.base.Provider` per type, registered with
the models' providers (build.py), so a tool call is sent, its keys rotated and benched,
its channels failed over and their breakers fed exactly as a model call's are
(``RelayService.open``). The call's ``payload`` is the tool's checked parameters (plus
the ``model`` the relay writes into every payload, which no tool upstream takes).

- ``google_search``: ``GET {base}/customsearch/v1?key=...&cx=...&q=...`` (key in the query)
- ``serper``: ``POST {base}/search``, a JSON body, the key in ``X-API-KEY``
- ``azure_speech``: ``POST {base}/cognitiveservices/v1`` (SSML) and ``GET
  {base}/cognitiveservices/voices/list``, the key in ``Ocp-Apim-Subscription-Key``
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import orjson

from relaygate.channels.spec import ChannelSpec
from relaygate.core.errors import InvalidRequest
from relaygate.relay.probe import ProbeCall
from relaygate.relay.providers.base import Provider, UpstreamCall, UpstreamReply
from relaygate.relay.providers.call_options import ChannelCallOptions
from relaygate.relay.providers.http import HTTPReply, clean_header_line, upstream_failure
from relaygate.relay.transport import HTTPClient, TransportError
from relaygate.tools.search import GOOGLE_ENDPOINT, SERPER_ENDPOINT
from relaygate.tools.tts import DEFAULT_FORMAT, VOICES_ENDPOINT

__all__ = [
    "TOOL_PROBES",
    "ReadReply",
    "ToolProvider",
    "UpstreamRequest",
    "attempt_key",
    "base_of",
    "probe_call",
    "tool_providers",
]

_AGENT = "Relaygate"


@dataclass(frozen=True, slots=True)
class UpstreamRequest:
    method: bytes
    url: str
    headers: dict[str, str]
    body: bytes = b""


def _params(call: UpstreamCall) -> dict[str, Any]:
    """The tool's parameters, without the ``model`` the relay adds to every payload."""
    return {name: value for name, value in call.payload.items() if name != "model"}


class ToolProvider:
    """What the three share: the channel's key of this attempt, its extra headers (never
    replacing the key), its timeouts and proxy, and clean transport errors."""

    def __init__(self, client: HTTPClient) -> None:
        self.client = client
        self._options = ChannelCallOptions()

    def request(self, channel: ChannelSpec, call: UpstreamCall, key: str) -> UpstreamRequest:
        raise NotImplementedError

    async def send(self, channel: ChannelSpec, call: UpstreamCall) -> UpstreamReply:
        return await self.exchange(channel, self.request(channel, call, attempt_key(channel, call)))

    async def exchange(self, channel: ChannelSpec, request: UpstreamRequest) -> UpstreamReply:
        """One request to the channel's upstream (its headers, timeouts and proxy)."""
        headers = {**channel.headers, "User-Agent": _AGENT, **request.headers}
        lines = b"".join(clean_header_line(name, value) for name, value in headers.items())
        try:
            response = await self.client.request(
                request.method, request.url, lines, request.body, self._options(channel)
            )
        except TransportError as exc:
            raise upstream_failure(exc) from exc
        return HTTPReply(response)


def attempt_key(channel: ChannelSpec, call: UpstreamCall) -> str:
    """The channel's key this attempt uses (the relay rotates ``call.key_index``)."""
    keys = channel.keys or (channel.api_key,)
    return keys[call.key_index] if call.key_index < len(keys) else keys[0]


def base_of(channel: ChannelSpec) -> str:
    return channel.base_url.rstrip("/")


class ReadReply:
    """An upstream reply already read whole, under the status it really means."""

    def __init__(self, status: int, content_type: str, body: bytes) -> None:
        self.status, self.content_type, self._body = status, content_type, body

    async def read(self) -> bytes:
        return self._body

    async def chunks(self) -> AsyncIterator[bytes]:
        yield self._body

    def close(self) -> None:
        return None

    def header(self, name: bytes) -> bytes | None:
        return None


# how Google says the key itself is wrong, in a 400 (its reason and its message)
_GOOGLE_BAD_KEY = (b"API_KEY_INVALID", b"keyInvalid", b"API key not valid")


class GoogleSearchProvider(ToolProvider):
    """Google answers an invalid key with ``400``, the status of a caller's mistake: that
    answer is reported as the ``401`` it means, so the channel's next key is tried (and
    the caller never sees the operator's key problem)."""

    async def send(self, channel: ChannelSpec, call: UpstreamCall) -> UpstreamReply:
        reply = await super().send(channel, call)
        if reply.status != 400:
            return reply
        body = await reply.read()
        status = 401 if any(mark in body for mark in _GOOGLE_BAD_KEY) else 400
        return ReadReply(status, reply.content_type, body)

    def request(self, channel: ChannelSpec, call: UpstreamCall, key: str) -> UpstreamRequest:
        params = _params(call)
        cx = params.pop("cx", None) or channel.cx
        if not cx:
            raise InvalidRequest(
                "'cx' is required: this channel names no search engine of its own.", param="cx"
            )
        query = urlencode({"key": key, "cx": cx, **params})
        return UpstreamRequest(b"GET", f"{base_of(channel)}/customsearch/v1?{query}", {})


class SerperProvider(ToolProvider):
    def request(self, channel: ChannelSpec, call: UpstreamCall, key: str) -> UpstreamRequest:
        headers = {"X-API-KEY": key, "Content-Type": "application/json"}
        return UpstreamRequest(
            b"POST", f"{base_of(channel)}/search", headers, orjson.dumps(_params(call))
        )


class AzureSpeechProvider(ToolProvider):
    def request(self, channel: ChannelSpec, call: UpstreamCall, key: str) -> UpstreamRequest:
        headers = {"Ocp-Apim-Subscription-Key": key}
        if call.endpoint == VOICES_ENDPOINT:
            return UpstreamRequest(
                b"GET", f"{base_of(channel)}/cognitiveservices/voices/list", headers
            )
        headers["Content-Type"] = "application/ssml+xml"
        headers["X-Microsoft-OutputFormat"] = str(call.payload.get("output_format", DEFAULT_FORMAT))
        ssml = str(call.payload["ssml"]).encode()
        return UpstreamRequest(b"POST", f"{base_of(channel)}/cognitiveservices/v1", headers, ssml)


def tool_providers(client: HTTPClient) -> dict[str, Provider]:
    """The tools' providers by channel type, to join the models' (build.py)."""
    return {
        "google_search": GoogleSearchProvider(client),
        "serper": SerperProvider(client),
        "azure_speech": AzureSpeechProvider(client),
    }


def probe_call(endpoint: str, payload: dict[str, Any]) -> ProbeCall:
    def call(model: str) -> UpstreamCall:
        return UpstreamCall(endpoint, dict(payload), b"", False, "probe")

    return call


# A channel test's call per tool channel type: one result of one search (it costs what a
# search costs the operator), or the voice list (free)
TOOL_PROBES: Mapping[str, ProbeCall] = {
    "google_search": probe_call(GOOGLE_ENDPOINT, {"q": "relaygate", "num": 1}),
    "serper": probe_call(SERPER_ENDPOINT, {"q": "relaygate", "num": 1}),
    "azure_speech": probe_call(VOICES_ENDPOINT, {}),
}
