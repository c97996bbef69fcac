"""Chat completions through the gateway with the official SDK, against the fake upstream."""

from __future__ import annotations

import json
from typing import Any

from tests.fakes.openai_upstream import Behaviour, FakeOpenAI
from tests.harness import Gateway

USER = [{"role": "user", "content": "Say hello"}]
PIXEL = (
    "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk"
    "+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)


def _setup(gw: Gateway, fake: FakeOpenAI, **channel: Any) -> tuple[str, Any, dict[str, Any]]:
    ch = gw.add_channel(fake, **channel)
    model = next(iter(ch["models"]))
    key = gw.make_user_key()
    return model, gw.openai(key.key), ch


def test_non_stream_reply_usage_and_bytes_pass_through(
    sqlite_gateway: Gateway, fake: FakeOpenAI
) -> None:
    model, client, _ = _setup(sqlite_gateway, fake)
    fake.script(
        model,
        Behaviour(
            text="Hello, world!",
            prompt_tokens=9,
            completion_tokens=4,
            cached_tokens=2,
            reasoning_tokens=1,
        ),
    )
    raw = client.chat.completions.with_raw_response.create(model=model, messages=USER)
    completion = raw.parse()
    assert completion.choices[0].message.content == "Hello, world!"
    assert completion.usage is not None
    assert (completion.usage.prompt_tokens, completion.usage.completion_tokens) == (9, 4)
    assert completion.system_fingerprint == "fp_fake"
    upstream = fake.requests_for("/chat/completions")[-1]
    assert raw.http_response.content == upstream.response_body
    assert raw.headers["x-request-id"]


def test_stream_chunks_concatenate_to_reply(sqlite_gateway: Gateway, fake: FakeOpenAI) -> None:
    model, client, _ = _setup(sqlite_gateway, fake)
    fake.script(model, Behaviour(text="The quick brown fox jumps"))
    chunks = list(client.chat.completions.create(model=model, messages=USER, stream=True))
    assert len(chunks) >= 5
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "The quick brown fox jumps"
    assert fake.requests[-1].body["stream"] is True


def test_stream_include_usage_final_chunk(sqlite_gateway: Gateway, fake: FakeOpenAI) -> None:
    model, client, _ = _setup(sqlite_gateway, fake)
    fake.script(model, Behaviour(text="one two three", prompt_tokens=21, completion_tokens=3))
    chunks = list(
        client.chat.completions.create(
            model=model, messages=USER, stream=True, stream_options={"include_usage": True}
        )
    )
    final = chunks[-1]
    assert final.choices == []
    assert final.usage is not None
    assert (final.usage.prompt_tokens, final.usage.completion_tokens) == (21, 3)
    assert fake.requests[-1].body["stream_options"] == {"include_usage": True}


def test_stream_without_include_usage_has_no_usage_only_chunk(
    sqlite_gateway: Gateway, fake: FakeOpenAI
) -> None:
    """A client that did not ask for usage must not get a ``choices: []`` chunk."""
    model, client, _ = _setup(sqlite_gateway, fake)
    chunks = list(client.chat.completions.create(model=model, messages=USER, stream=True))
    assert all(c.choices for c in chunks), [c.model_dump() for c in chunks if not c.choices]


def test_tool_calls_round_trip(sqlite_gateway: Gateway, fake: FakeOpenAI) -> None:
    model, client, _ = _setup(sqlite_gateway, fake)
    call = {
        "id": "call_abc",
        "type": "function",
        "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
    }
    tools = [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "description": "Weather for a city",
                "parameters": {
                    "type": "object",
                    "properties": {"city": {"type": "string"}},
                    "required": ["city"],
                },
            },
        }
    ]
    fake.script(model, Behaviour(tool_calls=[call]), Behaviour(tool_calls=[call]))
    completion = client.chat.completions.create(
        model=model,
        messages=USER,
        tools=tools,
        tool_choice="auto",  # type: ignore[arg-type]
    )
    assert completion.choices[0].finish_reason == "tool_calls"
    calls = completion.choices[0].message.tool_calls
    assert calls is not None and calls[0].function.name == "get_weather"  # type: ignore[union-attr]
    assert json.loads(calls[0].function.arguments) == {"city": "Paris"}  # type: ignore[union-attr]
    assert fake.requests[-1].body["tools"] == tools
    assert fake.requests[-1].body["tool_choice"] == "auto"

    stream = client.chat.completions.create(
        model=model,
        messages=USER,
        tools=tools,  # type: ignore[arg-type]
        stream=True,
    )
    streamed = [tc for c in stream if c.choices for tc in (c.choices[0].delta.tool_calls or [])]
    assert streamed and streamed[0].function is not None
    assert streamed[0].function.name == "get_weather"


def test_vision_content_parts_forwarded_intact(sqlite_gateway: Gateway, fake: FakeOpenAI) -> None:
    model, client, _ = _setup(sqlite_gateway, fake)
    messages = [
        {"role": "system", "content": "You describe images."},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "What is in this picture?"},
                {
                    "type": "image_url",
                    "image_url": {
                        "url": PIXEL,
                        "detail": "low",
                    },
                },
            ],
        },
    ]
    client.chat.completions.create(model=model, messages=messages)  # type: ignore[arg-type]
    assert fake.requests[-1].body["messages"] == messages


def test_n_choices(sqlite_gateway: Gateway, fake: FakeOpenAI) -> None:
    model, client, _ = _setup(sqlite_gateway, fake)
    completion = client.chat.completions.create(model=model, messages=USER, n=2)
    assert [c.index for c in completion.choices] == [0, 1]
    assert fake.requests[-1].body["n"] == 2
    chunks = list(client.chat.completions.create(model=model, messages=USER, n=2, stream=True))
    indexes = {c.choices[0].index for c in chunks if c.choices}
    assert indexes == {0, 1}


def test_response_format_and_unknown_fields_pass_through(
    sqlite_gateway: Gateway, fake: FakeOpenAI
) -> None:
    model, client, _ = _setup(sqlite_gateway, fake)
    fake.script(model, Behaviour(text='{"ok": true}'))
    completion = client.chat.completions.create(
        model=model,
        messages=USER,
        response_format={"type": "json_object"},
        temperature=0.25,
        seed=7,
        extra_body={"x_vendor_option": {"depth": 3}},
    )
    assert json.loads(completion.choices[0].message.content or "") == {"ok": True}
    body = fake.requests[-1].body
    assert body["response_format"] == {"type": "json_object"}
    assert body["temperature"] == 0.25 and body["seed"] == 7
    assert body["x_vendor_option"] == {"depth": 3}


def test_model_mapping_sends_upstream_name(gateway: Gateway, fake: FakeOpenAI) -> None:
    public = f"public-{fake.port}"
    _, client, _ = _setup(gateway, fake, models={public: "upstream-name"})
    client.chat.completions.create(model=public, messages=USER)
    assert fake.requests[-1].body["model"] == "upstream-name"
    chunks = list(client.chat.completions.create(model=public, messages=USER, stream=True))
    assert chunks
    assert fake.requests[-1].body["model"] == "upstream-name"


def test_upstream_receives_channel_key_not_user_key(gateway: Gateway, fake: FakeOpenAI) -> None:
    ch = gateway.add_channel(fake, api_key="sk-channel-secret-0123456789")
    model = next(iter(ch["models"]))
    user_key = gateway.make_user_key()
    gateway.openai(user_key.key).chat.completions.create(model=model, messages=USER)
    upstream = fake.requests[-1]
    assert upstream.headers.get("Authorization") == "Bearer sk-channel-secret-0123456789"
    assert user_key.key not in json.dumps(upstream.headers)
    assert user_key.key.encode() not in upstream.raw


def test_channel_extra_headers_sent_upstream(sqlite_gateway: Gateway, fake: FakeOpenAI) -> None:
    model, client, _ = _setup(sqlite_gateway, fake, headers={"X-Org-Tag": "relaygate-tests"})
    client.chat.completions.create(model=model, messages=USER)
    assert fake.requests[-1].headers.get("X-Org-Tag") == "relaygate-tests"
