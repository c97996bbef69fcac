"""AnthropicProvider over real sockets: the request it sends and the errors it raises.

A tiny asyncio server shows the exact request lines (repeated or injected headers
included); the fake Anthropic upstream checks whole exchanges, streams included.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator

import orjson
import pytest

from relaygate.channels.spec import ChannelSpec
from relaygate.core.errors import UpstreamBadResponse, UpstreamFailure, UpstreamTimeout
from relaygate.relay.providers.anthropic import AnthropicProvider, endpoint_url
from relaygate.relay.providers.base import UpstreamCall
from relaygate.relay.transport import HTTPClient
from tests.fakes.anthropic_upstream import Behaviour, FakeAnthropic

KEY = "sk-ant-channel-secret-0123456789"
BODY = {"model": "claude-x", "max_tokens": 8, "messages": [{"role": "user", "content": "hi"}]}


def _channel(base_url: str, **fields: object) -> ChannelSpec:
    return ChannelSpec(
        id=7, name="anthropic", type="anthropic", base_url=base_url, api_key=KEY,
        models={"claude-x": "claude-x"}, **fields,  # type: ignore[arg-type]
    )  # fmt: skip


def _call(
    endpoint: str = "messages", stream: bool = False, headers: tuple[tuple[str, str], ...] = ()
) -> UpstreamCall:
    payload = {**BODY, "stream": stream} if stream else dict(BODY)
    return UpstreamCall(endpoint, payload, orjson.dumps(payload), stream, "req_1", headers)


class RawServer:
    """Answers every request with a small JSON body and keeps the raw request bytes."""

    def __init__(self) -> None:
        self.requests: list[bytes] = []
        self.url = ""

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next(
                    int(line.split(b":")[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length:")
                )
                self.requests.append(head + await reader.readexactly(length))
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    def lines(self, index: int = -1) -> list[str]:
        head = self.requests[index].split(b"\r\n\r\n")[0].decode("latin-1")
        return head.split("\r\n")

    def headers(self, name: str, index: int = -1) -> list[str]:
        prefix = name.lower() + ":"
        return [
            line.split(":", 1)[1].strip()
            for line in self.lines(index)
            if line.lower().startswith(prefix)
        ]


@pytest.fixture
async def raw() -> AsyncIterator[RawServer]:
    server = RawServer()
    handle = await asyncio.start_server(server.handle, "127.0.0.1", 0)
    server.url = f"http://127.0.0.1:{handle.sockets[0].getsockname()[1]}"
    yield server
    handle.close()


@pytest.fixture
async def client() -> AsyncIterator[HTTPClient]:
    http = HTTPClient(connect_timeout=2, read_timeout=2)
    yield http
    await http.close()


@pytest.fixture
def fake() -> Iterator[FakeAnthropic]:
    with FakeAnthropic() as server:
        yield server


async def _send(provider: AnthropicProvider, channel: ChannelSpec, call: UpstreamCall) -> bytes:
    reply = await provider.send(channel, call)
    return await reply.read()


async def test_the_request_line_and_default_headers(raw: RawServer, client: HTTPClient) -> None:
    await _send(AnthropicProvider(client), _channel(raw.url), _call())
    assert raw.lines()[0] == "POST /v1/messages HTTP/1.1"
    assert raw.headers("x-api-key") == [KEY]
    assert raw.headers("anthropic-version") == ["2023-06-01"]
    assert raw.headers("content-type") == ["application/json"]
    assert raw.headers("anthropic-beta") == [] and raw.headers("authorization") == []
    assert raw.requests[-1].endswith(orjson.dumps(BODY))


@pytest.mark.parametrize(
    ("suffix", "path"),
    [
        ("", "/v1/messages"),
        ("/", "/v1/messages"),
        ("/v1", "/v1/messages"),
        ("/v1/", "/v1/messages"),
        ("/anthropic", "/anthropic/v1/messages"),
        ("/anthropic/v1", "/anthropic/v1/messages"),
    ],
)
async def test_the_base_url_rule(
    raw: RawServer, client: HTTPClient, suffix: str, path: str
) -> None:
    await _send(AnthropicProvider(client), _channel(raw.url + suffix), _call())
    assert raw.lines()[0] == f"POST {path} HTTP/1.1"
    assert endpoint_url(raw.url + suffix, "messages") == raw.url + path


async def test_other_endpoints(raw: RawServer, client: HTTPClient) -> None:
    provider = AnthropicProvider(client)
    for endpoint in ("messages/count_tokens", "complete"):
        await _send(provider, _channel(raw.url + "/v1"), _call(endpoint))
        assert raw.lines()[0] == f"POST /v1/{endpoint} HTTP/1.1"


async def test_channel_headers_set_the_version_but_not_the_key(
    raw: RawServer, client: HTTPClient
) -> None:
    channel = _channel(
        raw.url,
        headers={
            "Anthropic-Version": "2024-01-01",
            "X-Api-Key": "sk-other",
            "Content-Type": "text/plain",
            "anthropic-beta": "prompt-caching-2024-07-31",
            "X-Team": "blue\r\nX-Injected: 1",
        },
    )
    await _send(AnthropicProvider(client), channel, _call())
    assert raw.headers("anthropic-version") == ["2024-01-01"]
    assert raw.headers("x-api-key") == [KEY]
    assert raw.headers("content-type") == ["application/json"]
    assert raw.headers("anthropic-beta") == ["prompt-caching-2024-07-31"]
    assert raw.headers("x-team") == ["blueX-Injected: 1"] and raw.headers("x-injected") == []


async def test_call_headers_add_betas_but_never_replace_auth(
    raw: RawServer, client: HTTPClient
) -> None:
    channel = _channel(raw.url, headers={"anthropic-beta": "a-1,b-2"})
    call_headers = (
        ("anthropic-beta", "b-2, c-3"),
        ("Anthropic-Beta", "c-3,d-4"),
        ("x-api-key", "sk-caller"),
        ("Authorization", "Bearer sk-caller"),
        ("anthropic-version", "2026-10-21"),
        ("Content-Length", "1"),
        ("x-claude-code-session-id", "abc\r\nX-Evil: yes"),
        ("bad name", "x"),
    )
    provider = AnthropicProvider(client)
    await _send(provider, channel, _call(headers=call_headers))
    assert raw.headers("anthropic-beta") == ["a-1,b-2,c-3,d-4"]
    assert raw.headers("x-api-key") == [KEY] and raw.headers("authorization") == []
    assert raw.headers("anthropic-version") == ["2023-06-01"]
    assert raw.headers("content-length") == [str(len(orjson.dumps(BODY)))]
    assert raw.headers("x-claude-code-session-id") == ["abcX-Evil: yes"]
    assert raw.headers("x-evil") == [] and raw.headers("bad name") == []
    await _send(provider, channel, _call())  # the channel's own prefix is unchanged
    assert raw.headers("anthropic-beta") == ["a-1,b-2"]


async def test_an_edited_channel_is_prepared_again(raw: RawServer, client: HTTPClient) -> None:
    provider = AnthropicProvider(client)
    await _send(provider, _channel(raw.url), _call())
    edited = ChannelSpec(7, "anthropic", "anthropic", raw.url, "sk-rotated", {})
    await _send(provider, edited, _call())
    assert raw.headers("x-api-key", 0) == [KEY] and raw.headers("x-api-key") == ["sk-rotated"]


async def test_a_whole_exchange_with_the_fake(fake: FakeAnthropic, client: HTTPClient) -> None:
    fake.script("claude-x", Behaviour(text="hi there"))
    call = _call(headers=(("anthropic-beta", "interleaved-thinking-2025-05-14"),))
    reply = await AnthropicProvider(client).send(_channel(fake.url), call)
    assert reply.status == 200 and reply.content_type.startswith("application/json")
    body = await reply.read()
    assert body == fake.requests[-1].response_body
    assert orjson.loads(body)["content"] == [{"type": "text", "text": "hi there"}]
    recorded = fake.requests[-1]
    assert recorded.header("x-api-key") == KEY
    assert recorded.header("anthropic-beta") == "interleaved-thinking-2025-05-14"


async def test_a_stream_is_relayed_byte_for_byte(fake: FakeAnthropic, client: HTTPClient) -> None:
    fake.script(None, Behaviour(text="one two three", thinking="hm", fragment=5))
    reply = await AnthropicProvider(client).send(_channel(fake.url + "/v1"), _call(stream=True))
    assert reply.content_type.startswith("text/event-stream")
    received = b"".join([chunk async for chunk in reply.chunks()])
    reply.close()
    assert received == fake.requests[-1].response_body
    assert received.startswith(b"event: message_start\n")


async def test_an_error_status_is_handed_back_not_interpreted(
    fake: FakeAnthropic, client: HTTPClient
) -> None:
    fake.script(None, Behaviour(status=529))
    reply = await AnthropicProvider(client).send(_channel(fake.url), _call())
    assert reply.status == 529
    assert orjson.loads(await reply.read())["error"]["type"] == "overloaded_error"


def _assert_clean(err: UpstreamFailure, *secrets: str) -> None:
    text = f"{err} {err!r} {err.message}"
    for secret in (KEY, "127.0.0.1", *secrets):
        assert secret not in text


async def test_the_key_and_host_never_reach_an_error(client: HTTPClient) -> None:
    probe = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = probe.sockets[0].getsockname()[1]
    probe.close()
    await probe.wait_closed()
    with pytest.raises(UpstreamFailure) as caught:
        await AnthropicProvider(client).send(_channel(f"http://127.0.0.1:{port}"), _call())
    assert caught.value.status == 503
    _assert_clean(caught.value, str(port))


async def test_a_broken_stream_is_a_clean_bad_gateway(
    fake: FakeAnthropic, client: HTTPClient
) -> None:
    fake.script(None, Behaviour(text="one two three four", break_after=2))
    reply = await AnthropicProvider(client).send(_channel(fake.url), _call(stream=True))
    with pytest.raises(UpstreamBadResponse) as caught:
        async for _ in reply.chunks():
            pass
    _assert_clean(caught.value, str(fake.port))


async def test_a_silent_upstream_is_a_timeout(fake: FakeAnthropic) -> None:
    fake.script(None, Behaviour(latency=1.0))
    http = HTTPClient(connect_timeout=2, read_timeout=0.2)
    with pytest.raises(UpstreamTimeout) as caught:
        await AnthropicProvider(http).send(_channel(fake.url), _call())
    _assert_clean(caught.value)
    await http.close()
