"""Inbound Responses requests: what ``inspect`` checks, and how each rule of the request
translation (docs/compatibility.md, "Responses API") plays out on the canonical request."""

from __future__ import annotations

from typing import Any

import pytest

from relaygate.core.errors import InvalidRequest
from relaygate.relay.canonical.messages import (
    Base64Source,
    Document,
    Image,
    Message,
    Reasoning,
    RedactedThinking,
    ResponseSchema,
    Text,
    Thinking,
    ToolCall,
    ToolChoice,
    ToolResult,
    UrlSource,
)
from relaygate.relay.dialects.openai_responses.convert import parse_request
from relaygate.relay.dialects.openai_responses.request import RESPONSES, inspect, max_output
from relaygate.relay.dialects.openai_responses.tools import MAX_NAME, flat_name

FN = {"type": "function", "name": "f", "parameters": {"type": "object", "properties": {}}}


def parse(history: list[dict[str, Any]] | None = None, **body: Any) -> Any:
    return parse_request({"model": "m", **body}, history or [])


def refused(param: str, history: list[dict[str, Any]] | None = None, **body: Any) -> str:
    with pytest.raises(InvalidRequest) as caught:
        parse(history, **body)
    assert caught.value.status == 400
    assert caught.value.param == param, caught.value.message
    return caught.value.message


# --- inspect ----------------------------------------------------------------------------


def test_inspect_returns_what_routing_needs() -> None:
    facts = inspect(RESPONSES, {"model": "gpt-5", "input": "hi", "stream": True})
    assert (facts.model, facts.stream, facts.include_usage) == ("gpt-5", True, True)
    assert not inspect(RESPONSES, {"model": "m", "previous_response_id": "resp_1"}).stream


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"input": "hi"}, "model"),
        ({"model": "", "input": "hi"}, "model"),
        ({"model": "m"}, "input"),
        ({"model": "m", "input": 3}, "input"),
        ({"model": "m", "input": ["hi"]}, "input[0]"),
        ({"model": "m", "input": [{"content": "no role"}]}, "input[0]"),
        ({"model": "m", "input": "hi", "stream": "yes"}, "stream"),
        ({"model": "m", "input": "hi", "previous_response_id": 7}, "previous_response_id"),
        ({"model": "m", "input": "hi", "conversation": {"name": "x"}}, "conversation"),
    ],
)
def test_inspect_refuses_malformed_bodies(body: dict[str, Any], param: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        inspect(RESPONSES, body)
    assert caught.value.param == param


def test_previous_response_id_and_conversation_are_mutually_exclusive() -> None:
    body = {"model": "m", "input": "hi", "previous_response_id": "resp_1", "conversation": "conv_1"}
    with pytest.raises(InvalidRequest) as caught:
        inspect(RESPONSES, body)
    assert caught.value.code == "mutually_exclusive_parameters"
    assert caught.value.message == (
        "Mutually exclusive parameters: Ensure you are only providing one of: "
        "'previous_response_id' or 'conversation'."
    )


def test_inspect_is_for_the_responses_endpoint_only() -> None:
    with pytest.raises(ValueError, match="not a Responses endpoint"):
        inspect("chat/completions", {"model": "m", "input": "x"})


def test_max_output() -> None:
    assert max_output(RESPONSES, {"max_output_tokens": 300}, 4096) == 300
    assert max_output(RESPONSES, {"max_output_tokens": True}, 4096) == 4096
    assert max_output(RESPONSES, {}, 4096) == 4096
    assert max_output("embeddings", {"max_output_tokens": 300}, 4096) == 0


# --- the conversation -------------------------------------------------------------------


def test_a_string_input_is_one_user_message() -> None:
    request = parse(input="hello", instructions="Be nice.")
    assert request.system == [Text("Be nice.")]
    assert request.messages == [Message("user", [Text("hello")])]


def test_instructions_come_first_and_leading_developer_messages_follow() -> None:
    request = parse(
        [{"type": "message", "role": "developer", "content": "stored rule"}],
        instructions="new rule",
        input=[{"role": "system", "content": [{"type": "input_text", "text": "sys"}]}],
    )
    assert request.system == [Text("new rule"), Text("stored rule"), Text("sys")]
    assert request.messages == []


def test_a_later_system_message_stays_in_place() -> None:
    request = parse(input=[{"role": "user", "content": "a"}, {"role": "developer", "content": "b"}])
    assert request.messages == [Message("user", [Text("a")]), Message("system", [Text("b")])]


def test_assistant_side_items_form_one_turn_and_outputs_the_next() -> None:
    request = parse(
        input=[
            {"role": "user", "content": "go"},
            {
                "type": "message",
                "role": "assistant",
                "content": [{"type": "output_text", "text": "ok"}],
            },
            {"type": "function_call", "call_id": "c1", "name": "f", "arguments": '{"a":1}'},
            {
                "type": "function_call",
                "call_id": "c2",
                "namespace": "ns",
                "name": "g",
                "arguments": "",
            },
            {"type": "function_call_output", "call_id": "c1", "output": "one"},
            {
                "type": "function_call_output",
                "call_id": "c2",
                "output": [{"type": "input_text", "text": "two"}],
            },
        ]
    )
    assert request.messages[1:] == [
        Message(
            "assistant", [Text("ok"), ToolCall("c1", "f", {"a": 1}), ToolCall("c2", "ns__g", {})]
        ),
        Message("user", [ToolResult("c1", (Text("one"),)), ToolResult("c2", (Text("two"),))]),
    ]


def test_reasoning_items_are_dropped_unless_the_gateway_made_them() -> None:
    openai_reasoning = {
        "type": "reasoning",
        "id": "rs_1",
        "summary": [],
        "encrypted_content": "gAAA",
    }
    signed = {
        "type": "reasoning",
        "id": "rs_2",
        "summary": [],
        "content": [{"type": "reasoning_text", "text": "think"}],
        "encrypted_content": "relaygate.thinking.v1:sig",
    }
    redacted = {
        "type": "reasoning",
        "id": "rs_3",
        "summary": [],
        "encrypted_content": "relaygate.redacted_thinking.v1:blob",
    }
    request = parse(input=[{"role": "user", "content": "q"}, openai_reasoning, signed, redacted])
    assert request.messages[1] == Message(
        "assistant", [Thinking("think", "sig"), RedactedThinking("blob")]
    )
    assert len(request.messages) == 2


def test_hosted_tool_traces_are_dropped() -> None:
    trace = {
        "type": "web_search_call",
        "id": "ws_1",
        "status": "completed",
        "action": {"type": "search"},
    }
    assert parse(input=[{"role": "user", "content": "q"}, trace]).messages == [
        Message("user", [Text("q")])
    ]


def test_item_references_resolve_against_earlier_items() -> None:
    history = [{"type": "message", "id": "msg_a", "role": "user", "content": "first"}]
    request = parse(history, input=[{"type": "item_reference", "id": "msg_a"}])
    assert request.messages == [Message("user", [Text("first")])] * 2
    refused("input[0]", input=[{"type": "item_reference", "id": "msg_missing"}])


def test_media_parts() -> None:
    request = parse(
        input=[
            {
                "role": "user",
                "content": [
                    {
                        "type": "input_image",
                        "image_url": "data:image/jpg;base64,AAA",
                        "detail": "low",
                    },
                    {"type": "input_image", "image_url": "https://x.test/a.png"},
                    {"type": "input_file", "filename": "notes.txt", "file_data": "aGk="},
                    {"type": "input_file", "file_url": "https://x.test/a.pdf"},
                ],
            }
        ]
    )
    assert request.messages[0].content == [
        Image(Base64Source("image/jpeg", "AAA")),
        Image(UrlSource("https://x.test/a.png")),
        Document(Base64Source("text/plain", "aGk="), "notes.txt"),
        Document(UrlSource("https://x.test/a.pdf")),
    ]


@pytest.mark.parametrize(
    ("item", "param"),
    [
        (
            {"role": "user", "content": [{"type": "input_image", "file_id": "file_1"}]},
            "input[0].content[0].file_id",
        ),
        (
            {"role": "user", "content": [{"type": "input_file", "file_id": "file_1"}]},
            "input[0].content[0].file_id",
        ),
        (
            {"role": "user", "content": [{"type": "input_image", "image_url": "ftp://x"}]},
            "input[0].content[0].image_url",
        ),
        ({"role": "user", "content": [{"type": "input_audio"}]}, "input[0].content[0].type"),
        (
            {"role": "system", "content": [{"type": "input_image", "image_url": "https://x"}]},
            "input[0].content[0]",
        ),
        ({"role": "tool", "content": "x"}, "input[0].role"),
        (
            {"type": "function_call", "call_id": "c", "name": "f", "arguments": "[1]"},
            "input[0].arguments",
        ),
        ({"type": "custom_tool_call", "call_id": "c", "name": "f", "input": "x"}, "input[0].type"),
        ({"type": "function_call_output", "output": "x"}, "input[0].call_id"),
    ],
)
def test_untranslatable_items_are_refused(item: dict[str, Any], param: str) -> None:
    refused(param, input=[item])


def test_stored_prompts_are_refused() -> None:
    refused("prompt", input="x", prompt={"id": "pmpt_1"})


# --- tools and parameters ---------------------------------------------------------------


def test_namespace_tools_are_flattened_and_hosted_tools_dropped() -> None:
    request = parse(
        input="x",
        tools=[
            FN,
            {
                "type": "namespace",
                "name": "crm",
                "description": "CRM.",
                "tools": [{**FN, "name": "find"}],
            },
            {"type": "web_search", "external_web_access": False},
            {"type": "file_search", "vector_store_ids": ["vs"]},
            {"type": "code_interpreter", "container": {"type": "auto"}},
        ],
        tool_choice="required",
        parallel_tool_calls=False,
    )
    assert [(tool.name, tool.description) for tool in request.tools] == [
        ("f", None),
        ("crm__find", "CRM."),
    ]
    assert request.tool_choice == ToolChoice("required")
    assert request.parallel_tool_calls is False


def test_the_flat_name_is_codexs_and_fits_the_limit() -> None:
    assert flat_name("mcp__github__", "_create_issue") == "mcp__github__create_issue"
    long = flat_name("n" * 60, "tool")
    assert len(long) == MAX_NAME and long == flat_name("n" * 60, "tool")
    assert long != flat_name("n" * 60, "tool2")


def test_only_hosted_tools_leave_no_tools_and_no_choice() -> None:
    request = parse(input="x", tools=[{"type": "web_search"}], tool_choice="required")
    assert (request.tools, request.tool_choice, request.parallel_tool_calls) == ([], None, None)


@pytest.mark.parametrize(
    "kind", ["custom", "computer_use_preview", "local_shell", "apply_patch", "shell"]
)
def test_client_side_special_tools_are_refused(kind: str) -> None:
    message = refused("tools[0].type", input="x", tools=[{"type": kind, "name": "t"}])
    assert repr(kind) in message


def test_tool_choices() -> None:
    tools = [
        FN,
        {**FN, "name": "g"},
        {"type": "namespace", "name": "ns", "description": "", "tools": [{**FN, "name": "h"}]},
    ]
    forced = parse(input="x", tools=tools, tool_choice={"type": "function", "name": "g"})
    assert forced.tool_choice == ToolChoice("tool", "g")
    allowed = parse(
        input="x",
        tools=tools,
        tool_choice={
            "type": "allowed_tools",
            "mode": "required",
            "tools": [{"type": "function", "name": "g"}, {"type": "namespace", "name": "ns"}],
        },
    )
    assert [tool.name for tool in allowed.tools] == ["g", "ns__h"]
    assert allowed.tool_choice == ToolChoice("required")
    refused("tool_choice", input="x", tools=tools, tool_choice={"type": "web_search_preview"})
    refused("tools", input="x", tools=[FN, FN])


def test_parameters() -> None:
    schema = {"type": "object", "properties": {"a": {"type": "string"}}}
    request = parse(
        input="x",
        stream=True,
        max_output_tokens=100,
        temperature=0.2,
        top_p=0.5,
        reasoning={"effort": "high", "summary": "auto"},
        text={"format": {"type": "json_schema", "name": "out", "schema": schema, "strict": True}},
        safety_identifier="u1",
        metadata={"k": "v"},
    )
    assert request.stream and request.max_tokens == 100
    assert (request.temperature, request.top_p) == (0.2, 0.5)
    assert request.reasoning == Reasoning(effort="high")
    assert request.response_schema == ResponseSchema(schema, "out", True)
    assert request.user == "u1"


def test_reasoning_needs_an_effort_and_json_object_has_no_mapping() -> None:
    assert parse(input="x", reasoning={"summary": "auto"}).reasoning is None
    assert parse(input="x", reasoning={"effort": "none"}).reasoning is None
    assert parse(input="x", text={"format": {"type": "json_object"}}).response_schema is None
    refused("reasoning.effort", input="x", reasoning={"effort": "extreme"})
    refused("max_output_tokens", input="x", max_output_tokens=0)
