"""Prompt caching across dialects: the ``openai`` SDK on an ``anthropic`` channel.

An OpenAI-format caller marks cache breakpoints with Anthropic's ``cache_control`` on its
content parts and tools (as OpenRouter documents). The Anthropic upstream must receive
each mark on the block it was on, and the caller must see the upstream's cache reads and
writes in OpenAI's usage: ``prompt_tokens`` counts every input token, cache reads are
``prompt_tokens_details.cached_tokens`` and cache writes
``prompt_tokens_details.cache_write_tokens`` (the openai SDK's field, where OpenRouter
reports them too; Responses: ``input_tokens_details``), in a
complete answer and in a stream's final usage chunk. The bill prices reads at the cached
input price and writes at the cache write price. Both databases.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.fakes.anthropic_upstream import Behaviour, FakeAnthropic
from tests.harness import Gateway
from tests.integration.test_anthropic_routes import anthropic_model
from tests.integration.test_money import books

EPHEMERAL: Any = {"type": "ephemeral"}
HOUR: Any = {"type": "ephemeral", "ttl": "1h"}
DOCUMENT = "<a long reference document> " * 20
MESSAGES: Any = [
    {
        "role": "system",
        "content": [
            {"type": "text", "text": "You answer from the document."},
            {"type": "text", "text": DOCUMENT, "cache_control": HOUR},
        ],
    },
    {"role": "user", "content": "What is the weather in Paris?"},
    {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {
                "id": "call_1",
                "type": "function",
                "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
            }
        ],
    },
    {
        "role": "tool",
        "tool_call_id": "call_1",
        "content": [{"type": "text", "text": "sunny, 24 C", "cache_control": EPHEMERAL}],
    },
    {
        "role": "user",
        "content": [
            {"type": "text", "text": "And tomorrow?", "cache_control": EPHEMERAL},
        ],
    },
]
TOOLS: Any = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "The weather in a city.",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
        },
        "cache_control": EPHEMERAL,
    }
]
# Anthropic's counts: input_tokens excludes cache reads and writes.
CACHED = Behaviour(
    text="Rain.",
    input_tokens=100,
    output_tokens=20,
    cache_read_input_tokens=1000,
    cache_creation_input_tokens=200,
)
PRICES: Any = {
    "input": "3.00",
    "output": "15.00",
    "cached_input": "0.30",
    "cache_write": "3.75",
}
# 100 x 3 + 1000 x 0.30 + 200 x 3.75 + 20 x 15, per million tokens, in micro-units
COST = 300 + 300 + 750 + 300


@pytest.fixture
def fake_anthropic() -> Iterator[FakeAnthropic]:
    with FakeAnthropic() as fake:
        yield fake


def _assert_marks_sent(body: dict[str, Any]) -> None:
    assert body["tools"][0]["cache_control"] == EPHEMERAL
    assert body["system"] == [
        {"type": "text", "text": "You answer from the document."},
        {"type": "text", "text": DOCUMENT, "cache_control": HOUR},
    ]
    user, assistant, results = body["messages"]
    assert "cache_control" not in user["content"][0]
    assert assistant["content"][0]["type"] == "tool_use"
    assert "cache_control" not in assistant["content"][0]
    tool_result, question = results["content"]
    assert tool_result["type"] == "tool_result" and tool_result["content"] == "sunny, 24 C"
    assert tool_result["cache_control"] == EPHEMERAL
    assert question == {"type": "text", "text": "And tomorrow?", "cache_control": EPHEMERAL}


def _assert_billed(gateway: Gateway, request_id: str, user_id: int) -> None:
    record = gateway.wait_for_usage(request_id)
    assert (record["prompt_tokens"], record["completion_tokens"]) == (1300, 20)
    assert record["cached_tokens"] == 1000 and record["usage_estimated"] is False
    assert record["official_cost"] == COST
    assert record["amount"] == COST  # the plain route: no multiplier
    books(gateway, user_id)


def test_chat_marks_reach_anthropic_and_cache_usage_comes_back(
    gateway: Gateway, fake_anthropic: FakeAnthropic
) -> None:
    model = anthropic_model(gateway, fake_anthropic, **PRICES)
    key = gateway.make_user_key()
    fake_anthropic.script(model, CACHED)
    raw = gateway.openai(key.key).chat.completions.with_raw_response.create(
        model=model, messages=MESSAGES, tools=TOOLS, max_tokens=64
    )
    completion = raw.parse()
    assert completion.choices[0].message.content == "Rain."
    usage = completion.usage
    assert usage is not None and usage.prompt_tokens_details is not None
    # OpenAI counts cached prompt tokens in prompt_tokens: 100 + 1000 read + 200 written
    assert (usage.prompt_tokens, usage.completion_tokens, usage.total_tokens) == (1300, 20, 1320)
    assert usage.prompt_tokens_details.cached_tokens == 1000
    assert usage.prompt_tokens_details.cache_write_tokens == 200

    [sent] = fake_anthropic.requests
    _assert_marks_sent(sent.body)
    _assert_billed(gateway, raw.headers["x-request-id"], key.user_id)


def test_chat_stream_reports_cache_usage_in_the_final_chunk(
    gateway: Gateway, fake_anthropic: FakeAnthropic
) -> None:
    model = anthropic_model(gateway, fake_anthropic, **PRICES)
    key = gateway.make_user_key()
    fake_anthropic.script(model, CACHED)
    raw = gateway.openai(key.key).chat.completions.with_raw_response.create(
        model=model,
        messages=MESSAGES,
        tools=TOOLS,
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(raw.parse())
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "Rain."
    last = chunks[-1]
    assert last.choices == [] and last.usage is not None
    assert (last.usage.prompt_tokens, last.usage.completion_tokens) == (1300, 20)
    details = last.usage.prompt_tokens_details
    assert details is not None and details.cached_tokens == 1000
    assert details.cache_write_tokens == 200

    [sent] = fake_anthropic.requests
    assert sent.body["stream"] is True
    _assert_marks_sent(sent.body)
    _assert_billed(gateway, raw.headers["x-request-id"], key.user_id)


@pytest.mark.parametrize("stream", [False, True])
def test_responses_marks_reach_anthropic_and_cache_usage_comes_back(
    gateway: Gateway, fake_anthropic: FakeAnthropic, stream: bool
) -> None:
    model = anthropic_model(gateway, fake_anthropic, **PRICES)
    key = gateway.make_user_key()
    fake_anthropic.script(model, CACHED)
    parts: Any = [
        {"type": "input_text", "text": DOCUMENT, "cache_control": HOUR},
        {"type": "input_text", "text": "Summarise it."},
    ]
    tool: Any = {
        "type": "function",
        "name": "lookup",
        "parameters": {"type": "object", "properties": {}},
        "strict": False,
        "cache_control": EPHEMERAL,
    }
    client = gateway.openai(key.key).responses.with_raw_response
    raw = client.create(
        model=model, input=[{"role": "user", "content": parts}], tools=[tool], stream=stream
    )
    if stream:
        events = list(raw.parse())
        completed = [e for e in events if e.type == "response.completed"]
        assert len(completed) == 1
        response = completed[0].response
    else:
        response = raw.parse()
    assert response.output_text == "Rain."
    usage = response.usage
    assert usage is not None
    assert (usage.input_tokens, usage.output_tokens) == (1300, 20)
    assert usage.input_tokens_details.cached_tokens == 1000
    assert usage.input_tokens_details.cache_write_tokens == 200

    [sent] = fake_anthropic.requests
    assert sent.body["tools"][0]["cache_control"] == EPHEMERAL
    assert sent.body["messages"][0]["content"] == [
        {"type": "text", "text": DOCUMENT, "cache_control": HOUR},
        {"type": "text", "text": "Summarise it."},
    ]
    _assert_billed(gateway, raw.headers["x-request-id"], key.user_id)
