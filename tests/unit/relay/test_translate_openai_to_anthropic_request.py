"""OpenAI Chat requests sent to an Anthropic upstream.

Every translated body is also checked against the anthropic SDK's request types and for
alternating roles, so each test doubles as a check that Anthropic would accept the shape.
"""

from __future__ import annotations

import base64
from typing import Any

import pytest

from relaygate.core.errors import InvalidRequest
from relaygate.relay.canonical.messages import (
    Message,
    Reasoning,
    Request,
    Text,
    Thinking,
    ToolCall,
    ToolResult,
)
from relaygate.relay.dialects.anthropic_messages.convert import render_request
from relaygate.relay.translate import ANTHROPIC, OPENAI, translate_request
from tests.unit.relay.dialects.spec import assert_anthropic_request

USER = {"role": "user", "content": "hi"}
TOOL = {"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}
CALL = {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}


def to_anthropic(default_max_tokens: int = 4096, **fields: Any) -> dict[str, Any]:
    body = {"model": "gpt-4o", "messages": [USER], **fields}
    out = translate_request(OPENAI, ANTHROPIC, body, default_max_tokens=default_max_tokens)
    assert_anthropic_request(out)
    return out


def test_model_is_kept_and_max_tokens_defaults() -> None:
    out = to_anthropic(default_max_tokens=777)
    assert (out["model"], out["max_tokens"], out["stream"]) == ("gpt-4o", 777, False)


@pytest.mark.parametrize(
    ("fields", "expected"),
    [({"max_completion_tokens": 50, "max_tokens": 60}, 50), ({"max_tokens": 60}, 60)],
)
def test_max_completion_tokens_wins_over_max_tokens(fields: dict[str, Any], expected: int) -> None:
    assert to_anthropic(**fields)["max_tokens"] == expected


def test_a_stream_keeps_stream_and_drops_stream_options() -> None:
    out = to_anthropic(stream=True, stream_options={"include_usage": True})
    assert out["stream"] is True
    assert "stream_options" not in out


@pytest.mark.parametrize(
    ("effort", "budget"),
    [
        ("minimal", 1024),
        ("low", 2048),
        ("medium", 8192),
        ("high", 16384),
        ("xhigh", 32768),
        ("max", 65536),
    ],
)
def test_reasoning_effort_becomes_a_budget_above_the_default_answer_room(
    effort: str, budget: int
) -> None:
    out = to_anthropic(default_max_tokens=1000, reasoning_effort=effort)
    assert out["thinking"] == {"type": "enabled", "budget_tokens": budget}
    assert out["max_tokens"] == 1000 + budget > budget


@pytest.mark.parametrize(
    ("cap", "budget"), [(10000, 5000), (2048, 1024), (2047, None), (100000, 16384)]
)
def test_a_clients_cap_is_kept_and_thinking_takes_at_most_half(
    cap: int, budget: int | None
) -> None:
    out = to_anthropic(max_completion_tokens=cap, reasoning_effort="high")
    assert out["max_tokens"] == cap
    assert out.get("thinking") == ({"type": "enabled", "budget_tokens": budget} if budget else None)


def test_reasoning_effort_none_means_no_thinking() -> None:
    assert "thinking" not in to_anthropic(reasoning_effort="none")


@pytest.mark.parametrize(
    "choice", ["required", {"type": "function", "function": {"name": "get_weather"}}]
)
def test_a_forced_tool_choice_turns_thinking_off(choice: Any) -> None:
    out = to_anthropic(tools=[TOOL], tool_choice=choice, reasoning_effort="high")
    assert "thinking" not in out


TOOL_LOOP = [
    USER,
    {"role": "assistant", "content": None, "tool_calls": [CALL]},
    {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
]


@pytest.mark.parametrize(
    ("messages", "thinking"),
    [
        (TOOL_LOOP, False),  # the last assistant turn has no signed thinking block
        ([*TOOL_LOOP, {"role": "user", "content": "and now?"}], False),  # merged into that turn
        ([*TOOL_LOOP, {"role": "assistant", "content": "done"}, USER], True),  # a new turn
        ([USER, {"role": "assistant", "content": "Sure:"}], False),  # a prefill
    ],
)
def test_thinking_is_off_inside_an_assistant_turn_without_thinking(
    messages: list[Any], thinking: bool
) -> None:
    out = to_anthropic(messages=messages, tools=[TOOL], reasoning_effort="low")
    assert ("thinking" in out) is thinking


def test_signed_thinking_in_the_last_assistant_turn_allows_thinking() -> None:
    request = Request(
        model="m",
        messages=[
            Message("user", [Text("hi")]),
            Message("assistant", [Thinking("plan", "sig"), ToolCall("t1", "f", {})]),
            Message("user", [ToolResult("t1", (Text("ok"),))]),
        ],
        reasoning=Reasoning("low"),
    )
    out = render_request(request, default_max_tokens=100)
    assert out["thinking"] == {"type": "enabled", "budget_tokens": 2048}
    assert out["messages"][1]["content"][0] == {
        "type": "thinking",
        "thinking": "plan",
        "signature": "sig",
    }
    assert_anthropic_request(out)


@pytest.mark.parametrize(
    ("fields", "sampling"),
    [
        ({"temperature": 1.7}, {}),  # clamped to 1, Anthropic's default: not sent
        ({"temperature": -0.5}, {"temperature": 0.0}),
        ({"temperature": 0.5, "top_p": 0.8}, {"temperature": 0.5}),  # refused together
        ({"top_p": 0.8}, {"top_p": 0.8}),
        ({"top_p": 1}, {}),
        ({"temperature": 1, "top_p": 0.8}, {"top_p": 0.8}),
        ({"reasoning_effort": "low", "temperature": 0.3, "top_p": 0.97}, {"top_p": 0.97}),
        ({"reasoning_effort": "low", "top_p": 0.9}, {}),
    ],
)
def test_sampling_is_what_anthropic_accepts(
    fields: dict[str, Any], sampling: dict[str, float]
) -> None:
    out = to_anthropic(**fields)
    assert {key: out[key] for key in ("temperature", "top_p", "top_k") if key in out} == sampling


@pytest.mark.parametrize(
    ("stop", "expected"),
    [("END", ["END"]), (["\n", "END", " "], ["END"]), ("\n", None), (None, None)],
)
def test_blank_stop_sequences_are_dropped(stop: Any, expected: list[str] | None) -> None:
    assert to_anthropic(stop=stop).get("stop_sequences") == expected


def test_system_and_developer_messages_anywhere_become_system_blocks_in_order() -> None:
    messages = [
        {"role": "system", "content": "one"},
        USER,
        {"role": "developer", "content": [{"type": "text", "text": "two"}]},
        {"role": "assistant", "content": "ok"},
        USER,
    ]
    out = to_anthropic(messages=messages)
    assert out["system"] == [{"type": "text", "text": "one"}, {"type": "text", "text": "two"}]
    assert [m["role"] for m in out["messages"]] == ["user", "assistant", "user"]


def test_consecutive_turns_merge_and_empty_assistant_turns_vanish() -> None:
    messages = [USER, {"role": "assistant", "content": ""}, {"role": "user", "content": "again"}]
    out = to_anthropic(messages=messages)
    assert out["messages"] == [
        {
            "role": "user",
            "content": [{"type": "text", "text": "hi"}, {"type": "text", "text": "again"}],
        }
    ]


def test_tool_results_come_first_in_their_turn() -> None:
    messages = [
        USER,
        {"role": "assistant", "content": "Checking.", "tool_calls": [CALL]},
        {"role": "user", "content": "hurry"},
        {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
    ]
    last = to_anthropic(messages=messages)["messages"][-1]["content"]
    assert [block["type"] for block in last] == ["tool_result", "text"]


def test_a_final_assistant_prefill_loses_trailing_whitespace() -> None:
    out = to_anthropic(messages=[USER, {"role": "assistant", "content": "The answer is "}])
    assert out["messages"][-1] == {
        "role": "assistant",
        "content": [{"type": "text", "text": "The answer is"}],
    }


def test_a_request_with_no_content_is_a_400() -> None:
    with pytest.raises(InvalidRequest):
        to_anthropic(messages=[{"role": "user", "content": "   "}])


def test_tool_ids_are_made_safe_the_same_way_on_call_and_result() -> None:
    call = {**CALL, "id": "functions.get weather:0"}
    messages = [
        USER,
        {"role": "assistant", "tool_calls": [call]},
        {"role": "tool", "tool_call_id": "functions.get weather:0", "content": "x"},
    ]
    out = to_anthropic(messages=messages)
    assert out["messages"][1]["content"][0]["id"] == "functions_get_weather_0"
    assert out["messages"][2]["content"][0]["tool_use_id"] == "functions_get_weather_0"


@pytest.mark.parametrize(
    ("choice", "expected"),
    [
        ("auto", {"type": "auto"}),
        ("required", {"type": "any"}),
        ("none", {"type": "none"}),
        (
            {"type": "function", "function": {"name": "get_weather"}},
            {"type": "tool", "name": "get_weather"},
        ),
    ],
)
def test_tool_choice_maps(choice: Any, expected: dict[str, Any]) -> None:
    assert to_anthropic(tools=[TOOL], tool_choice=choice)["tool_choice"] == expected


def test_parallel_tool_calls_false_alone_disables_parallel_use() -> None:
    out = to_anthropic(tools=[TOOL], parallel_tool_calls=False)
    assert out["tool_choice"] == {"type": "auto", "disable_parallel_tool_use": True}


def test_allowed_tools_sends_only_the_allowed_subset() -> None:
    other = {"type": "function", "function": {"name": "get_time"}}
    choice = {
        "type": "allowed_tools",
        "allowed_tools": {
            "mode": "required",
            "tools": [{"type": "function", "function": {"name": "get_time"}}],
        },
    }
    out = to_anthropic(tools=[TOOL, other], tool_choice=choice)
    assert [tool["name"] for tool in out["tools"]] == ["get_time"]
    assert out["tool_choice"] == {"type": "any"}


@pytest.mark.parametrize("fmt", [{"type": "json_object"}, {"type": "text"}])
def test_response_formats_without_a_schema_are_dropped(fmt: dict[str, Any]) -> None:
    assert "output_config" not in to_anthropic(response_format=fmt)


@pytest.mark.parametrize(
    ("fields", "user"), [({"user": "u"}, "u"), ({"safety_identifier": "s"}, "s"), ({}, None)]
)
def test_the_end_user_id_goes_to_metadata(fields: dict[str, Any], user: str | None) -> None:
    assert to_anthropic(**fields).get("metadata") == ({"user_id": user} if user else None)


def test_a_text_file_is_sent_as_a_text_document() -> None:
    data = base64.b64encode("héllo".encode()).decode()
    part = {"type": "file", "file": {"filename": "notes.txt", "file_data": data}}
    out = to_anthropic(messages=[{"role": "user", "content": [part]}])
    assert out["messages"][0]["content"] == [
        {
            "type": "document",
            "source": {"type": "text", "media_type": "text/plain", "data": "héllo"},
            "title": "notes.txt",
        }
    ]


def test_assistant_refusal_is_kept_as_text() -> None:
    out = to_anthropic(
        messages=[USER, {"role": "assistant", "content": None, "refusal": "No."}, USER]
    )
    assert out["messages"][1]["content"] == [{"type": "text", "text": "No."}]


BAD_REQUESTS = [
    ({"n": 2}, "n"),
    ({"functions": [{"name": "f"}]}, "functions"),
    ({"modalities": ["text", "audio"]}, "modalities"),
    ({"reasoning_effort": "extreme"}, "reasoning_effort"),
    ({"tools": [{"type": "custom", "custom": {"name": "patch"}}]}, "tools[0]"),
    ({"messages": [{"role": "function", "name": "f", "content": "x"}]}, "messages[0].role"),
    ({"messages": [{"role": "critic", "content": "x"}]}, "messages[0].role"),
    (
        {
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {"type": "input_audio", "input_audio": {"data": "", "format": "wav"}}
                    ],
                }
            ]
        },
        "messages[0].content[0]",
    ),
    (
        {
            "messages": [
                {"role": "user", "content": [{"type": "file", "file": {"file_id": "file-abc"}}]}
            ]
        },
        "messages[0].content[0]",
    ),
    (
        {
            "messages": [
                {
                    "role": "user",
                    "content": [{"type": "image_url", "image_url": {"url": "ftp://x/a.png"}}],
                }
            ]
        },
        "messages[0].content[0]",
    ),
    (
        {
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {"type": "image_url", "image_url": {"url": "data:image/png,rawbytes"}}
                    ],
                }
            ]
        },
        "messages[0].content[0]",
    ),
    (
        {
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {"type": "image_url", "image_url": {"url": "data:image/bmp;base64,Qk0="}}
                    ],
                }
            ]
        },
        "messages",
    ),
    (
        {
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {
                            "type": "file",
                            "file": {
                                "filename": "a.docx",
                                "file_data": "data:application/msword;base64,AA==",
                            },
                        }
                    ],
                }
            ]
        },
        "messages",
    ),
    ({"messages": [{"role": "user", "content": 5}]}, "messages[0].content"),
    ({"messages": [{"role": "tool", "content": "x"}]}, "messages[0].tool_call_id"),
    ({"temperature": "hot"}, "temperature"),
]


@pytest.mark.parametrize(("fields", "param"), BAD_REQUESTS)
def test_what_cannot_be_translated_is_a_400_naming_the_field(
    fields: dict[str, Any], param: str
) -> None:
    with pytest.raises(InvalidRequest) as caught:
        to_anthropic(**fields)
    assert caught.value.status == 400
    assert caught.value.param == param


@pytest.mark.parametrize("arguments", ['{"city": "Par', "[1, 2]", '"Paris"'])
def test_tool_arguments_that_are_not_a_json_object_are_a_clear_400(arguments: str) -> None:
    call = {
        "id": "call_9",
        "type": "function",
        "function": {"name": "get_weather", "arguments": arguments},
    }
    with pytest.raises(InvalidRequest) as caught:
        to_anthropic(messages=[USER, {"role": "assistant", "tool_calls": [call]}])
    assert "call_9" in caught.value.message and "get_weather" in caught.value.message
    assert "JSON object" in caught.value.message
