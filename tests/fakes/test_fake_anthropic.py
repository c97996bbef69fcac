"""Self-test of the fake Anthropic upstream, driven by the official SDK without the gateway."""

from __future__ import annotations

import json
from collections.abc import Iterator

import anthropic
import httpx
import httpx2
import pytest
from anthropic.types import MessageParam, RawMessageDeltaEvent

from tests.fakes.anthropic_upstream import Behaviour, FakeAnthropic

MESSAGES: list[MessageParam] = [{"role": "user", "content": "hi"}]


@pytest.fixture
def fake() -> Iterator[FakeAnthropic]:
    with FakeAnthropic(models=["claude-a", "claude-b"]) as server:
        yield server


def client(fake: FakeAnthropic) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=fake.url, api_key="sk-upstream", max_retries=0)


def _event_names(raw: bytes) -> list[str]:
    return [line[7:] for line in raw.decode().splitlines() if line.startswith("event: ")]


def test_non_stream_message_usage_and_raw_bytes(fake: FakeAnthropic) -> None:
    fake.script(
        "claude-a",
        Behaviour(
            text="hi there",
            input_tokens=5,
            output_tokens=2,
            cache_creation_input_tokens=7,
            cache_read_input_tokens=3,
        ),
    )
    raw = client(fake).messages.with_raw_response.create(
        model="claude-a", max_tokens=10, messages=MESSAGES
    )
    message = raw.parse()
    assert [block.type for block in message.content] == ["text"]
    assert message.content[0].type == "text" and message.content[0].text == "hi there"
    assert message.stop_reason == "end_turn"
    usage = message.usage
    assert (usage.input_tokens, usage.output_tokens) == (5, 2)
    assert (usage.cache_creation_input_tokens, usage.cache_read_input_tokens) == (7, 3)
    assert raw.http_response.content == fake.requests[-1].response_body
    assert raw.http_response.headers["request-id"] == fake.requests[-1].request_id
    recorded = fake.requests[-1]
    assert recorded.header("anthropic-version") is not None
    assert "sk-upstream" in (recorded.header("authorization") or recorded.header("x-api-key") or "")


def test_stream_event_order_and_text(fake: FakeAnthropic) -> None:
    fake.script(None, Behaviour(text="a b c", input_tokens=9, extra_pings=True))
    stream = client(fake).messages.create(
        model="claude-b", max_tokens=10, messages=MESSAGES, stream=True
    )
    events = [e for e in stream if not isinstance(e, tuple)]
    kinds = [e.type for e in events]
    assert kinds[0] == "message_start" and kinds[-2:] == ["message_delta", "message_stop"]
    assert kinds[1:-2] == ["content_block_start"] + ["content_block_delta"] * 3 + [
        "content_block_stop"
    ]
    text = "".join(
        e.delta.text
        for e in events
        if e.type == "content_block_delta" and e.delta.type == "text_delta"
    )
    assert text == "a b c"
    names = _event_names(fake.requests[-1].response_body)
    assert names[:2] == ["message_start", "ping"] and names.count("ping") == 4
    final = events[-2]
    assert isinstance(final, RawMessageDeltaEvent) and final.usage.output_tokens == 3
    assert final.usage.input_tokens == 9 and final.delta.stop_reason == "end_turn"


def test_thinking_and_streamed_tool_use(fake: FakeAnthropic) -> None:
    call = {"name": "get_weather", "input": {"city": "Paris", "unit": "celsius"}}
    fake.script(
        None, Behaviour(thinking="let me think", text="", tool_uses=[call], json_fragments=4)
    )
    with client(fake).messages.stream(
        model="claude-a", max_tokens=100, messages=MESSAGES
    ) as stream:
        message = stream.get_final_message()
    thinking, tool = message.content
    assert thinking.type == "thinking" and thinking.thinking == "let me think"
    assert thinking.signature
    assert tool.type == "tool_use" and tool.input == call["input"] and tool.name == "get_weather"
    assert message.stop_reason == "tool_use"
    body = fake.requests[-1].response_body.decode()
    assert body.count('"input_json_delta"') == 4
    assert body.index('"signature_delta"') < body.index('"content_block_stop"')


def test_count_tokens(fake: FakeAnthropic) -> None:
    fake.script(None, Behaviour(count_tokens=42))
    counted = client(fake).messages.count_tokens(model="claude-a", messages=MESSAGES)
    assert counted.input_tokens == 42
    assert fake.requests[-1].path == "/v1/messages/count_tokens"


def test_overloaded_529_and_rate_limit_with_retry_after(fake: FakeAnthropic) -> None:
    fake.script(None, Behaviour(status=529), Behaviour(status=429, headers={"retry-after": "7"}))
    with pytest.raises(anthropic.OverloadedError) as overloaded:
        client(fake).messages.create(model="claude-a", max_tokens=5, messages=MESSAGES)
    assert overloaded.value.status_code == 529
    assert overloaded.value.body == {
        "type": "error",
        "error": {"type": "overloaded_error", "message": "Overloaded"},
        "request_id": fake.requests[-1].request_id,
    }
    with pytest.raises(anthropic.RateLimitError) as limited:
        client(fake).messages.create(model="claude-a", max_tokens=5, messages=MESSAGES)
    assert limited.value.response.headers["retry-after"] == "7"


def test_bad_request_body_is_verbatim(fake: FakeAnthropic) -> None:
    body = {"type": "error", "error": {"type": "invalid_request_error", "message": "bad"}}
    fake.script(None, Behaviour(status=400, error_body=body))
    with pytest.raises(anthropic.BadRequestError) as info:
        client(fake).messages.create(model="claude-a", max_tokens=5, messages=MESSAGES)
    assert info.value.response.json() == body


def test_mid_stream_error_event_raises(fake: FakeAnthropic) -> None:
    fake.script(None, Behaviour(text="one two three", error_after=1))
    stream = client(fake).messages.create(
        model="claude-a", max_tokens=5, messages=MESSAGES, stream=True
    )
    with pytest.raises(anthropic.APIStatusError) as info:
        list(stream)
    assert "overloaded_error" in str(info.value)
    names = _event_names(fake.requests[-1].response_body)
    assert names[-1] == "error" and "message_stop" not in names


def test_broken_stream_raises(fake: FakeAnthropic) -> None:
    fake.script(None, Behaviour(text="one two three four", break_after=2))
    stream = client(fake).messages.create(
        model="claude-a", max_tokens=5, messages=MESSAGES, stream=True
    )
    # anthropic 2.x lets the transport's error through instead of wrapping it
    with pytest.raises((anthropic.APIConnectionError, httpx2.RemoteProtocolError)):
        list(stream)


def test_data_only_stream_is_what_breaks_the_sdk(fake: FakeAnthropic) -> None:
    fake.script(None, Behaviour(data_only=True))
    stream = client(fake).messages.create(
        model="claude-a", max_tokens=5, messages=MESSAGES, stream=True
    )
    assert list(stream) == []  # client-requirements.md §5.0.6
    assert b"event:" not in fake.requests[-1].response_body


def test_models_list(fake: FakeAnthropic) -> None:
    assert [m.id for m in client(fake).models.list()] == ["claude-a", "claude-b"]
    assert client(fake).models.retrieve("claude-b").id == "claude-b"


def test_missing_anthropic_version_is_refused(fake: FakeAnthropic) -> None:
    response = httpx.post(f"{fake.url}/v1/messages", json={"model": "claude-a"})
    assert response.status_code == 400
    assert response.json()["error"]["type"] == "invalid_request_error"


def test_legacy_complete_json_and_stream(fake: FakeAnthropic) -> None:
    headers = {"anthropic-version": "2023-06-01", "x-api-key": "k"}
    body = {"model": "claude-a", "prompt": "\n\nHuman: hi\n\nAssistant:", "max_tokens_to_sample": 5}
    plain = httpx.post(f"{fake.url}/v1/complete", json=body, headers=headers).json()
    assert plain["type"] == "completion" and plain["completion"] == fake.default.text
    assert plain["stop_reason"] == "stop_sequence"
    streamed = httpx.post(f"{fake.url}/v1/complete", json={**body, "stream": True}, headers=headers)
    datas = [
        json.loads(line[6:]) for line in streamed.text.splitlines() if line.startswith("data: ")
    ]
    pieces = [d for d in datas if d["type"] == "completion"]
    assert "".join(d["completion"] for d in pieces) == fake.default.text
    assert [d["stop_reason"] for d in pieces][-2:] == [None, "stop_sequence"]
    assert "ping" in _event_names(streamed.content)


def test_client_disconnect_is_recorded(fake: FakeAnthropic) -> None:
    fake.script(None, Behaviour(text=" ".join(["w"] * 200), chunk_delay=0.02))
    with httpx.stream(
        "POST",
        f"{fake.url}/v1/messages",
        json={"model": "claude-a", "max_tokens": 5, "messages": MESSAGES, "stream": True},
        headers={"anthropic-version": "2023-06-01"},
    ) as response:
        for _ in response.iter_lines():
            break
    assert fake.wait_until(lambda: fake.requests[-1].done.is_set())
    assert fake.requests[-1].client_disconnected
