"""Self-test of the fake upstream, driven by the official SDK without the gateway."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import openai
import pytest

from tests.fakes.openai_upstream import Behaviour, FakeOpenAI


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    with FakeOpenAI(models=["m1", "m2"]) as server:
        yield server


def client(fake: FakeOpenAI) -> openai.OpenAI:
    return openai.OpenAI(base_url=fake.base_url, api_key="sk-upstream", max_retries=0)


def test_chat_non_stream_and_raw_bytes(fake: FakeOpenAI) -> None:
    fake.script(
        "m1",
        Behaviour(
            text="hi there",
            prompt_tokens=5,
            completion_tokens=2,
            cached_tokens=3,
            reasoning_tokens=1,
        ),
    )
    raw = client(fake).chat.completions.with_raw_response.create(
        model="m1", messages=[{"role": "user", "content": "x"}]
    )
    completion = raw.parse()
    assert completion.choices[0].message.content == "hi there"
    assert completion.usage is not None
    assert completion.usage.prompt_tokens_details is not None
    assert completion.usage.prompt_tokens_details.cached_tokens == 3
    assert raw.http_response.content == fake.requests[-1].response_body
    assert fake.requests[-1].authorization == "Bearer sk-upstream"


def test_chat_stream_with_usage_and_comments(fake: FakeOpenAI) -> None:
    fake.script(None, Behaviour(text="a b c", keepalive_comments=True))
    stream = client(fake).chat.completions.create(
        model="m2",
        messages=[{"role": "user", "content": "x"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "a b c"
    assert chunks[-1].choices == []
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 3
    assert b": keep-alive" in fake.requests[-1].response_body


def test_broken_stream_raises(fake: FakeOpenAI) -> None:
    fake.script(None, Behaviour(text="one two three four", break_after=2))
    stream = client(fake).chat.completions.create(
        model="m1", messages=[{"role": "user", "content": "x"}], stream=True
    )
    with pytest.raises(openai.APIConnectionError):
        list(stream)


def test_error_status_and_body(fake: FakeOpenAI) -> None:
    body = {
        "error": {
            "message": "bad thing",
            "type": "invalid_request_error",
            "param": "messages",
            "code": "x1",
        }
    }
    fake.script(None, Behaviour(status=400, error_body=body))
    with pytest.raises(openai.BadRequestError) as info:
        client(fake).chat.completions.create(model="m1", messages=[])
    assert info.value.response.json() == body


def test_embeddings_float_and_base64(fake: FakeOpenAI) -> None:
    c = client(fake)
    as_b64 = c.embeddings.create(model="m1", input=["a", "b"])
    assert fake.requests[-1].body["encoding_format"] == "base64"
    assert as_b64.data[1].embedding == [1.5, 0.75, 2.5, 1.125]
    as_float = c.embeddings.create(model="m1", input="a", encoding_format="float")
    assert fake.requests[-1].body["encoding_format"] == "float"
    assert as_float.data[0].embedding == [0.5, -0.25, 1.5, 0.125]


def test_legacy_completions_and_models(fake: FakeOpenAI) -> None:
    c = client(fake)
    assert c.completions.create(model="m1", prompt="p").choices[0].text == fake.default.text
    streamed = "".join(
        ch.choices[0].text
        for ch in c.completions.create(model="m1", prompt="p", stream=True)
        if ch.choices
    )
    assert streamed == fake.default.text
    assert [m.id for m in c.models.list()] == ["m1", "m2"]


def test_tool_calls_and_n(fake: FakeOpenAI) -> None:
    call = {
        "id": "call_1",
        "type": "function",
        "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
    }
    fake.script(None, Behaviour(tool_calls=[call]))
    completion = client(fake).chat.completions.create(
        model="m1", messages=[{"role": "user", "content": "x"}], n=2
    )
    assert len(completion.choices) == 2
    tool_calls = completion.choices[0].message.tool_calls
    assert tool_calls is not None and tool_calls[0].function.name == "get_weather"


def test_client_disconnect_is_recorded(fake: FakeOpenAI) -> None:
    fake.script(None, Behaviour(text=" ".join(["w"] * 200), chunk_delay=0.02))
    with httpx.stream(
        "POST",
        fake.base_url + "/chat/completions",
        json={"model": "m1", "messages": [], "stream": True},
    ) as response:
        for _ in response.iter_lines():
            break
    assert fake.wait_until(lambda: fake.requests[-1].done.is_set())
    assert fake.requests[-1].client_disconnected
