"""The official openai SDK reads the translated Responses, streamed and not.

The bytes are served to the SDK as an HTTP response (a mock transport), so the SDK's
own SSE decoder, its pydantic models and its ``responses.stream()`` accumulator, which
raises without ``response.completed`` and checks item identities, judge them.
"""

from __future__ import annotations

import json

import httpx2
import openai
import pytest

from .golden import FIXTURES, HERE, StreamCase, load


def _client(body: bytes, content_type: str = "text/event-stream") -> openai.OpenAI:
    def reply(request: httpx2.Request) -> httpx2.Response:
        assert request.url.path == "/v1/responses"
        return httpx2.Response(200, headers={"content-type": content_type}, content=body)

    http = httpx2.Client(transport=httpx2.MockTransport(reply))
    return openai.OpenAI(api_key="k", base_url="http://gw/v1", http_client=http)


def _stream(case: StreamCase) -> bytes:
    return case.run([case.source()])


def test_sdk_parses_a_translated_response() -> None:
    body = load(HERE / "reply_tools.from_openai.json")["expected"]
    client = _client(json.dumps(body).encode(), "application/json")
    response = client.responses.create(model="deepseek-via-gateway", input="x")
    assert response.id == "resp_0002reply" and response.status == "completed"
    assert response.output_text == "Running both."
    reasoning, _, plain, namespaced = response.output
    assert reasoning.type == "reasoning" and reasoning.content
    assert reasoning.content[0].text == "Two tools are needed."
    assert plain.type == "function_call" and plain.name == "exec_command"
    assert namespaced.type == "function_call"
    assert (namespaced.namespace, namespaced.name) == ("multi_agent_v1", "spawn_agent")
    assert json.loads(namespaced.arguments) == {"task": "Summarise README.md"}
    assert response.usage is not None and response.usage.input_tokens_details.cached_tokens == 1024


def test_sdk_stream_helper_builds_the_final_response_from_an_anthropic_upstream() -> None:
    body = _stream(
        StreamCase("anthropic", FIXTURES / "anthropic_messages" / "stream_thinking_tools.sse")
    )
    with _client(body).responses.stream(model="gpt-5-codex", input="x") as stream:
        deltas = [event.delta for event in stream if event.type == "response.output_text.delta"]
        response = stream.get_final_response()
    assert "".join(deltas) == response.output_text == 'Let me check "Paris".'
    reasoning, message, call = response.output
    assert reasoning.type == "reasoning" and reasoning.encrypted_content
    assert message.type == "message" and message.status == "completed"
    assert call.type == "function_call" and call.call_id == "toolu_01T1x1fJ34qAmk2tNTrN7Up6"
    assert json.loads(call.arguments) == {"city": "Paris"}
    assert response.usage is not None
    assert (response.usage.input_tokens, response.usage.output_tokens) == (2360, 89)


def test_sdk_stream_helper_joins_the_parts_of_a_split_answer() -> None:
    body = _stream(StreamCase("anthropic", HERE / "upstream_citations.anthropic.sse"))
    with _client(body).responses.stream(model="gpt-5-codex", input="x") as stream:
        response = stream.get_final_response()
    assert response.output_text == "It is sunny in New York."
    call = response.output[-1]
    assert call.type == "function_call" and call.namespace == "multi_agent_v1"


def test_sdk_raw_stream_of_an_openai_upstream_ends_with_response_completed() -> None:
    body = _stream(StreamCase("openai", FIXTURES / "openai_chat" / "stream_tools.sse"))
    events = list(_client(body).responses.create(model="gpt-5-codex", input="x", stream=True))
    assert [e.sequence_number for e in events] == list(range(len(events)))
    done = [e.item for e in events if e.type == "response.output_item.done"]
    assert [item.type for item in done] == ["message", "function_call", "function_call"]
    last = events[-1]
    assert last.type == "response.completed"
    assert last.response.output_text == "Checking both cities."
    assert [item.model_dump() for item in last.response.output] == [i.model_dump() for i in done]


def test_sdk_sees_a_truncated_answer_as_incomplete() -> None:
    body = _stream(StreamCase("openai", FIXTURES / "openai_chat" / "stream_deepseek_reasoning.sse"))
    events = list(_client(body).responses.create(model="m", input="x", stream=True))
    last = events[-1]
    assert last.type == "response.incomplete"
    assert last.response.incomplete_details is not None
    assert last.response.incomplete_details.reason == "max_output_tokens"
    assert last.response.output_text == 'Hello, "world"\n'


def test_sdk_sees_an_upstream_failure() -> None:
    body = _stream(StreamCase("anthropic", FIXTURES / "anthropic_messages" / "stream_error.sse"))
    events = list(_client(body).responses.create(model="m", input="x", stream=True))
    failed = events[-1]
    assert failed.type == "response.failed"
    assert failed.response.error is not None and failed.response.error.message == "Overloaded"
    with (
        _client(body).responses.stream(model="m", input="x") as stream,
        pytest.raises(RuntimeError, match="response.completed"),
    ):
        stream.get_final_response()
