"""Prompt-cache marks (``cache_control``) from both OpenAI dialects to Anthropic.

OpenAI-format clients mark cache breakpoints the way OpenRouter documents: Anthropic's
``cache_control`` on a content part, a ``tool_calls`` entry, a ``tools`` entry (or on a
message). Each mark must reach the Anthropic block it was on, with its ``ttl``; at most
four reach Anthropic (it refuses more), the earliest extras dropped.
"""

from __future__ import annotations

import base64
from typing import Any

import pytest

from relaygate.core.errors import InvalidRequest
from relaygate.relay.canonical.messages import CacheMark, Text
from relaygate.relay.dialects.anthropic_messages.request_from_canonical import MAX_BREAKPOINTS
from relaygate.relay.dialects.content import with_cache
from relaygate.relay.translate import ANTHROPIC, OPENAI, translate_request
from relaygate.relay.translate_responses import responses_request_to
from tests.unit.relay.dialects.spec import assert_anthropic_request

EPHEMERAL: Any = {"type": "ephemeral"}
HOUR: Any = {"type": "ephemeral", "ttl": "1h"}
PNG = "data:image/png;base64," + base64.b64encode(b"\x89PNG fake").decode()
TOOL: Any = {
    "type": "function",
    "function": {"name": "get_weather", "parameters": {"type": "object"}},
}
CALL: Any = {
    "id": "call_1",
    "type": "function",
    "function": {"name": "get_weather", "arguments": "{}"},
}


def to_anthropic(messages: list[Any], **fields: Any) -> dict[str, Any]:
    body = {"model": "claude-x", "messages": messages, **fields}
    out = translate_request(OPENAI, ANTHROPIC, body, default_max_tokens=1024)
    assert_anthropic_request(out)
    return out


def marks(out: dict[str, Any]) -> list[tuple[str, Any]]:
    """(where, cache_control) of every marked block, in Anthropic's prefix order."""
    found = [("tools", t["cache_control"]) for t in out.get("tools", []) if "cache_control" in t]
    found += [("system", b["cache_control"]) for b in out.get("system", []) if "cache_control" in b]
    for turn in out["messages"]:
        for block in turn["content"]:
            if "cache_control" in block:
                found.append((block["type"], block["cache_control"]))
            nested = block.get("content")
            if isinstance(nested, list):
                assert all("cache_control" not in item for item in nested)
    return found


def test_a_marked_system_part_becomes_a_marked_system_block() -> None:
    system = {
        "role": "system",
        "content": [
            {"type": "text", "text": "You are terse."},
            {"type": "text", "text": "<a long document>", "cache_control": EPHEMERAL},
        ],
    }
    out = to_anthropic([system, {"role": "user", "content": "hi"}])
    assert out["system"] == [
        {"type": "text", "text": "You are terse."},
        {"type": "text", "text": "<a long document>", "cache_control": {"type": "ephemeral"}},
    ]
    assert marks(out) == [("system", EPHEMERAL)]


def test_a_developer_message_mark_and_its_ttl_are_kept() -> None:
    developer = {
        "role": "developer",
        "content": [{"type": "text", "text": "Rules", "cache_control": HOUR}],
    }
    out = to_anthropic([developer, {"role": "user", "content": "hi"}])
    assert out["system"] == [{"type": "text", "text": "Rules", "cache_control": HOUR}]


def test_marked_user_text_image_and_file_parts() -> None:
    pdf = base64.b64encode(b"%PDF-1.4 fake").decode()
    user = {
        "role": "user",
        "content": [
            {"type": "text", "text": "Look:", "cache_control": EPHEMERAL},
            {"type": "image_url", "image_url": {"url": PNG}, "cache_control": HOUR},
            {
                "type": "file",
                "file": {"filename": "a.pdf", "file_data": pdf},
                "cache_control": EPHEMERAL,
            },
            {"type": "text", "text": "What is it?"},
        ],
    }
    out = to_anthropic([user])
    blocks = out["messages"][0]["content"]
    assert [b["type"] for b in blocks] == ["text", "image", "document", "text"]
    assert [b.get("cache_control") for b in blocks] == [EPHEMERAL, HOUR, EPHEMERAL, None]


def test_marked_tool_call_tool_result_and_tool_definition() -> None:
    marked_call = {**CALL, "cache_control": EPHEMERAL}
    out = to_anthropic(
        [
            {"role": "user", "content": "Weather in Paris?"},
            {"role": "assistant", "content": None, "tool_calls": [marked_call]},
            {
                "role": "tool",
                "tool_call_id": "call_1",
                "content": [{"type": "text", "text": "sunny", "cache_control": HOUR}],
            },
        ],
        tools=[{**TOOL, "cache_control": EPHEMERAL}],
    )
    assert out["tools"][0]["cache_control"] == EPHEMERAL
    tool_use = out["messages"][1]["content"][0]
    assert tool_use["type"] == "tool_use" and tool_use["cache_control"] == EPHEMERAL
    result = out["messages"][2]["content"][0]
    # the text part's mark moves to the tool_result, whose content is sent as a string
    assert result == {
        "type": "tool_result",
        "tool_use_id": "call_1",
        "content": "sunny",
        "cache_control": HOUR,
    }


def test_a_mark_on_a_message_marks_its_last_block() -> None:
    out = to_anthropic(
        [
            {"role": "system", "content": "Be brief.", "cache_control": EPHEMERAL},
            {"role": "user", "content": "A long question", "cache_control": EPHEMERAL},
        ]
    )
    assert out["system"] == [{"type": "text", "text": "Be brief.", "cache_control": EPHEMERAL}]
    assert out["messages"][0]["content"] == [
        {"type": "text", "text": "A long question", "cache_control": EPHEMERAL}
    ]


def test_a_mark_on_a_tool_message_marks_the_tool_result() -> None:
    out = to_anthropic(
        [
            {"role": "user", "content": "Weather?"},
            {"role": "assistant", "content": None, "tool_calls": [CALL]},
            {
                "role": "tool",
                "tool_call_id": "call_1",
                "content": "rain",
                "cache_control": EPHEMERAL,
            },
        ],
        tools=[TOOL],
    )
    assert out["messages"][2]["content"][0]["cache_control"] == EPHEMERAL


def test_without_marks_nothing_is_marked() -> None:
    out = to_anthropic(
        [{"role": "system", "content": "s"}, {"role": "user", "content": "hi"}], tools=[TOOL]
    )
    assert marks(out) == []


def test_only_the_last_four_marks_reach_anthropic() -> None:
    system = {"role": "system", "content": [{"type": "text", "text": "S", "cache_control": HOUR}]}
    users = [
        {"role": "user" if i % 2 == 0 else "assistant",
         "content": [{"type": "text", "text": f"turn {i}", "cache_control": EPHEMERAL}]}
        for i in range(4)
    ]  # fmt: skip
    out = to_anthropic([system, *users], tools=[{**TOOL, "cache_control": HOUR}])
    assert len(marks(out)) == MAX_BREAKPOINTS == 4
    # tools, then system, come first in Anthropic's prefix: they are the ones dropped
    assert "cache_control" not in out["tools"][0]
    assert "cache_control" not in out["system"][0]
    assert [turn["content"][0]["cache_control"] for turn in out["messages"]] == [EPHEMERAL] * 4


@pytest.mark.parametrize(
    ("mark", "param"),
    [
        ({"type": "persistent"}, "messages[0].content[0].cache_control"),
        ("ephemeral", "messages[0].content[0].cache_control"),
        ({"type": "ephemeral", "ttl": "10m"}, "messages[0].content[0].cache_control.ttl"),
    ],
)
def test_a_mark_anthropic_would_refuse_is_a_400_naming_it(mark: Any, param: str) -> None:
    user = {"role": "user", "content": [{"type": "text", "text": "hi", "cache_control": mark}]}
    with pytest.raises(InvalidRequest) as caught:
        to_anthropic([user])
    assert caught.value.param == param


def test_with_cache_keeps_an_unmarked_block_as_it_is() -> None:
    block = Text("x")
    assert with_cache(block, {"type": "text"}, "p") is block
    assert with_cache(block, {"cache_control": HOUR}, "p") == Text("x", CacheMark("1h"))


def test_responses_input_parts_and_function_tools_keep_their_marks() -> None:
    body = {
        "model": "claude-x",
        "instructions": "Be brief.",
        "input": [
            {
                "role": "developer",
                "content": [{"type": "input_text", "text": "Rules", "cache_control": HOUR}],
            },
            {
                "role": "user",
                "content": [
                    {"type": "input_text", "text": "<document>", "cache_control": EPHEMERAL},
                    {"type": "input_image", "image_url": PNG, "cache_control": EPHEMERAL},
                    {"type": "input_text", "text": "Summarise it."},
                ],
            },
        ],
        "tools": [
            {
                "type": "function",
                "name": "lookup",
                "parameters": {"type": "object"},
                "cache_control": EPHEMERAL,
            }
        ],
    }
    out = responses_request_to(ANTHROPIC, body, [], default_max_tokens=1024)
    assert_anthropic_request(out)
    assert out["tools"][0]["cache_control"] == EPHEMERAL
    assert out["system"] == [
        {"type": "text", "text": "Be brief."},
        {"type": "text", "text": "Rules", "cache_control": HOUR},
    ]
    blocks = out["messages"][0]["content"]
    assert [b.get("cache_control") for b in blocks] == [EPHEMERAL, EPHEMERAL, None]
