"""Any OpenAI-compatible upstream: OpenAI, DeepSeek, vLLM, Ollama, OpenRouter, ...

aiohttp was chosen over httpx for the upstream client after measuring both in the bench
harness (docs/benchmarks.md): it costs far less CPU per call.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import aiohttp

from relaygate.channels.spec import ChannelSpec
from relaygate.core.errors import (
    UpstreamBadResponse,
    UpstreamFailure,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from relaygate.relay.providers.base import UpstreamCall, UpstreamReply

__all__ = ["OpenAIProvider", "upstream_failure"]


def upstream_failure(exc: BaseException) -> UpstreamFailure:
    """Map a client-side exception to a clean error: no host, port or key in the message."""
    if isinstance(exc, asyncio.TimeoutError | aiohttp.ServerTimeoutError):
        return UpstreamTimeout("The upstream did not answer in time.")
    if isinstance(exc, aiohttp.ClientConnectorError):
        return UpstreamUnavailable("The upstream could not be reached.")
    if isinstance(exc, aiohttp.ServerDisconnectedError | aiohttp.ClientPayloadError):
        return UpstreamBadResponse("The upstream closed the connection unexpectedly.")
    return UpstreamBadResponse("The upstream call failed.")


class _AiohttpReply:
    __slots__ = ("_response", "content_type", "status")

    def __init__(self, response: aiohttp.ClientResponse) -> None:
        self._response = response
        self.status = response.status
        self.content_type = response.headers.get("content-type", "application/json")

    async def read(self) -> bytes:
        try:
            return await self._response.read()
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise upstream_failure(exc) from exc
        finally:
            self._response.release()

    async def chunks(self) -> AsyncIterator[bytes]:
        content = self._response.content
        try:
            while True:
                chunk = await content.readany()
                if not chunk:
                    return
                yield chunk
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise upstream_failure(exc) from exc

    def close(self) -> None:
        if self._response.content.at_eof():
            self._response.release()
        else:
            self._response.close()


class OpenAIProvider:
    def __init__(self, session: aiohttp.ClientSession) -> None:
        self.session = session

    async def send(self, channel: ChannelSpec, call: UpstreamCall) -> UpstreamReply:
        url = f"{channel.base_url.rstrip('/')}/{call.endpoint}"
        headers = {
            **channel.headers,
            "Authorization": f"Bearer {channel.api_key}",
            "Content-Type": "application/json",
        }
        try:
            response = await self.session.post(url, data=call.body, headers=headers)
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise upstream_failure(exc) from exc
        return _AiohttpReply(response)
