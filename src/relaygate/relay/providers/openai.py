"""Any OpenAI-compatible upstream: OpenAI, DeepSeek, vLLM, Ollama, OpenRouter, ...

The request is the caller's body (or the relay's rewrite of it) with the channel's key;
the reply is handed back unparsed, so a same-dialect call is relayed byte for byte.
"""

from __future__ import annotations

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

__all__ = ["OpenAIProvider", "upstream_failure"]


def _header_lines(channel: ChannelSpec, key: str) -> bytes:
    """The channel's request headers, with CR/LF removed so no value can inject a header."""
    pairs = {**channel.headers, "Authorization": f"Bearer {key}"}
    pairs["Content-Type"] = "application/json"
    return b"".join(clean_header_line(name, value) for name, value in pairs.items())


def _with_content_type(lines: bytes, content_type: str) -> bytes:
    """The channel's header lines with another body type (a multipart upload)."""
    json_line = clean_header_line("Content-Type", "application/json")
    return lines.replace(json_line, clean_header_line("Content-Type", content_type))


class OpenAIProvider:
    """Subclasses change where a call goes and how the key is sent (Azure)."""

    def __init__(self, client: HTTPClient) -> None:
        self.client = client
        # per channel version: its header lines, one set per key (the rotation's order)
        self._headers: dict[int, tuple[ChannelSpec, tuple[bytes, ...]]] = {}
        self._options = ChannelCallOptions()  # per channel version: timeouts, proxy

    header_lines = staticmethod(_header_lines)

    def url(self, channel: ChannelSpec, call: UpstreamCall) -> str:
        return f"{channel.base_url.rstrip('/')}/{call.endpoint}"

    def _headers_for(self, channel: ChannelSpec, key_index: int = 0) -> bytes:
        cached = self._headers.get(channel.id)
        if cached is None or cached[0] is not channel:
            keys = channel.keys or (channel.api_key,)
            cached = (channel, tuple(self.header_lines(channel, key) for key in keys))
            self._headers[channel.id] = cached
        lines = cached[1]
        return lines[key_index] if key_index < len(lines) else lines[0]

    async def send(self, channel: ChannelSpec, call: UpstreamCall) -> UpstreamReply:
        url = self.url(channel, call)
        try:
            headers = self._headers_for(channel, call.key_index)
            if call.content_type != "application/json":
                headers = _with_content_type(headers, call.content_type)
            if call.header_edits is not None:
                headers = edit_headers(headers, call.header_edits)
            response = await self.client.post(url, headers, call.body, self._options(channel))
        except TransportError as exc:
            raise upstream_failure(exc) from exc
        return HTTPReply(response)
