"""A translated stream says what a native one says, event for event, and what the
non-streamed translation of the same answer says.

For each direction (a Chat Completions upstream to an Anthropic caller, an Anthropic
upstream to a Chat Completions caller, both upstreams to a Responses caller) and each
answer shape (plain text, a stop sequence, two parallel tool calls, reasoning, the
output limit, ``include_usage`` on and off), the same upstream answer is asked for
twice through the real gateway: streamed and whole. The streamed bytes are walked event
by event against the spec extract (tests/spec/stream-events.json, via the spec checks
of tests/unit/) and read by the official SDK's own stream helper; the message that
helper accumulates must equal the SDK's reading of the whole answer.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import anthropic
import httpx2
import openai
import pytest

from tests.fakes.anthropic_upstream import Behaviour, FakeAnthropic
from tests.fakes.openai_upstream import Behaviour as OpenAIBehaviour
from tests.fakes.openai_upstream import FakeOpenAI
from tests.harness import Gateway
from tests.integration.answer_shapes import ChatAnswer, ToolCallAnswer
from tests.integration.test_anthropic_routes import anthropic_model, openai_model
from tests.unit.relay.dialects.openai_responses.spec_check import check_responses
from tests.unit.relay.dialects.spec_check import check_anthropic, check_openai

ASK = "What is the weather in Paris and in Tokyo? Answer briefly, please."
WEATHER = {
    "name": "get_weather",
    "description": "The weather in a city.",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}},
}
OPENAI_WEATHER = {
    "type": "function",
    "function": {"name": "get_weather", "description": WEATHER["description"],
                 "parameters": WEATHER["input_schema"]},
}  # fmt: skip
RESPONSES_WEATHER = {"type": "function", "name": "get_weather",
                     "description": WEATHER["description"],
                     "parameters": WEATHER["input_schema"]}  # fmt: skip


@pytest.fixture
def fake_anthropic() -> Iterator[FakeAnthropic]:
    with FakeAnthropic() as server:
        yield server


def _serving(body: bytes) -> httpx2.Client:
    """An HTTP client whose every answer is ``body``: the SDK reads the gateway's bytes."""

    def reply(_request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(200, headers={"content-type": "text/event-stream"}, content=body)

    return httpx2.Client(transport=httpx2.MockTransport(reply))


def _streamed(gw: Gateway, key: str, path: str, body: dict[str, Any]) -> bytes:
    headers = {"x-api-key": key, "anthropic-version": "2023-06-01"}
    with gw.http(key) as http:
        response = http.post(path, json={**body, "stream": True}, headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/event-stream")
    return response.content


# ------------------------------------------------ Chat Completions upstream -> Anthropic

PARALLEL = [
    # a Kimi-style id: Anthropic accepts only [a-zA-Z0-9_-] in tool ids
    ToolCallAnswer("functions.get_weather:0", "get_weather", '{"city": "Paris"}'),
    ToolCallAnswer("call_Tokyo02", "get_weather", '{"city": "Tōkyō"}', fragments=4),
]
CHAT_SHAPES = {
    "plain": ChatAnswer(text="Sunny in both, 24 C and 18 C."),
    "stop_sequence": ChatAnswer(text="Sunny in Paris", finish_reason="stop"),
    "parallel_tools": ChatAnswer(
        text="Checking both cities.", tool_calls=PARALLEL, finish_reason="tool_calls"
    ),
    # some servers interleave the fragments of parallel calls
    "interleaved_tools": ChatAnswer(
        tool_calls=PARALLEL, finish_reason="tool_calls", interleave=True
    ),
    "reasoning": ChatAnswer(
        reasoning="The user wants two cities.", text="Both sunny.", cached_tokens=16
    ),
    "max_tokens": ChatAnswer(text="Paris is sunny and Tokyo is", finish_reason="length"),
}


def _anthropic_request(model: str, shape: str) -> dict[str, Any]:
    body: dict[str, Any] = {
        "model": model,
        "max_tokens": 12 if shape == "max_tokens" else 300,
        "messages": [{"role": "user", "content": ASK}],
        "tools": [WEATHER],
    }
    if shape == "stop_sequence":
        body["stop_sequences"] = ["\n\n"]
    return body


@pytest.mark.parametrize("shape", sorted(CHAT_SHAPES))
def test_chat_upstream_to_anthropic_client(
    sqlite_gateway: Gateway, fake: FakeOpenAI, shape: str
) -> None:
    gw, answer = sqlite_gateway, CHAT_SHAPES[shape]
    model = openai_model(gw, fake)
    key = gw.make_user_key().key
    fake.script(model, OpenAIBehaviour(raw_body=answer.stream()),
                OpenAIBehaviour(raw_body=answer.whole()))  # fmt: skip
    request = _anthropic_request(model, shape)

    raw = _streamed(gw, key, "/v1/messages", request)
    events = check_anthropic(raw)
    start = events[0]["message"]
    assert start["usage"]["input_tokens"] > 0, "the local estimate, until the upstream counts"
    delta = next(e for e in events if e["type"] == "message_delta")
    assert delta["usage"]["input_tokens"] == answer.prompt_tokens - answer.cached_tokens

    sdk = anthropic.Anthropic(api_key=key, base_url="http://gw", http_client=_serving(raw))
    with sdk.messages.stream(**request) as stream:
        streamed = stream.get_final_message()
    whole = anthropic.Anthropic(api_key=key, base_url=gw.url, max_retries=0).messages.create(
        **request
    )
    assert streamed.model_dump() == whole.model_dump()
    assert streamed.model == model and streamed.id.startswith("msg_")
    if shape.endswith("_tools"):
        calls = [b for b in streamed.content if b.type == "tool_use"]
        assert [(c.id, c.input) for c in calls] == [
            ("functions_get_weather_0", {"city": "Paris"}),
            ("call_Tokyo02", {"city": "Tōkyō"}),
        ]
        starts = [e for e in events if e["type"] == "content_block_start"]
        assert [e["index"] for e in starts] == list(range(len(streamed.content)))


# ------------------------------------------------ Anthropic upstream -> Chat Completions

ANTHROPIC_SHAPES = {
    "plain": Behaviour(text="Sunny in both, 24 C and 18 C.", input_tokens=30, output_tokens=9),
    "stop_sequence": Behaviour(text="Sunny in Paris", stop_reason="stop_sequence",
                               stop_sequence="\n\n", input_tokens=30, output_tokens=4),
    "parallel_tools": Behaviour(
        text="Checking both cities.",
        tool_uses=[{"id": "toolu_Paris01", "name": "get_weather", "input": {"city": "Paris"}},
                   {"id": "toolu_Tokyo02", "name": "get_weather", "input": {"city": "Tōkyō"}}],
        input_tokens=40, output_tokens=30, cache_read_input_tokens=100),
    "thinking": Behaviour(thinking="The user wants two cities.", text="Both sunny.",
                          input_tokens=30, output_tokens=20),
    "max_tokens": Behaviour(text="Paris is sunny and Tokyo is", stop_reason="max_tokens",
                            input_tokens=30, output_tokens=12),
}  # fmt: skip


def _chat_message(completion: Any) -> dict[str, Any]:
    """What a caller reads of a completion: the message, the finish reason, the model."""
    [choice] = completion.choices
    message = choice.message.model_dump(exclude_none=True)
    message.pop("parsed", None)  # the stream helper's own additions
    for call in message.get("tool_calls", []):
        call.pop("index", None)
        # the same JSON (the upstream wrote the streamed and the whole one differently)
        call["function"]["arguments"] = json.loads(call["function"]["arguments"])
    return {"message": message, "finish_reason": choice.finish_reason,
            "model": completion.model, "object": completion.object}  # fmt: skip


@pytest.mark.parametrize("include_usage", [True, False])
@pytest.mark.parametrize("shape", sorted(ANTHROPIC_SHAPES))
def test_anthropic_upstream_to_chat_client(
    sqlite_gateway: Gateway, fake_anthropic: FakeAnthropic, shape: str, include_usage: bool
) -> None:
    gw, behaviour = sqlite_gateway, ANTHROPIC_SHAPES[shape]
    model = anthropic_model(gw, fake_anthropic)
    key = gw.make_user_key().key
    fake_anthropic.script(model, behaviour, behaviour)
    request: dict[str, Any] = {
        "model": model,
        "max_tokens": 12 if shape == "max_tokens" else 300,
        "messages": [{"role": "user", "content": ASK}],
        "tools": [OPENAI_WEATHER],
    }
    if shape == "stop_sequence":
        request["stop"] = ["\n\n"]
    options = {"stream_options": {"include_usage": True}} if include_usage else {}

    raw = _streamed(gw, key, "/v1/chat/completions", {**request, **options})
    chunks = check_openai(raw, include_usage=include_usage)
    assert len({(c["id"], c["created"], c["model"]) for c in chunks}) == 1
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    assert all("role" not in c["choices"][0]["delta"] for c in chunks[1:] if c["choices"])
    if include_usage:
        assert all("usage" in c and c["usage"] is None for c in chunks[:-1])
    else:
        assert all("usage" not in c for c in chunks)
    calls = [
        t for c in chunks if c["choices"] for t in c["choices"][0]["delta"].get("tool_calls", [])
    ]
    heads = [(t["index"], t["id"]) for t in calls if "id" in t]
    assert heads == [(k, tool["id"]) for k, tool in enumerate(behaviour.tools())]
    assert {t["index"] for t in calls} == {k for k, _ in heads}

    sdk = openai.OpenAI(api_key=key, base_url="http://gw/v1", http_client=_serving(raw))
    with sdk.chat.completions.stream(**request, **options) as stream:
        try:
            streamed = stream.get_final_completion()
        except openai.LengthFinishReasonError as cut:  # the helper's verdict on "length"
            streamed = cut.completion
    whole = gw.openai(key).chat.completions.create(**request)
    assert _chat_message(streamed) == _chat_message(whole)
    assert streamed.id == streamed.id and streamed.id.startswith("chatcmpl-")
    if include_usage:
        assert streamed.usage is not None and whole.usage is not None
        assert streamed.usage.model_dump() == whole.usage.model_dump()
    else:
        assert streamed.usage is None


# ------------------------------------------------ both upstreams -> Responses


def _responses_request(model: str, shape: str) -> dict[str, Any]:
    return {
        "model": model,
        "input": ASK,
        "tools": [RESPONSES_WEATHER],
        "max_output_tokens": 12 if shape == "max_tokens" else 300,
        "store": False,
    }


def _reading(response: Any) -> dict[str, Any]:
    """A Response as a caller reads it: its items without their generated ids."""
    dumped = response.model_dump(exclude_none=True)
    for item in dumped["output"]:
        item.pop("id", None)
        if item["type"] == "function_call":  # the same JSON, however the upstream wrote it
            item["arguments"] = json.loads(item["arguments"])
    for key in ("id", "created_at", "completed_at"):
        dumped.pop(key, None)
    return dumped


def _check_responses_stream(raw: bytes, request: dict[str, Any], whole: Any, key: str) -> None:
    events = check_responses(raw)
    terminal = events[-1]["response"]
    if terminal["status"] == "completed":
        sdk = openai.OpenAI(api_key=key, base_url="http://gw/v1", http_client=_serving(raw))
        with sdk.responses.stream(**request) as stream:
            streamed = stream.get_final_response()
        assert _reading(streamed) == _reading(whole)
    else:  # the SDK's helper accepts only response.completed as an end
        assert terminal["status"] == whole.status == "incomplete"
        assert terminal["incomplete_details"] == whole.incomplete_details.model_dump()
        assert terminal["usage"] == whole.usage.model_dump(exclude_none=True)
        assert [i["type"] for i in terminal["output"]] == [i.type for i in whole.output]


@pytest.mark.parametrize("shape", sorted(CHAT_SHAPES))
def test_chat_upstream_to_responses_client(
    sqlite_gateway: Gateway, fake: FakeOpenAI, shape: str
) -> None:
    gw, answer = sqlite_gateway, CHAT_SHAPES[shape]
    model = openai_model(gw, fake)
    key = gw.make_user_key().key
    fake.script(model, OpenAIBehaviour(raw_body=answer.stream()),
                OpenAIBehaviour(raw_body=answer.whole()))  # fmt: skip
    request = _responses_request(model, shape)
    raw = _streamed(gw, key, "/v1/responses", request)
    whole = gw.openai(key).responses.create(**request)
    _check_responses_stream(raw, request, whole, key)


@pytest.mark.parametrize("shape", sorted(ANTHROPIC_SHAPES))
def test_anthropic_upstream_to_responses_client(
    sqlite_gateway: Gateway, fake_anthropic: FakeAnthropic, shape: str
) -> None:
    gw, behaviour = sqlite_gateway, ANTHROPIC_SHAPES[shape]
    model = anthropic_model(gw, fake_anthropic)
    key = gw.make_user_key().key
    fake_anthropic.script(model, behaviour, behaviour)
    request = _responses_request(model, shape)
    raw = _streamed(gw, key, "/v1/responses", request)
    whole = gw.openai(key).responses.create(**request)
    _check_responses_stream(raw, request, whole, key)


def test_the_shapes_are_what_a_native_upstream_sends() -> None:
    """The scripted Chat Completions answers pass the same spec check as the gateway's."""
    for answer in CHAT_SHAPES.values():
        check_openai(answer.stream(), include_usage=True)
        assert json.loads(answer.whole())["choices"][0]["finish_reason"] == answer.finish_reason
