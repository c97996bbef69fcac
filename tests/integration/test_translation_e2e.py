"""Both official SDKs across the dialect boundary, and the Anthropic route's refusals.

* The ``anthropic`` SDK on an OpenAI-compatible channel: a whole tool-use round trip
  (the model's call, then the caller's ``tool_result``), non-streaming and streaming.
* The ``openai`` SDK on an ``anthropic`` channel: plain, streamed with the final usage
  chunk, a streamed tool call round trip and a base64 image.
* What an Anthropic caller is told when the gateway refuses (429 with
  ``anthropic-ratelimit-*`` and ``retry-after``, 402 ``billing_error``) or the translated
  upstream does (its 400, in Anthropic's error shape).

Every test checks what the upstream received as well as what the SDK returned, and the
bill; both databases.
"""

from __future__ import annotations

import base64
import json
import re
import time
from collections.abc import Iterator
from typing import Any

import anthropic
import openai
import pytest

from tests.fakes.anthropic_upstream import Behaviour, FakeAnthropic
from tests.fakes.openai_upstream import Behaviour as OpenAIBehaviour
from tests.fakes.openai_upstream import FakeOpenAI
from tests.harness import Gateway
from tests.integration.test_anthropic_routes import anthropic_model, client, openai_model
from tests.integration.test_money import START, books, funded_key, wallet

WEATHER_TOOL: Any = {
    "name": "get_weather",
    "description": "The weather in a city.",
    "input_schema": {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
    },
}
OPENAI_WEATHER_TOOL: Any = {
    "type": "function",
    "function": {
        "name": WEATHER_TOOL["name"],
        "description": WEATHER_TOOL["description"],
        "parameters": WEATHER_TOOL["input_schema"],
    },
}
ASK: Any = {"role": "user", "content": "What is the weather in Paris?"}
# ASK as the translation renders it for Anthropic: content always as a list of blocks.
ASK_BLOCKS: Any = {"role": "user", "content": [{"type": "text", "text": ASK["content"]}]}
RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
# A 1x1 transparent PNG.
PNG = base64.b64encode(
    bytes.fromhex(
        "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
        "1f15c4890000000d49444154789c6360000002000105fe02fea70000000049454e44ae426082"
    )
).decode()


@pytest.fixture
def fake_anthropic() -> Iterator[FakeAnthropic]:
    with FakeAnthropic() as fake:
        yield fake


def _records(gw: Gateway, user_id: int, count: int) -> list[dict[str, Any]]:
    """The user's usage records, oldest first, once ``count`` of them are written.

    A refused or failed call's record is written after its answer went out, so poll for
    all of them rather than read once.
    """
    deadline = time.monotonic() + 10
    records = gw.usage(user_id=user_id)
    while len(records) < count and time.monotonic() < deadline:
        time.sleep(0.05)
        records = gw.usage(user_id=user_id)
    assert len(records) == count, records
    return records[::-1]  # the operator API lists the newest first


def _openai_tool_call_chunks(call_id: str, name: str, arguments: str) -> list[dict[str, Any]]:
    """An OpenAI streamed tool call: id and name first, then the arguments in 3 pieces."""
    third = -(-len(arguments) // 3)
    pieces = [arguments[i : i + third] for i in range(0, len(arguments), third)]
    head = {"index": 0, "id": call_id, "type": "function",
            "function": {"name": name, "arguments": ""}}  # fmt: skip
    return [head, *({"index": 0, "function": {"arguments": p}} for p in pieces)]


# ------------------------------------------------- anthropic SDK on an OpenAI channel


def _assert_tool_turn_sent(sent: dict[str, Any], call_id: str, result: str) -> None:
    """The second turn reached the OpenAI upstream as an assistant tool call followed by
    a ``role: tool`` message carrying the caller's tool_result."""
    messages = sent["messages"]
    assert messages[0] == {"role": "user", "content": ASK["content"]}
    assistant = messages[1]
    assert assistant["role"] == "assistant"
    [call] = assistant["tool_calls"]
    assert (call["id"], call["type"], call["function"]["name"]) == (
        call_id,
        "function",
        "get_weather",
    )
    assert json.loads(call["function"]["arguments"]) == {"city": "Paris"}
    assert messages[2] == {"role": "tool", "tool_call_id": call_id, "content": result}
    assert len(messages) == 3
    assert sent["tools"] == [OPENAI_WEATHER_TOOL]


def test_anthropic_sdk_tool_round_trip_on_openai_channel(
    gateway: Gateway, fake: FakeOpenAI
) -> None:
    model = openai_model(gateway, fake, input="1.00", output="4.00")
    key = gateway.make_user_key()
    call = {"id": "call_w1", "type": "function",
            "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'}}  # fmt: skip
    fake.script(
        model,
        OpenAIBehaviour(tool_calls=[call], prompt_tokens=100, completion_tokens=20),
        OpenAIBehaviour(text="Sunny, 24 C in Paris.", prompt_tokens=150, completion_tokens=10),
    )
    sdk = client(gateway, key.key)
    first = sdk.messages.create(
        model=model,
        max_tokens=300,
        tools=[WEATHER_TOOL],
        messages=[ASK],
    )
    assert first.stop_reason == "tool_use"
    [use] = [block for block in first.content if block.type == "tool_use"]
    assert (use.id, use.name, use.input) == ("call_w1", "get_weather", {"city": "Paris"})
    assert (first.usage.input_tokens, first.usage.output_tokens) == (100, 20)
    sent = fake.requests[0].body
    assert sent["tools"] == [OPENAI_WEATHER_TOOL] and sent["max_tokens"] == 300
    assert sent["stream"] is False

    second = sdk.messages.create(
        model=model,
        max_tokens=300,
        tools=[WEATHER_TOOL],
        messages=[
            ASK,
            {"role": "assistant", "content": first.content},
            {
                "role": "user",
                "content": [
                    {"type": "tool_result", "tool_use_id": use.id, "content": "sunny, 24 C"}
                ],
            },
        ],  # fmt: skip
    )
    assert [b.text for b in second.content if b.type == "text"] == ["Sunny, 24 C in Paris."]
    assert second.stop_reason == "end_turn"
    assert len(fake.requests) == 2
    _assert_tool_turn_sent(fake.requests[1].body, "call_w1", "sunny, 24 C")

    records = _records(gateway, key.user_id, 2)
    assert [r["official_cost"] for r in records] == [100 + 80, 150 + 40]
    assert [(r["status"], r["stream"]) for r in records] == [(200, False)] * 2
    assert wallet(gateway, key.user_id) == (START - 180 - 190, 0)


def test_anthropic_sdk_streamed_tool_round_trip_on_openai_channel(
    gateway: Gateway, fake: FakeOpenAI
) -> None:
    model = openai_model(gateway, fake, input="1.00", output="4.00")
    key = gateway.make_user_key()
    chunks = _openai_tool_call_chunks("call_w2", "get_weather", '{"city": "Paris"}')
    fake.script(
        model,
        OpenAIBehaviour(tool_calls=chunks, prompt_tokens=100, completion_tokens=20),
        OpenAIBehaviour(text="Sunny, 24 C in Paris.", prompt_tokens=150, completion_tokens=10),
    )
    sdk = client(gateway, key.key)
    with sdk.messages.stream(
        model=model,
        max_tokens=300,
        tools=[WEATHER_TOOL],
        messages=[ASK],
    ) as stream:
        events = list(stream)
        first = stream.get_final_message()
    partial = [
        e.delta.partial_json
        for e in events
        if e.type == "content_block_delta" and e.delta.type == "input_json_delta"
    ]
    assert len(partial) >= 2, partial  # the arguments arrive as they came, in pieces
    assert json.loads("".join(partial)) == {"city": "Paris"}
    assert first.stop_reason == "tool_use"
    [use] = [block for block in first.content if block.type == "tool_use"]
    assert (use.id, use.name, use.input) == ("call_w2", "get_weather", {"city": "Paris"})
    assert first.usage.output_tokens == 20
    assert fake.requests[0].body["stream_options"] == {"include_usage": True}

    with sdk.messages.stream(
        model=model,
        max_tokens=300,
        tools=[WEATHER_TOOL],
        messages=[
            ASK,
            {"role": "assistant", "content": first.content},
            {
                "role": "user",
                "content": [
                    {
                        "type": "tool_result",
                        "tool_use_id": use.id,
                        "content": [{"type": "text", "text": "sunny, 24 C"}],
                    }
                ],
            },
        ],  # fmt: skip
    ) as stream:
        text = "".join(stream.text_stream)
        second = stream.get_final_message()
    assert text == "Sunny, 24 C in Paris." and second.stop_reason == "end_turn"
    assert len(fake.requests) == 2
    _assert_tool_turn_sent(fake.requests[1].body, "call_w2", "sunny, 24 C")

    records = _records(gateway, key.user_id, 2)
    assert [(r["prompt_tokens"], r["completion_tokens"]) for r in records] == [
        (100, 20),
        (150, 10),
    ]
    assert [(r["status"], r["stream"], r["usage_estimated"]) for r in records] == [
        (200, True, False)
    ] * 2
    assert [r["official_cost"] for r in records] == [180, 190]
    books(gateway, key.user_id)


# ------------------------------------------------- openai SDK on an Anthropic channel


def test_openai_sdk_on_anthropic_channel(gateway: Gateway, fake_anthropic: FakeAnthropic) -> None:
    model = anthropic_model(gateway, fake_anthropic, input="3.00", output="15.00")
    key = gateway.make_user_key()
    fake_anthropic.script(
        model, Behaviour(text="Bonjour from Claude.", input_tokens=30, output_tokens=6)
    )
    completion = gateway.openai(key.key).chat.completions.create(
        model=model,
        messages=[{"role": "system", "content": "Answer in French."}, ASK],
        max_tokens=64,
    )
    assert completion.object == "chat.completion" and completion.model == model
    [choice] = completion.choices
    assert choice.message.content == "Bonjour from Claude."
    assert choice.message.role == "assistant" and choice.finish_reason == "stop"
    assert completion.usage is not None
    assert (completion.usage.prompt_tokens, completion.usage.completion_tokens) == (30, 6)

    [sent] = fake_anthropic.requests
    assert sent.path == "/v1/messages" and sent.header("anthropic-version")
    assert sent.header("x-api-key") not in (None, key.key)
    assert sent.body["system"] == [{"type": "text", "text": "Answer in French."}]
    assert sent.body["messages"] == [ASK_BLOCKS]
    assert sent.body["max_tokens"] == 64 and not sent.body.get("stream")

    [record] = _records(gateway, key.user_id, 1)
    assert record["official_cost"] == 30 * 3 + 6 * 15
    assert record["amount"] == 180  # the plain route: no route multiplier
    books(gateway, key.user_id)


def test_openai_sdk_stream_with_include_usage_on_anthropic_channel(
    gateway: Gateway, fake_anthropic: FakeAnthropic
) -> None:
    model = anthropic_model(gateway, fake_anthropic, input="3.00", output="15.00")
    key = gateway.make_user_key()
    fake_anthropic.script(
        model,
        Behaviour(
            text="one two three four",
            input_tokens=40,
            output_tokens=8,
            cache_read_input_tokens=100,
        ),
    )
    stream = gateway.openai(key.key).chat.completions.create(
        model=model, messages=[ASK], stream=True, stream_options={"include_usage": True}
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "one two three four"
    content_chunks = [c for c in chunks if c.choices and c.choices[0].delta.content]
    assert len(content_chunks) == 4  # streamed as the upstream sent it, not buffered
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices]
    assert finishes[-1] == "stop" and set(finishes[:-1]) == {None}
    *body, last = chunks
    assert last.choices == [] and last.usage is not None  # the final usage chunk
    assert all(c.usage is None for c in body)
    # Anthropic's input_tokens excludes the cache reads; OpenAI's prompt_tokens includes them.
    assert (last.usage.prompt_tokens, last.usage.completion_tokens) == (140, 8)
    assert last.usage.prompt_tokens_details is not None
    assert last.usage.prompt_tokens_details.cached_tokens == 100
    assert len({c.id for c in chunks}) == 1

    [sent] = fake_anthropic.requests
    assert sent.body["stream"] is True and "stream_options" not in sent.body
    [record] = _records(gateway, key.user_id, 1)
    assert (record["prompt_tokens"], record["completion_tokens"]) == (140, 8)
    assert record["cached_tokens"] == 100 and record["usage_estimated"] is False
    books(gateway, key.user_id)


def test_openai_sdk_streamed_tool_round_trip_on_anthropic_channel(
    gateway: Gateway, fake_anthropic: FakeAnthropic
) -> None:
    model = anthropic_model(gateway, fake_anthropic)
    key = gateway.make_user_key()
    fake_anthropic.script(
        model,
        Behaviour(
            text="",
            tool_uses=[{"id": "toolu_w3", "name": "get_weather", "input": {"city": "Paris"}}],
            json_fragments=4,
            input_tokens=50,
            output_tokens=15,
        ),
        Behaviour(text="Sunny, 24 C in Paris.", input_tokens=80, output_tokens=9),
    )
    sdk = gateway.openai(key.key)
    chunks = list(
        sdk.chat.completions.create(
            model=model,
            messages=[ASK],
            tools=[OPENAI_WEATHER_TOOL],
            stream=True,
        )
    )
    deltas = [
        call
        for c in chunks
        if c.choices and c.choices[0].delta.tool_calls
        for call in c.choices[0].delta.tool_calls
    ]
    assert deltas[0].id == "toolu_w3" and deltas[0].function is not None
    assert deltas[0].function.name == "get_weather"
    assert {d.index for d in deltas} == {0}
    pieces = [d.function.arguments for d in deltas if d.function and d.function.arguments]
    assert len(pieces) >= 2, pieces  # the arguments stream in fragments
    arguments = "".join(pieces)
    assert json.loads(arguments) == {"city": "Paris"}
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "tool_calls"
    sent = fake_anthropic.requests[0].body
    assert sent["tools"] == [WEATHER_TOOL] and sent["stream"] is True

    second = sdk.chat.completions.create(
        model=model,
        tools=[OPENAI_WEATHER_TOOL],
        messages=[
            ASK,
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "toolu_w3",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": arguments},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": "toolu_w3", "content": "sunny, 24 C"},
        ],  # fmt: skip
    )
    assert second.choices[0].message.content == "Sunny, 24 C in Paris."
    assert len(fake_anthropic.requests) == 2
    messages = fake_anthropic.requests[1].body["messages"]
    assert messages[0] == ASK_BLOCKS
    assert messages[1]["role"] == "assistant"
    assert [b for b in messages[1]["content"] if b["type"] == "tool_use"] == [
        {"type": "tool_use", "id": "toolu_w3", "name": "get_weather", "input": {"city": "Paris"}}
    ]
    assert messages[2]["role"] == "user"
    [result] = messages[2]["content"]
    assert result["type"] == "tool_result" and result["tool_use_id"] == "toolu_w3"
    assert result["content"] in ("sunny, 24 C", [{"type": "text", "text": "sunny, 24 C"}])
    assert len(messages) == 3

    records = _records(gateway, key.user_id, 2)
    assert [(r["prompt_tokens"], r["completion_tokens"], r["stream"]) for r in records] == [
        (50, 15, True),
        (80, 9, False),
    ]
    books(gateway, key.user_id)


def test_openai_sdk_base64_image_reaches_anthropic_as_an_image_block(
    gateway: Gateway, fake_anthropic: FakeAnthropic
) -> None:
    model = anthropic_model(gateway, fake_anthropic)
    key = gateway.make_user_key()
    fake_anthropic.script(model, Behaviour(text="A transparent pixel."))
    completion = gateway.openai(key.key).chat.completions.create(
        model=model,
        messages=[
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "What is in this image?"},
                    {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}},
                ],
            }
        ],
    )
    assert completion.choices[0].message.content == "A transparent pixel."
    [sent] = fake_anthropic.requests
    assert sent.body["messages"] == [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "What is in this image?"},
                {
                    "type": "image",
                    "source": {"type": "base64", "media_type": "image/png", "data": PNG},
                },
            ],
        }
    ]
    assert isinstance(sent.body["max_tokens"], int) and sent.body["max_tokens"] > 0


# ----------------------------------------------- refusals, in Anthropic's shape


def _assert_anthropic_error(body: Any, error_type: str) -> str:
    assert isinstance(body, dict) and body["type"] == "error", body
    assert set(body) <= {"type", "error", "request_id"}, body
    assert body["error"]["type"] == error_type, body
    message = body["error"]["message"]
    assert isinstance(message, str) and message
    return str(message)


def test_anthropic_ratelimit_headers_and_the_429(
    gateway: Gateway, fake_anthropic: FakeAnthropic
) -> None:
    model = anthropic_model(gateway, fake_anthropic)
    key = gateway.make_user_key(rpm_limit=1)
    sdk = client(gateway, key.key)
    ok = sdk.messages.with_raw_response.create(model=model, max_tokens=20, messages=[ASK])
    assert ok.parse().content[0].type == "text"
    assert ok.headers["anthropic-ratelimit-requests-limit"] == "1"
    assert ok.headers["anthropic-ratelimit-requests-remaining"] == "0"
    assert RFC3339.match(ok.headers["anthropic-ratelimit-requests-reset"])
    assert "x-ratelimit-limit-requests" not in ok.headers  # the OpenAI names are not used
    assert "retry-after" not in ok.headers

    with pytest.raises(anthropic.RateLimitError) as refused:
        sdk.messages.create(model=model, max_tokens=20, messages=[ASK])
    response = refused.value.response
    assert response.status_code == 429
    assert int(response.headers["retry-after"]) >= 1
    assert response.headers["anthropic-ratelimit-requests-limit"] == "1"
    assert response.headers["anthropic-ratelimit-requests-remaining"] == "0"
    assert RFC3339.match(response.headers["anthropic-ratelimit-requests-reset"])
    assert response.headers["request-id"]
    message = _assert_anthropic_error(refused.value.body, "rate_limit_error")
    assert "requests per minute" in message
    assert response.json()["request_id"] == response.headers["request-id"]
    assert len(fake_anthropic.requests) == 1  # the refused call never left the gateway

    served, limited = _records(gateway, key.user_id, 2)
    assert (served["status"], limited["status"]) == (200, 429)
    assert (limited["amount"], limited["official_cost"]) == (0, 0)
    books(gateway, key.user_id)


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
def test_unfunded_user_gets_a_402_billing_error(
    gateway: Gateway, fake_anthropic: FakeAnthropic, stream: bool
) -> None:
    model = anthropic_model(gateway, fake_anthropic, input="1.00", output="1.00")
    key = funded_key(gateway)  # a user who was never credited
    sdk = client(gateway, key.key)
    with pytest.raises(anthropic.PaymentRequiredError) as refused:
        if stream:
            with sdk.messages.stream(model=model, max_tokens=20, messages=[ASK]) as events:
                list(events)
        else:
            sdk.messages.create(model=model, max_tokens=20, messages=[ASK])
    assert refused.value.status_code == 402
    _assert_anthropic_error(refused.value.body, "billing_error")
    assert refused.value.response.headers["request-id"]
    assert not fake_anthropic.requests
    [record] = _records(gateway, key.user_id, 1)
    assert (record["status"], record["amount"], record["free_amount"]) == (402, 0, 0)
    assert wallet(gateway, key.user_id) == (0, 0)


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
def test_openai_upstream_400_reaches_an_anthropic_caller_in_anthropic_shape(
    gateway: Gateway, fake: FakeOpenAI, stream: bool
) -> None:
    model = openai_model(gateway, fake, input="1.00", output="1.00")
    key = gateway.make_user_key()
    upstream_error = {
        "error": {
            "message": "This model's maximum context length is 8192 tokens.",
            "type": "invalid_request_error",
            "param": "messages",
            "code": "context_length_exceeded",
        }
    }
    fake.script(model, OpenAIBehaviour(status=400, error_body=upstream_error))
    sdk = client(gateway, key.key)
    with pytest.raises(anthropic.BadRequestError) as refused:
        if stream:
            with sdk.messages.stream(model=model, max_tokens=20, messages=[ASK]) as events:
                list(events)
        else:
            sdk.messages.create(model=model, max_tokens=20, messages=[ASK])
    assert refused.value.status_code == 400
    body: Any = refused.value.body
    message = _assert_anthropic_error(body, "invalid_request_error")
    assert message == "This model's maximum context length is 8192 tokens."
    assert "param" not in body["error"] and "code" not in body["error"]
    assert body["request_id"] == refused.value.response.headers["request-id"]
    [sent] = fake.requests  # a 400 is the caller's problem: not retried elsewhere
    assert sent.body["stream"] is stream
    [record] = _records(gateway, key.user_id, 1)
    assert (record["status"], record["amount"]) == (400, 0)
    books(gateway, key.user_id)


def test_a_model_the_key_may_not_use_is_a_403_for_anthropic_callers(
    gateway: Gateway, fake_anthropic: FakeAnthropic
) -> None:
    """Anthropic's ``permission_error`` (403), not a 401: Claude Code retries a 401 for
    minutes. OpenAI callers keep the documented 401 ``model_not_permitted``."""
    model = anthropic_model(gateway, fake_anthropic)
    allowed = anthropic_model(gateway, fake_anthropic)
    key = gateway.make_user_key(permissions=[allowed])
    for prefix in ("", "/api/v1/ai/openai/cc-omg"):
        with pytest.raises(anthropic.PermissionDeniedError) as refused:
            client(gateway, key.key, prefix).messages.create(
                model=model, max_tokens=20, messages=[ASK]
            )
        message = _assert_anthropic_error(refused.value.body, "permission_error")
        assert message == f"This API key is not permitted to use the model '{model}'."
    with pytest.raises(openai.AuthenticationError) as openai_refused:
        gateway.openai(key.key).chat.completions.create(model=model, messages=[ASK])
    assert openai_refused.value.status_code == 401
    assert openai_refused.value.code == "model_not_permitted"
    assert not fake_anthropic.requests
    fake_anthropic.script(allowed, Behaviour(text="Allowed."))
    served = client(gateway, key.key).messages.create(model=allowed, max_tokens=20, messages=[ASK])
    assert [b.text for b in served.content if b.type == "text"] == ["Allowed."]
