"""Any OpenAI-compatible upstream: OpenAI, DeepSeek, vLLM, Ollama, OpenRouter, ...

The request is the caller's body (or the relay's rewrite of it) with the channel's key;
the reply is handed back unparsed, so a same-dialect call is relayed byte for byte.
"""

from __future__ import annotations

from relaygate.channels.spec import ChannelSpec
from relaygate.relay.providers.base import UpstreamCall, UpstreamReply
from relaygate.relay.providers.http import HTTPReply, clean_header_line, upstream_failure
from relaygate.relay.transport import HTTPClient, TransportError

__all__ = ["OpenAIProvider", "upstream_failure"]


def _header_lines(channel: ChannelSpec) -> bytes:
    """The channel's request headers, with CR/LF removed so no value can inject a header."""
    pairs = {**channel.headers, "Authorization": f"Bearer {channel.api_key}"}
    pairs["Content-Type"] = "application/json"
    return b"".join(clean_header_line(name, value) for name, value in pairs.items())


def _with_content_type(lines: bytes, content_type: str) -> bytes:
    """The channel's header lines with another body type (a multipart upload)."""
    json_line = clean_header_line("Content-Type", "application/json")
    return lines.replace(json_line, clean_header_line("Content-Type", content_type))


class OpenAIProvider:
    def __init__(self, client: HTTPClient) -> None:
        self.client = client
        self._headers: dict[int, tuple[ChannelSpec, bytes]] = {}

    def _headers_for(self, channel: ChannelSpec) -> bytes:
        cached = self._headers.get(channel.id)
        if cached is None or cached[0] is not channel:
            cached = (channel, _header_lines(channel))
            self._headers[channel.id] = cached
        return cached[1]

    async def send(self, channel: ChannelSpec, call: UpstreamCall) -> UpstreamReply:
        url = f"{channel.base_url.rstrip('/')}/{call.endpoint}"
        try:
            headers = self._headers_for(channel)
            if call.content_type != "application/json":
                headers = _with_content_type(headers, call.content_type)
            response = await self.client.post(url, headers, call.body)
        except TransportError as exc:
            raise upstream_failure(exc) from exc
        return HTTPReply(response)
