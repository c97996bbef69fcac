"""Complete (non-streamed) answers translated back into the caller's dialect.

Each translated body is validated: OpenAI ``chat.completion`` against the spec and the
openai SDK's model, Anthropic ``message`` by the anthropic SDK's model.
"""

from __future__ import annotations

import re
import time
from typing import Any, get_args

import anthropic.types
import openai.types.chat
import pytest

from relaygate.core.errors import UpstreamBadResponse
from relaygate.relay.canonical import known_stop_reason
from relaygate.relay.canonical import stream as canonical_stream
from relaygate.relay.canonical.messages import STOP_REASONS, StopReason, known_effort
from relaygate.relay.translate import ANTHROPIC, OPENAI, translate_response
from tests.unit.relay.dialects.spec import openai_errors


def chat(
    message: dict[str, Any] | None = None, finish: str | None = "stop", **fields: Any
) -> dict[str, Any]:
    message = {"role": "assistant", "content": "hello", **(message or {})}
    choice = {"index": 0, "message": message, "logprobs": None, "finish_reason": finish}
    return {
        "id": "chatcmpl-abc",
        "object": "chat.completion",
        "created": 1,
        "model": "up",
        "choices": [choice],
        **fields,
    }


def message(
    content: list[dict[str, Any]] | None = None, stop: str | None = "end_turn", **fields: Any
) -> dict[str, Any]:
    return {
        "id": "msg_01abc",
        "type": "message",
        "role": "assistant",
        "model": "claude-up",
        "content": [{"type": "text", "text": "hello"}] if content is None else content,
        "stop_reason": stop,
        "stop_sequence": None,
        "usage": {"input_tokens": 3, "output_tokens": 2},
        **fields,
    }


def to_anthropic(body: dict[str, Any]) -> dict[str, Any]:
    out = translate_response(OPENAI, ANTHROPIC, body, model="claude-client")
    anthropic.types.Message.model_validate(out)
    assert out["model"] == "claude-client"
    return out


def to_openai(body: dict[str, Any]) -> dict[str, Any]:
    before = int(time.time())
    out = translate_response(ANTHROPIC, OPENAI, body, model="gpt-client")
    assert before <= out["created"] <= int(time.time())
    assert openai_errors(out, "CreateChatCompletionResponse") == []
    openai.types.chat.ChatCompletion.model_validate(out)
    assert out["model"] == "gpt-client"
    return out


def test_the_canonical_stop_reasons_are_the_stream_ones() -> None:
    assert canonical_stream.StopReason is StopReason  # one definition, not two kept equal
    assert get_args(StopReason) == STOP_REASONS


@pytest.mark.parametrize("value", [None, "", "stop", "END_TURN", ["end_turn"], {"a": 1}, 1])
def test_an_unknown_stop_reason_or_effort_is_none(value: object) -> None:
    assert known_stop_reason(value) is None
    assert known_effort(value) is None


CALL = {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{}"}}


@pytest.mark.parametrize(
    ("finish", "calls", "stop"),
    [
        ("stop", [], "end_turn"),
        ("length", [], "max_tokens"),
        ("content_filter", [], "refusal"),
        ("tool_calls", [CALL], "tool_use"),
        ("stop", [CALL], "tool_use"),  # vLLM and Ollama say "stop" after tool calls
        (None, [CALL], "tool_use"),
        ("tool_calls", [], "end_turn"),  # no call to use: the turn just ended
        ("function_call", [], "end_turn"),
        (None, [], "end_turn"),
        ("weird", [], "end_turn"),
    ],
)
def test_finish_reason_to_stop_reason(finish: str | None, calls: list[Any], stop: str) -> None:
    out = to_anthropic(chat({"tool_calls": calls} if calls else None, finish))
    assert out["stop_reason"] == stop
    assert out["stop_sequence"] is None


def test_a_legacy_function_call_is_a_tool_use() -> None:
    out = to_anthropic(
        chat(
            {"content": None, "function_call": {"name": "f", "arguments": '{"a":1}'}},
            "function_call",
        )
    )
    assert out["stop_reason"] == "tool_use"
    (block,) = out["content"]
    assert (block["type"], block["name"], block["input"]) == ("tool_use", "f", {"a": 1})
    assert re.fullmatch(r"call_[0-9a-f]{24}", block["id"])


@pytest.mark.parametrize(
    ("stop", "finish"),
    [
        ("end_turn", "stop"),
        ("stop_sequence", "stop"),
        ("pause_turn", "stop"),
        ("max_tokens", "length"),
        ("model_context_window_exceeded", "length"),
        ("tool_use", "tool_calls"),
        ("refusal", "content_filter"),
        (None, "stop"),
    ],
)
def test_stop_reason_to_finish_reason(stop: str | None, finish: str) -> None:
    assert to_openai(message(stop=stop))["choices"][0]["finish_reason"] == finish


@pytest.mark.parametrize(
    ("upstream", "expected"),
    [
        ("chatcmpl-abc", "msg_abc"),
        ("930c60df-bf64-41c9-a88e-3ec75f81e00e", "msg_930c60df-bf64-41c9-a88e-3ec75f81e00e"),
        ("msg_kept", "msg_kept"),
    ],
)
def test_message_ids_derive_from_the_upstream_id(upstream: str, expected: str) -> None:
    assert to_anthropic(chat(id=upstream))["id"] == expected


def test_a_missing_upstream_id_gets_a_fresh_one() -> None:
    first, second = (to_anthropic(chat(id=None))["id"] for _ in range(2))
    assert re.fullmatch(r"msg_[0-9a-f]{24}", first) and first != second


@pytest.mark.parametrize(
    ("upstream", "expected"), [("msg_01abc", "chatcmpl-01abc"), ("abc", "chatcmpl-abc")]
)
def test_completion_ids_derive_from_the_upstream_id(upstream: str, expected: str) -> None:
    assert to_openai(message(id=upstream))["id"] == expected


@pytest.mark.parametrize(
    ("usage", "expected"),
    [
        (
            {
                "prompt_tokens": 100,
                "completion_tokens": 7,
                "prompt_tokens_details": {"cached_tokens": 60},
            },
            {
                "input_tokens": 40,
                "output_tokens": 7,
                "cache_creation_input_tokens": 0,
                "cache_read_input_tokens": 60,
            },
        ),
        (  # DeepSeek's own spelling of cache hits
            {
                "prompt_tokens": 100,
                "completion_tokens": 7,
                "prompt_cache_hit_tokens": 64,
                "prompt_cache_miss_tokens": 36,
            },
            {
                "input_tokens": 36,
                "output_tokens": 7,
                "cache_creation_input_tokens": 0,
                "cache_read_input_tokens": 64,
            },
        ),
        (
            {
                "prompt_tokens": 100,
                "completion_tokens": 7,
                "prompt_tokens_details": {"cached_tokens": 50, "cache_write_tokens": 30},
            },
            {
                "input_tokens": 20,
                "output_tokens": 7,
                "cache_creation_input_tokens": 30,
                "cache_read_input_tokens": 50,
            },
        ),
        (
            None,
            {
                "input_tokens": 0,
                "output_tokens": 0,
                "cache_creation_input_tokens": 0,
                "cache_read_input_tokens": 0,
            },
        ),
        (
            {
                "prompt_tokens": 5,
                "completion_tokens": 1,
                "prompt_tokens_details": {"cached_tokens": 9},
            },
            {
                "input_tokens": 0,
                "output_tokens": 1,
                "cache_creation_input_tokens": 0,
                "cache_read_input_tokens": 9,
            },
        ),
    ],
)
def test_openai_usage_becomes_anthropic_usage(
    usage: dict[str, Any] | None, expected: dict[str, int]
) -> None:
    assert to_anthropic(chat(usage=usage))["usage"] == expected


def test_anthropic_usage_becomes_openai_usage() -> None:
    usage = {
        "input_tokens": 10,
        "output_tokens": 40,
        "cache_creation_input_tokens": 200,
        "cache_read_input_tokens": 3000,
        "output_tokens_details": {"thinking_tokens": 25},
    }
    assert to_openai(message(usage=usage))["usage"] == {
        "prompt_tokens": 3210,
        "completion_tokens": 40,
        "total_tokens": 3250,
        "prompt_tokens_details": {"cached_tokens": 3000, "cache_write_tokens": 200},
        "completion_tokens_details": {"reasoning_tokens": 25},
    }


def test_content_is_null_with_only_tool_calls_and_empty_with_nothing() -> None:
    tool_use = {"type": "tool_use", "id": "toolu_1", "name": "f", "input": {"x": [1, "é"]}}
    only_tools = to_openai(message([tool_use], "tool_use"))["choices"][0]["message"]
    assert only_tools["content"] is None
    assert only_tools["tool_calls"] == [
        {
            "id": "toolu_1",
            "type": "function",
            "function": {"name": "f", "arguments": '{"x":[1,"é"]}'},
        }
    ]
    nothing = to_openai(message([]))["choices"][0]["message"]
    assert nothing == {"role": "assistant", "content": "", "refusal": None}


@pytest.mark.parametrize("field", ["reasoning_content", "reasoning"])
def test_reasoning_text_becomes_an_unsigned_thinking_block_first(field: str) -> None:
    out = to_anthropic(chat({field: "because"}))
    assert out["content"] == [
        {"type": "thinking", "thinking": "because", "signature": ""},
        {"type": "text", "text": "hello"},
    ]


def test_an_openai_refusal_is_kept_as_text_and_stops_as_refusal() -> None:
    out = to_anthropic(chat({"content": None, "refusal": "I can't."}))
    assert out["content"] == [{"type": "text", "text": "I can't."}]
    assert out["stop_reason"] == "refusal"


def test_text_parts_in_an_answer_are_joined() -> None:
    out = to_anthropic(
        chat({"content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]})
    )
    assert out["content"] == [{"type": "text", "text": "ab"}]


def test_tool_calls_without_id_get_one_and_unsafe_ids_are_made_safe() -> None:
    calls = [
        {"type": "function", "function": {"name": "f", "arguments": ""}},
        {
            "id": "functions.f:1",
            "type": "function",
            "function": {"name": "f", "arguments": {"a": 1}},
        },
    ]
    blocks = to_anthropic(chat({"tool_calls": calls}, "tool_calls"))["content"][1:]
    assert re.fullmatch(r"call_[0-9a-f]{24}", blocks[0]["id"]) and blocks[0]["input"] == {}
    assert (blocks[1]["id"], blocks[1]["input"]) == ("functions_f_1", {"a": 1})


def test_redacted_thinking_and_server_tool_blocks_do_not_reach_openai_clients() -> None:
    blocks = [
        {"type": "redacted_thinking", "data": "abc"},
        {"type": "server_tool_use", "id": "srvtoolu_1", "name": "web_search", "input": {}},
        {"type": "web_search_tool_result", "tool_use_id": "srvtoolu_1", "content": []},
        {"type": "text", "text": "x"},
    ]
    reply = to_openai(message(blocks))["choices"][0]["message"]
    assert reply == {"role": "assistant", "content": "x", "refusal": None}


@pytest.mark.parametrize(
    "body",
    [
        {"id": "x", "choices": []},
        {"id": "x"},
        chat(
            {
                "tool_calls": [
                    {"id": "c", "type": "function", "function": {"name": "f", "arguments": "{oops"}}
                ]
            },
            "tool_calls",
        ),
        chat(
            {"tool_calls": [{"id": "c", "type": "function", "function": {"arguments": "{}"}}]},
            "tool_calls",
        ),
    ],
)
def test_an_unreadable_openai_answer_is_an_upstream_failure(body: dict[str, Any]) -> None:
    with pytest.raises(UpstreamBadResponse) as caught:
        translate_response(OPENAI, ANTHROPIC, body, model="m")
    assert caught.value.status == 502


@pytest.mark.parametrize(
    "body",
    [
        message(content=None) | {"content": "not a list"},
        message([{"type": "tool_use", "name": "f", "input": {}}]),
        message(["text"]),
    ],
)
def test_an_unreadable_anthropic_answer_is_an_upstream_failure(body: dict[str, Any]) -> None:
    with pytest.raises(UpstreamBadResponse):
        translate_response(ANTHROPIC, OPENAI, body, model="m")


@pytest.mark.parametrize(
    ("source", "target"), [(OPENAI, OPENAI), (ANTHROPIC, ANTHROPIC), ("gemini", OPENAI)]
)
def test_only_a_pair_of_different_known_dialects_is_translated(source: str, target: str) -> None:
    with pytest.raises(ValueError):
        translate_response(source, target, chat(), model="m")
