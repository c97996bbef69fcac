"""relay/count_fallback.py: which count_tokens refusals mean the route is missing, and
how long a channel is remembered for it."""

from __future__ import annotations

import pytest

from relaygate.channels.spec import ChannelSpec
from relaygate.relay.count_fallback import CountRouteMemory, lacks_count_route


def _anthropic(message: str, kind: str = "not_found_error") -> bytes:
    return (
        b'{"type":"error","error":{"type":"' + kind.encode() + b'","message":"'
        + message.encode() + b'"}}'
    )  # fmt: skip


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (404, b"404: Not Found"),
        (404, b"404 page not found"),
        (404, b""),
        (404, b'{"detail":"Not Found"}'),
        (404, _anthropic("Not Found")),
        (404, b'{"error":{"message":"Invalid URL (POST /v1/messages/count_tokens)"}}'),
        (405, b"Method Not Allowed"),
        (501, _anthropic("count_tokens is not implemented", "api_error")),
        (400, _anthropic("Unknown endpoint: /v1/messages/count_tokens", "invalid_request_error")),
        (400, b'{"error":{"message":"count_tokens is not supported by this provider"}}'),
        (422, b'{"detail":"path /v1/messages/count_tokens does not exist"}'),
    ],
)
def test_the_route_is_missing(status: int, body: bytes) -> None:
    assert lacks_count_route(status, body)


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (404, _anthropic("model: claude-nope")),
        (404, b'{"error":{"message":"The model `x` does not exist","code":"model_not_found"}}'),
        (400, _anthropic("messages: Field required", "invalid_request_error")),
        (401, _anthropic("invalid x-api-key: route key unknown", "authentication_error")),
        (403, b'{"error":{"message":"endpoint not found for this key"}}'),
        (429, _anthropic("rate limited", "rate_limit_error")),
        (500, b"Internal Server Error"),
        (200, b'{"input_tokens": 3}'),
    ],
)
def test_anything_else_is_not(status: int, body: bytes) -> None:
    assert not lacks_count_route(status, body)


def test_a_channel_is_remembered_for_a_while_and_per_base_url() -> None:
    now = [100.0]
    memory = CountRouteMemory(seconds=60, clock=lambda: now[0])
    channel = ChannelSpec(1, "c", "anthropic", "http://a", "k", {})
    moved = ChannelSpec(1, "c", "anthropic", "http://b", "k", {})
    assert not memory.lacks(channel)
    memory.remember(channel)
    now[0] = 159.0
    assert memory.lacks(channel) and not memory.lacks(moved)
    now[0] = 160.0
    assert not memory.lacks(channel)
