"""The official SDKs read the translated streams into the answer the upstream gave.

The translated bytes are served to each SDK as an HTTP response (httpx2's mock
transport), so the SDK's own SSE decoder and stream accumulator judge them.
"""

from __future__ import annotations

import json

import anthropic
import httpx2
import openai

from .test_translated_stream_golden import Case


def _serving(body: bytes) -> httpx2.Client:
    """Both SDKs run on httpx2 (the anthropic one refuses httpx objects)."""

    def reply(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(200, headers={"content-type": "text/event-stream"}, content=body)

    return httpx2.Client(transport=httpx2.MockTransport(reply))


def _anthropic_client(body: bytes) -> anthropic.Anthropic:
    return anthropic.Anthropic(api_key="k", base_url="http://gw", http_client=_serving(body))


def _openai_client(body: bytes) -> openai.OpenAI:
    return openai.OpenAI(api_key="k", base_url="http://gw/v1", http_client=_serving(body))


def _translate(case: Case) -> bytes:
    translator = case.translator()
    return translator.feed(case.source()) + translator.flush()


def test_anthropic_sdk_assembles_tool_calls_from_an_openai_upstream() -> None:
    body = _translate(Case("openai", "stream_tools"))
    with _anthropic_client(body).messages.stream(
        model="claude-sonnet-4-5", max_tokens=100, messages=[{"role": "user", "content": "x"}]
    ) as stream:
        message = stream.get_final_message()
    assert message.id == "msg_B9tQ2" and message.model == "claude-sonnet-4-5"
    assert message.stop_reason == "tool_use"
    text, paris, tokyo = message.content
    assert text.type == "text" and text.text == "Checking both cities."
    assert paris.type == "tool_use" and tokyo.type == "tool_use"
    assert (paris.id, paris.name, paris.input) == ("call_Paris01", "get_weather", {"city": "Paris"})
    assert (tokyo.id, tokyo.input) == ("call_Tokyo02", {"city": "Tōkyō"})
    usage = message.usage
    assert (usage.input_tokens, usage.cache_read_input_tokens, usage.output_tokens) == (
        176,
        1024,
        41,
    )


def test_anthropic_sdk_reads_reasoning_as_a_thinking_block() -> None:
    body = _translate(Case("openai", "stream_deepseek_reasoning"))
    with _anthropic_client(body).messages.stream(
        model="claude-sonnet-4-5", max_tokens=64, messages=[{"role": "user", "content": "x"}]
    ) as stream:
        message = stream.get_final_message()
    thinking, text = message.content
    assert thinking.type == "thinking" and thinking.thinking == "The user wants a greeting."
    assert thinking.signature == ""
    assert text.type == "text" and text.text == 'Hello, "world"\n'
    assert message.stop_reason == "max_tokens"


def test_anthropic_sdk_raises_on_a_relayed_error() -> None:
    body = _translate(Case("openai", "stream_error"))
    client = _anthropic_client(body)
    try:
        with client.messages.stream(
            model="m", max_tokens=5, messages=[{"role": "user", "content": "x"}]
        ) as stream:
            stream.get_final_message()
    except anthropic.APIStatusError as err:
        assert "The server had an error" in str(err)
    else:
        raise AssertionError("the SDK should raise on an error event")


def test_openai_sdk_assembles_the_answer_of_an_anthropic_upstream() -> None:
    body = _translate(Case("anthropic", "stream_thinking_tools", include_usage=True))
    chunks = list(
        _openai_client(body).chat.completions.create(
            model="gpt-4o-via-claude",
            messages=[{"role": "user", "content": "x"}],
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    assert {chunk.id for chunk in chunks} == {"chatcmpl-01XFDUDYJgAACzvnptvVoYEL"}
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    reasoning = "".join(
        (c.choices[0].delta.model_extra or {}).get("reasoning_content", "")
        for c in chunks
        if c.choices
    )
    assert text == 'Let me check "Paris".'
    assert reasoning == "I should look up the weather."
    calls = [tc for c in chunks if c.choices for tc in c.choices[0].delta.tool_calls or []]
    assert calls[0].id == "toolu_01T1x1fJ34qAmk2tNTrN7Up6" and calls[0].function
    assert calls[0].function.name == "get_weather"
    arguments = "".join(tc.function.arguments or "" for tc in calls if tc.function)
    assert json.loads(arguments) == {"city": "Paris"}
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices]
    assert finishes[-1] == "tool_calls"
    assert chunks[-1].choices == [] and chunks[-1].usage is not None
    usage = chunks[-1].usage
    assert (usage.prompt_tokens, usage.completion_tokens, usage.total_tokens) == (2360, 89, 2449)
    assert usage.prompt_tokens_details and usage.prompt_tokens_details.cached_tokens == 2048


def test_openai_sdk_stream_helper_builds_the_final_completion() -> None:
    body = _translate(Case("anthropic", "stream_server_tools"))
    with _openai_client(body).chat.completions.stream(
        model="gpt-4o-via-claude", messages=[{"role": "user", "content": "x"}]
    ) as stream:
        completion = stream.get_final_completion()
    choice = completion.choices[0]
    assert choice.message.content == "It is sunny in New York."
    assert choice.finish_reason == "stop"
    assert not choice.message.tool_calls  # the server tool call stays upstream


def test_openai_sdk_raises_on_a_relayed_error() -> None:
    body = _translate(Case("anthropic", "stream_error", include_usage=True))
    stream = _openai_client(body).chat.completions.create(
        model="m", messages=[{"role": "user", "content": "x"}], stream=True
    )
    seen = []
    try:
        for chunk in stream:
            seen.append(chunk)
    except openai.APIError as err:
        assert err.message == "Overloaded"
    else:
        raise AssertionError("the SDK should raise on an error frame")
    assert "".join(c.choices[0].delta.content or "" for c in seen) == "Hel"
