"""The gateway's SSE keep-alive comments on every streamed dialect: while the upstream is
silent mid-stream, the client gets ``: keep-alive`` (Chat Completions is covered in
test_streaming.py). Proxies that cut idle connections (Cloudflare at 100 s) need them;
the default interval is 15 s (docs/deploy.md)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator

import pytest

from relaygate.settings import Settings
from tests.fakes.anthropic_payloads import Behaviour as AnthropicBehaviour
from tests.fakes.anthropic_upstream import FakeAnthropic
from tests.fakes.openai_payloads import Behaviour
from tests.fakes.responses_upstream import FakeOpenAIResponses
from tests.harness import Gateway
from tests.integration.assertions import sse_lines

COMMENT = b": keep-alive"


@pytest.fixture
def gw(gateway_factory: Callable[..., Gateway]) -> Gateway:
    return gateway_factory(stream_keepalive_interval=0.2)


@pytest.fixture
def claude() -> Iterator[FakeAnthropic]:
    with FakeAnthropic() as server:
        yield server


def _comment_between(lines: list[bytes], before: bytes, after: bytes) -> None:
    """A keep-alive comment came after the line holding ``before`` and before ``after``."""
    first = next(i for i, line in enumerate(lines) if before in line)
    last = next(i for i, line in enumerate(lines) if after in line)
    assert COMMENT in lines[first:last], lines


def test_messages_stream_gets_keepalives(gw: Gateway, claude: FakeAnthropic) -> None:
    model = f"claude-{uuid.uuid4().hex[:8]}"
    gw.add_channel(claude, models=[model], type="anthropic", base_url=claude.url)
    claude.script(model, AnthropicBehaviour(chunks=["alpha", " omega"], chunk_delay=0.8))
    body = {
        "model": model,
        "max_tokens": 50,
        "stream": True,
        "messages": [{"role": "user", "content": "hi"}],
    }
    with gw.http(gw.make_user_key().key) as http:
        response = http.post("/v1/messages", json=body)
    assert response.status_code == 200, response.text
    lines = sse_lines(response.content)
    _comment_between(lines, b'"alpha"', b'" omega"')
    assert b"message_stop" in response.content


def test_responses_stream_gets_keepalives(gw: Gateway) -> None:
    with FakeOpenAIResponses() as native:
        model = f"resp-{uuid.uuid4().hex[:8]}"
        gw.add_channel(native, models=[model], options={"responses_api": True})
        native.script(model, Behaviour(text="alpha beta omega", stall_after=2, stall_seconds=1.2))
        with gw.http(gw.make_user_key().key) as http:
            response = http.post(
                "/v1/responses", json={"model": model, "input": "hi", "stream": True}
            )
    assert response.status_code == 200, response.text
    lines = sse_lines(response.content)
    _comment_between(lines, b'" beta"', b'" omega"')
    assert b"response.completed" in response.content


def test_the_default_interval_is_below_a_100_second_idle_cut() -> None:
    assert 0 < Settings().stream_keepalive_interval < 100
