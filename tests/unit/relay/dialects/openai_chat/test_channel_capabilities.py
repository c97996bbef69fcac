"""Rendering a translated Chat Completions body per model capabilities, the built-in
families, and a channel's overrides (relay/dialects/openai_chat/channel_capabilities.py)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from relaygate.channels.spec import ChannelSpec, ModelOverride
from relaygate.core.errors import InvalidRequest
from relaygate.relay.dialects.openai_chat.capabilities import (
    UNKNOWN,
    ModelCapabilities,
    builtin_capabilities,
)
from relaygate.relay.dialects.openai_chat.channel_capabilities import model_capabilities
from relaygate.relay.translate import translate_request

TOOL: Any = {"name": "Bash", "input_schema": {"type": "object", "properties": {}}}
BODY: Any = {
    "model": "m",
    "max_tokens": 32000,
    "temperature": 0.5,
    "top_p": 0.9,
    "stop_sequences": ["END"],
    "thinking": {"type": "enabled", "budget_tokens": 31999},
    "system": "Be terse.",
    "tools": [TOOL],
    "tool_choice": {"type": "any", "disable_parallel_tool_use": True},
    "messages": [
        {"role": "user", "content": "hi"},
        {"role": "system", "content": "Agents: none."},
    ],
}


def render(capabilities: ModelCapabilities, **fields: Any) -> dict[str, Any]:
    return translate_request("anthropic", "openai", {**BODY, **fields}, capabilities=capabilities)


def test_unknown_models_get_every_field_the_caller_asked_for() -> None:
    out = render(UNKNOWN)
    assert (out["max_tokens"], out["temperature"], out["top_p"]) == (32000, 0.5, 0.9)
    assert (out["stop"], out["reasoning_effort"]) == (["END"], "high")
    assert (out["tool_choice"], out["parallel_tool_calls"]) == ("required", False)
    assert [m["role"] for m in out["messages"]] == ["system", "user", "system"]


def test_a_reasoning_model_gets_max_completion_tokens_and_no_sampling() -> None:
    out = render(builtin_capabilities("o3"), stop_sequences=[])
    assert out["max_completion_tokens"] == 32000 and "max_tokens" not in out
    assert not {"temperature", "top_p", "stop", "parallel_tool_calls"} & set(out)
    assert out["reasoning_effort"] == "high" and out["tool_choice"] == "required"
    assert [m["role"] for m in out["messages"]] == ["developer", "user", "developer"]


def test_a_chat_model_never_gets_reasoning_effort_and_is_capped() -> None:
    out = render(builtin_capabilities("gpt-4o-2024-11-20"))
    assert "reasoning_effort" not in out and out["max_tokens"] == 16384
    assert out["temperature"] == 0.5 and out["parallel_tool_calls"] is False


def test_a_smaller_limit_than_the_models_is_kept() -> None:
    assert render(builtin_capabilities("gpt-4o"), max_tokens=100)["max_tokens"] == 100


def test_deepseek_reasoner_gets_no_tool_choice_nor_effort() -> None:
    out = render(builtin_capabilities("deepseek-reasoner"), tool_choice={"type": "auto"})
    assert not {"tool_choice", "reasoning_effort", "temperature", "top_p"} & set(out)
    assert out["max_tokens"] == 32000 and "parallel_tool_calls" not in out


def test_stop_sequences_to_a_model_that_refuses_them_are_a_400() -> None:
    with pytest.raises(InvalidRequest) as refused:
        render(builtin_capabilities("gpt-5-mini"))
    assert refused.value.param == "stop_sequences"


def test_o1_mini_gets_instructions_as_user_text() -> None:
    out = render(builtin_capabilities("o1-mini"), stop_sequences=[])
    assert [m["role"] for m in out["messages"]] == ["user", "user", "user"]
    assert "reasoning_effort" not in out


def test_a_template_that_takes_system_text_only_first_gets_it_joined() -> None:
    out = render(builtin_capabilities("Qwen/Qwen3-32B"))
    assert out["messages"] == [
        {"role": "system", "content": "Be terse.\n\nAgents: none."},
        {"role": "user", "content": "hi"},
    ]


def test_mid_conversation_system_text_alone_becomes_the_leading_message() -> None:
    caps = ModelCapabilities(mid_conversation_system=False)
    out = render(caps, system=None)
    assert out["messages"][0] == {"role": "system", "content": "Agents: none."}


def test_parallel_tool_calls_and_tool_choice_only_with_tools() -> None:
    out = render(UNKNOWN, tools=[{"type": "web_search_20250305", "name": "web_search"}])
    assert not {"tools", "tool_choice", "parallel_tool_calls"} & set(out)


@pytest.mark.parametrize(
    ("name", "family"),
    [
        ("o3-mini-2025-01-31", "o-series"),
        ("openai/o4-mini", "o-series"),
        ("O1", "o-series"),
        ("gpt-5.1-codex", "gpt-5"),
        ("gpt-5-chat-latest", "chat"),
        ("gpt-4.1-mini", "chat"),
        ("deepseek/deepseek-r1", "deepseek-r1"),
        ("claude-sonnet-4-5", "unknown"),
        ("my-deployment", "unknown"),
    ],
)
def test_families_are_known_by_name(name: str, family: str) -> None:
    caps = builtin_capabilities(name)
    expected = {
        "o-series": (False, "max_completion_tokens", False),
        "gpt-5": (False, "max_completion_tokens", True),
        "chat": (True, "max_tokens", True),
        "deepseek-r1": (False, "max_tokens", True),
        "unknown": (True, "max_tokens", True),
    }[family]
    assert (caps.sampling, caps.max_tokens_field, caps.parallel_tool_calls) == expected
    assert caps.reasoning_effort is (family not in ("chat", "deepseek-r1"))


def _channel(*overrides: ModelOverride, max_output_tokens: int | None = None) -> ChannelSpec:
    return ChannelSpec(
        id=1, name="c", type="openai", base_url="http://x", api_key="k", models={},
        max_output_tokens=max_output_tokens, model_overrides=overrides,
    )  # fmt: skip


def test_the_upstream_name_is_known_before_the_public_one() -> None:
    caps = model_capabilities(_channel(), "deepseek-reasoner", "claude-sonnet-4-5")
    assert caps == builtin_capabilities("deepseek-reasoner")
    # an Azure deployment name says nothing; the public name does
    assert model_capabilities(_channel(), "prod-7", "gpt-4o") == builtin_capabilities("gpt-4o")


def test_the_channels_output_limit_replaces_the_familys() -> None:
    assert (
        model_capabilities(_channel(max_output_tokens=8192), "o3", "o3").max_output_tokens == 8192
    )


def test_the_most_specific_override_wins_whatever_its_order() -> None:
    loose = ModelOverride("o*", max_output_tokens=1000)
    closer = ModelOverride("o3*", max_output_tokens=2000)
    exact = ModelOverride("o3-pro", max_output_tokens=3000)
    for order in ((loose, closer, exact), (exact, closer, loose)):
        channel = _channel(*order, max_output_tokens=500)
        assert model_capabilities(channel, "o3-pro", "x").max_output_tokens == 3000
        assert model_capabilities(channel, "o3", "x").max_output_tokens == 2000
        assert model_capabilities(channel, "o4-mini", "x").max_output_tokens == 1000
        assert model_capabilities(channel, "gpt-4o", "x").max_output_tokens == 500


def test_reasoning_is_a_shorthand_that_explicit_fields_refine() -> None:
    channel = _channel(ModelOverride("local-*", reasoning=True, sampling=True))
    caps = model_capabilities(channel, "local-r1", "local-r1")
    assert caps == replace(UNKNOWN, reasoning_effort=True, sampling=True)
    off = model_capabilities(_channel(ModelOverride("gpt-5*", reasoning=False)), "gpt-5", "g")
    assert (off.reasoning_effort, off.sampling) == (False, True)
    assert off.max_tokens_field == "max_completion_tokens"  # the family's, untouched


def test_a_forced_tool_choice_is_sent_even_where_refused() -> None:
    """Leaving ``any`` out would let the model answer without a tool: the caller gets the
    upstream's refusal instead of another answer."""
    caps = builtin_capabilities("deepseek-reasoner")
    assert render(caps)["tool_choice"] == "required"
    assert "tool_choice" not in render(caps, tool_choice={"type": "auto"})


def test_reasoning_goes_back_only_to_models_that_want_it() -> None:
    turn = [
        {"type": "thinking", "thinking": "Use the tool.", "signature": ""},
        {"type": "tool_use", "id": "t1", "name": "Bash", "input": {}},
    ]
    result = [{"type": "tool_result", "tool_use_id": "t1", "content": "ok"}]
    messages = [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": turn},
        {"role": "user", "content": result},
        {"role": "assistant", "content": "Done."},
    ]
    deepseek = render(builtin_capabilities("deepseek-reasoner"), messages=messages,
                      tool_choice=None)  # fmt: skip
    assistants = [m for m in deepseek["messages"] if m["role"] == "assistant"]
    assert [m["reasoning_content"] for m in assistants] == ["Use the tool.", ""]
    plain = render(UNKNOWN, messages=messages, tool_choice=None)
    assert not any("reasoning_content" in m for m in plain["messages"])
