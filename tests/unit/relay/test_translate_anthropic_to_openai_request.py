"""Anthropic Messages requests (Claude Code, the anthropic SDK) sent to an OpenAI upstream.

Every translated body is also checked against the OpenAI spec (fields and shapes), so
each test doubles as a check that nothing Anthropic-only leaks into the upstream call.
"""

from __future__ import annotations

from typing import Any

import pytest

from relaygate.core.errors import InvalidRequest
from relaygate.relay.translate import ANTHROPIC, OPENAI, translate_request
from tests.unit.relay.dialects.spec import assert_openai_request

USER = {"role": "user", "content": "hi"}


def to_openai(**fields: Any) -> dict[str, Any]:
    body = {"model": "claude-sonnet-4-5", "max_tokens": 1000, "messages": [USER], **fields}
    out = translate_request(ANTHROPIC, OPENAI, body)
    assert_openai_request(out)
    return out


TOOL = {"name": "Bash", "input_schema": {"type": "object", "properties": {}}}


@pytest.mark.parametrize(
    ("budget", "effort"),
    [
        (1024, "low"),
        (4095, "low"),
        (4096, "medium"),
        (16383, "medium"),
        (16384, "high"),
        (31999, "high"),
    ],
)
def test_a_thinking_budget_becomes_an_effort_by_the_documented_thresholds(
    budget: int, effort: str
) -> None:
    out = to_openai(max_tokens=32000, thinking={"type": "enabled", "budget_tokens": budget})
    assert out["reasoning_effort"] == effort


@pytest.mark.parametrize(
    ("effort", "expected"),
    [("low", "low"), ("medium", "medium"), ("high", "high"), ("xhigh", "high"), ("max", "high")],
)
def test_adaptive_thinking_takes_its_effort_capped_at_high(effort: str, expected: str) -> None:
    out = to_openai(
        thinking={"type": "adaptive", "display": "omitted"}, output_config={"effort": effort}
    )
    assert out["reasoning_effort"] == expected


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"thinking": {"type": "adaptive"}}, None),  # the model decides: upstream default
        ({"thinking": {"type": "disabled"}, "output_config": {"effort": "high"}}, None),
        ({"output_config": {"effort": "low"}}, "low"),  # effort without thinking
        (
            {
                "thinking": {"type": "enabled", "budget_tokens": 2000},
                "output_config": {"effort": "high"},
            },
            "high",
        ),
        ({}, None),
    ],
)
def test_reasoning_effort_is_sent_only_when_asked_for(
    fields: dict[str, Any], expected: str | None
) -> None:
    assert to_openai(**fields).get("reasoning_effort") == expected


@pytest.mark.parametrize(
    ("choice", "expected"),
    [
        ({"type": "auto"}, "auto"),
        ({"type": "any"}, "required"),
        ({"type": "none"}, "none"),
        ({"type": "tool", "name": "Bash"}, {"type": "function", "function": {"name": "Bash"}}),
    ],
)
def test_tool_choice_maps(choice: dict[str, Any], expected: Any) -> None:
    out = to_openai(tools=[TOOL], tool_choice=choice)
    assert out["tool_choice"] == expected
    assert "parallel_tool_calls" not in out


def test_disable_parallel_tool_use_becomes_parallel_tool_calls_false() -> None:
    out = to_openai(tools=[TOOL], tool_choice={"type": "auto", "disable_parallel_tool_use": True})
    assert out["parallel_tool_calls"] is False


def test_server_tools_are_dropped_and_a_choice_without_tools_is_not_sent() -> None:
    tools = [
        {"type": "web_search_20250305", "name": "web_search"},
        {"type": "bash_20250124", "name": "bash"},
    ]
    out = to_openai(tools=tools, tool_choice={"type": "any", "disable_parallel_tool_use": True})
    assert not {"tools", "tool_choice", "parallel_tool_calls"} & set(out)


def test_custom_tools_keep_name_description_schema_and_strict() -> None:
    tool = {
        **TOOL,
        "type": "custom",
        "description": "Run it.",
        "strict": True,
        "defer_loading": True,
        "cache_control": {"type": "ephemeral"},
    }
    assert to_openai(tools=[tool])["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "Bash",
                "description": "Run it.",
                "parameters": TOOL["input_schema"],
                "strict": True,
            },
        }
    ]


def test_system_prompt_leads_and_system_messages_keep_their_place() -> None:
    messages = [
        USER,
        {"role": "system", "content": "mid"},
        {"role": "assistant", "content": "ok"},
        USER,
    ]
    out = to_openai(system="top", messages=messages)
    assert [(m["role"], m["content"]) for m in out["messages"]] == [
        ("system", "top"),
        ("user", "hi"),
        ("system", "mid"),
        ("assistant", "ok"),
        ("user", "hi"),
    ]


def test_claude_codes_billing_header_block_is_not_sent_as_an_instruction() -> None:
    system = [
        {"type": "text", "text": "x-anthropic-billing-header: cc_version=2.1.330.x;"},
        {"type": "text", "text": "Be terse."},
    ]
    assert to_openai(system=system)["messages"][0] == {"role": "system", "content": "Be terse."}


@pytest.mark.parametrize(("stream", "options"), [(True, {"include_usage": True}), (False, None)])
def test_stream_is_kept_and_an_openai_stream_asks_for_usage(stream: bool, options: Any) -> None:
    out = to_openai(stream=stream)
    assert out["stream"] is stream
    assert out.get("stream_options") == options


def test_model_and_sampling_are_kept_and_anthropic_only_fields_dropped() -> None:
    out = to_openai(
        temperature=0.2,
        top_p=0.8,
        top_k=5,
        stop_sequences=["###"],
        metadata={"user_id": "u-1"},
        service_tier="auto",
        container="c",
        context_management={"edits": []},
        cache_control={"type": "ephemeral"},
        inference_geo="us",
    )
    assert {
        key: out[key] for key in ("model", "temperature", "top_p", "stop", "user", "max_tokens")
    } == {
        "model": "claude-sonnet-4-5",
        "temperature": 0.2,
        "top_p": 0.8,
        "stop": ["###"],
        "user": "u-1",
        "max_tokens": 1000,
    }
    assert set(out) == {
        "model",
        "messages",
        "stream",
        "temperature",
        "top_p",
        "stop",
        "user",
        "max_tokens",
    }


def test_a_tool_result_error_and_an_empty_result_are_told_to_the_model() -> None:
    messages = [
        USER,
        {
            "role": "assistant",
            "content": [
                {"type": "tool_use", "id": "t1", "name": "Bash", "input": {}},
                {"type": "tool_use", "id": "t2", "name": "Bash", "input": {}},
            ],
        },
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "t1", "is_error": True},
                {"type": "tool_result", "tool_use_id": "t2", "content": []},
            ],
        },
    ]
    out = to_openai(messages=messages)
    assert out["messages"][-2:] == [
        {"role": "tool", "tool_call_id": "t1", "content": "Error"},
        {"role": "tool", "tool_call_id": "t2", "content": ""},
    ]


def test_an_assistant_turn_of_thinking_only_is_left_out() -> None:
    thinking = {
        "role": "assistant",
        "content": [{"type": "thinking", "thinking": "x", "signature": "s"}],
    }
    out = to_openai(messages=[USER, thinking, USER])
    assert [m["role"] for m in out["messages"]] == ["user", "user"]


def test_assistant_text_blocks_join_without_separator() -> None:
    assistant = {
        "role": "assistant",
        "content": [{"type": "text", "text": "It is "}, {"type": "text", "text": "sunny."}],
    }
    assert to_openai(messages=[USER, assistant, USER])["messages"][1]["content"] == "It is sunny."


@pytest.mark.parametrize(
    ("block", "param"),
    [
        (
            {"type": "image", "source": {"type": "file", "file_id": "file_1"}},
            "messages.0.content.0.source",
        ),
        ({"type": "document", "source": {"type": "url", "url": "https://x/a.pdf"}}, "messages"),
        ({"type": "text"}, "messages.0.content.0.text"),
    ],
)
def test_content_that_cannot_reach_openai_is_a_400(block: dict[str, Any], param: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        to_openai(messages=[{"role": "user", "content": [block]}])
    assert caught.value.status == 400
    assert caught.value.param == param


def test_an_unknown_role_is_a_400_naming_it() -> None:
    with pytest.raises(InvalidRequest) as caught:
        to_openai(messages=[{"role": "tool", "content": "x"}])
    assert caught.value.param == "messages.0.role"
