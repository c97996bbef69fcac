"""Claude Code's body, translated for OpenAI-compatible models that refuse fields.

The ``anthropic`` SDK sends what Claude Code sends (billing-header and cached system
blocks, a mid-conversation ``system`` message, tools, a 31,999-token thinking budget,
``max_tokens`` 32,000, ``metadata.user_id`` as a JSON string) to channels whose fake
models refuse what the real ones refuse, with the real error texts
(tests/fakes/openai_model_rules.py): an o3-like reasoning model, a gpt-4o-like chat
model, a deepseek-reasoner-like model and a vLLM server with a Qwen template. Every
call must be accepted, streamed or not; the upstream's body shows why. A channel's
``options.model_capabilities`` teaches the gateway a model it cannot know by name.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import anthropic
import openai
import pytest

from tests.fakes.openai_model_rules import (
    deepseek_reasoner_like,
    gpt4o_like,
    o3_like,
    qwen_template_like,
)
from tests.fakes.openai_upstream import FakeOpenAI
from tests.harness import Gateway

BILLING = "x-anthropic-billing-header: cc_version=2.1.330.a1b; cc_entrypoint=sdk-cli;"
SYSTEM: Any = [
    {"type": "text", "text": BILLING},
    {"type": "text", "text": "You are Claude Code.", "cache_control": {"type": "ephemeral"}},
    {"type": "text", "text": "Working directory: /work", "cache_control": {"type": "ephemeral"}},
]  # fmt: skip
TOOLS: Any = [
    {
        "name": "Bash",
        "description": "Run a shell command.",
        "input_schema": {"type": "object", "properties": {"command": {"type": "string"}},
                         "required": ["command"]},
    },
    {
        "name": "Read",
        "description": "Read a file.",
        "input_schema": {"type": "object", "properties": {"path": {"type": "string"}}},
        "defer_loading": True,
    },
]  # fmt: skip
MESSAGES: Any = [
    {"role": "user", "content": [
        {"type": "text", "text": "<system-reminder>Today is Monday.</system-reminder>"},
        {"type": "text", "text": "List the files."},
    ]},
    {"role": "system", "content": [
        {"type": "text", "text": "Available agent types: general-purpose.",
         "cache_control": {"type": "ephemeral"}},
    ]},
]  # fmt: skip
USER_ID = json.dumps({"device_id": "4f1c9a" * 10, "account_uuid": "", "session_id": "9b2e71"})
CLAUDE_CODE: Any = {
    "max_tokens": 32000,
    "thinking": {"type": "enabled", "budget_tokens": 31999},
    "metadata": {"user_id": USER_ID},
    "system": SYSTEM,
    "tools": TOOLS,
    # what an SDK caller (not Claude Code itself) adds: serial tool calls
    "tool_choice": {"type": "auto", "disable_parallel_tool_use": True},
    "messages": MESSAGES,
}
RULES = {
    "o3": o3_like,
    "gpt-4o": gpt4o_like,
    "deepseek-reasoner": deepseek_reasoner_like,
    "qwen3-32b": qwen_template_like,
}


def _channel(gw: Gateway, fake: FakeOpenAI, upstream: str, **options: Any) -> str:
    """A channel serving ``upstream`` under a fresh public name (as Claude Code would ask
    for it), whose fake model refuses what the real one does."""
    model = f"cc-{upstream}-{uuid.uuid4().hex[:6]}"
    fake.refuse[upstream] = RULES.get(upstream, gpt4o_like)
    extra = {"options": {"model_capabilities": options}} if options else {}
    gw.add_channel(fake, models={model: upstream}, **extra)
    return model


def _sdk(gw: Gateway) -> anthropic.Anthropic:
    key = gw.make_user_key()
    return anthropic.Anthropic(base_url=gw.url, api_key=key.key, max_retries=0)


def _create(sdk: anthropic.Anthropic, model: str, stream: bool) -> str:
    """The answer's text, streamed through the SDK's helper or whole (with a timeout, as
    Claude Code's own non-streamed retry sets: the SDK refuses 32,000 tokens without)."""
    if stream:
        with sdk.messages.stream(model=model, **CLAUDE_CODE) as events:
            message = events.get_final_message()
    else:
        message = sdk.messages.create(model=model, timeout=300, **CLAUDE_CODE)
    return "".join(block.text for block in message.content if block.type == "text")


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
def test_o3_gets_a_reasoning_body(sqlite_gateway: Gateway, fake: FakeOpenAI, stream: bool) -> None:
    model = _channel(sqlite_gateway, fake, "o3")
    assert _create(_sdk(sqlite_gateway), model, stream) == "Hello from the fake upstream."
    sent = fake.requests[-1].body
    assert (sent["max_completion_tokens"], sent["reasoning_effort"]) == (32000, "high")
    assert "max_tokens" not in sent and "parallel_tool_calls" not in sent
    assert sent["tool_choice"] == "auto" and len(sent["tools"]) == 2
    assert [m["role"] for m in sent["messages"]] == ["developer", "user", "developer"]
    assert sent["messages"][0]["content"] == "You are Claude Code.\n\nWorking directory: /work"
    assert sent["user"] == USER_ID


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
def test_gpt_4o_gets_no_reasoning_effort_and_its_own_limit(
    sqlite_gateway: Gateway, fake: FakeOpenAI, stream: bool
) -> None:
    model = _channel(sqlite_gateway, fake, "gpt-4o")
    assert _create(_sdk(sqlite_gateway), model, stream) == "Hello from the fake upstream."
    sent = fake.requests[-1].body
    assert sent["max_tokens"] == 16384 and "reasoning_effort" not in sent
    assert sent["parallel_tool_calls"] is False and sent["tool_choice"] == "auto"
    assert [m["role"] for m in sent["messages"]] == ["system", "user", "system"]


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
def test_deepseek_reasoner_gets_no_tool_choice(
    sqlite_gateway: Gateway, fake: FakeOpenAI, stream: bool
) -> None:
    model = _channel(sqlite_gateway, fake, "deepseek-reasoner")
    assert _create(_sdk(sqlite_gateway), model, stream) == "Hello from the fake upstream."
    sent = fake.requests[-1].body
    assert "tool_choice" not in sent and "reasoning_effort" not in sent
    assert sent["max_tokens"] == 32000 and len(sent["tools"]) == 2
    assert [m["role"] for m in sent["messages"]] == ["system", "user", "system"]


def test_a_qwen_template_gets_one_leading_system_message(
    sqlite_gateway: Gateway, fake: FakeOpenAI
) -> None:
    model = _channel(sqlite_gateway, fake, "qwen3-32b")
    assert _create(_sdk(sqlite_gateway), model, True) == "Hello from the fake upstream."
    sent = fake.requests[-1].body
    assert [m["role"] for m in sent["messages"]] == ["system", "user"]
    assert sent["messages"][0]["content"].endswith("\n\nAvailable agent types: general-purpose.")


def test_channel_options_teach_a_model_the_gateway_cannot_know(
    sqlite_gateway: Gateway, fake: FakeOpenAI
) -> None:
    """An Azure-style deployment name says nothing of the model behind it: without the
    channel's word the call carries reasoning_effort and 32,000 tokens, which the
    gpt-4o behind it refuses; with it the call is accepted."""
    sdk = _sdk(sqlite_gateway)
    unknown = _channel(sqlite_gateway, fake, "prod-deploy-7")
    with pytest.raises(anthropic.BadRequestError, match="reasoning_effort"):
        sdk.messages.create(model=unknown, timeout=300, **CLAUDE_CODE)
    taught = _channel(
        sqlite_gateway, fake, "prod-deploy-7",
        **{"prod-deploy-*": {"reasoning": False, "max_output_tokens": 16384}},
    )  # fmt: skip
    sdk.messages.create(model=taught, timeout=300, **CLAUDE_CODE)
    sent = fake.requests[-1].body
    assert sent["max_tokens"] == 16384 and "reasoning_effort" not in sent


def test_codex_on_an_o3_chat_channel_sends_no_parallel_tool_calls(
    sqlite_gateway: Gateway, fake: FakeOpenAI
) -> None:
    """Codex sends ``parallel_tool_calls: true`` on every turn; o3 refuses the field."""
    model = _channel(sqlite_gateway, fake, "o3")
    key = sqlite_gateway.make_user_key()
    sdk = openai.OpenAI(base_url=f"{sqlite_gateway.url}/v1", api_key=key.key, max_retries=0)
    tool: Any = {
        "type": "function",
        "name": "exec_command",
        "strict": False,
        "parameters": {"type": "object", "properties": {"cmd": {"type": "string"}}},
    }
    answer = sdk.responses.create(
        model=model, input=[{"role": "developer", "content": "Be brief."},
                            {"role": "user", "content": "hi"}],
        tools=[tool], tool_choice="auto", parallel_tool_calls=True, temperature=0.2,
        reasoning={"effort": "low"},
    )  # fmt: skip
    assert answer.output_text == "Hello from the fake upstream."
    sent = fake.requests[-1].body
    assert "parallel_tool_calls" not in sent and "temperature" not in sent
    assert sent["reasoning_effort"] == "low"


@pytest.mark.parametrize(
    "capabilities",
    [
        {"o3*": {"system_role": "assistant"}},
        {"o3*": {"max_output_tokens": 0}},
        {"o3*": {"reasoning": "yes"}},
        {"o3*": {"temperature": False}},
        {"": {"reasoning": True}},
        {"x" * 201: {"reasoning": True}},
    ],
    ids=["role", "zero-limit", "not-bool", "unknown-field", "empty-pattern", "long-pattern"],
)
def test_bad_model_capabilities_are_refused(
    sqlite_gateway: Gateway, fake: FakeOpenAI, capabilities: dict[str, Any]
) -> None:
    options = {"model_capabilities": capabilities}
    body = {"name": f"bad-{uuid.uuid4().hex[:6]}", "type": "openai", "base_url": fake.base_url,
            "api_key": "sk-x", "models": ["o3"], "options": options}  # fmt: skip
    response = sqlite_gateway.operator.post("/channels", json=body)
    assert response.status_code in (400, 422), response.text
    assert "model_capabilities" in response.text


def test_model_capabilities_are_shown_back(sqlite_gateway: Gateway, fake: FakeOpenAI) -> None:
    wanted = {"o3*": {"reasoning": True, "system_role": "developer"}}
    channel = sqlite_gateway.add_channel(fake, options={"model_capabilities": wanted})
    shown = sqlite_gateway.op("GET", f"/channels/{channel['id']}")["options"]["model_capabilities"]
    assert shown["o3*"]["reasoning"] is True and shown["o3*"]["system_role"] == "developer"


def test_stop_sequences_for_a_model_without_them_are_refused_before_the_upstream(
    sqlite_gateway: Gateway, fake: FakeOpenAI
) -> None:
    model = _channel(sqlite_gateway, fake, "o3")
    with pytest.raises(anthropic.BadRequestError, match="stop_sequences") as refused:
        _sdk(sqlite_gateway).messages.create(
            model=model, max_tokens=100, stop_sequences=["END"], messages=MESSAGES[:1]
        )
    assert refused.value.body["error"]["type"] == "invalid_request_error"  # type: ignore[index]
    assert fake.requests == []


def test_deepseek_reasoner_gets_its_reasoning_back_in_a_tool_loop(
    sqlite_gateway: Gateway, fake: FakeOpenAI
) -> None:
    """Claude Code sends the thinking it was shown back with the tool call it answers;
    DeepSeek's thinking mode refuses the loop without it ("Missing `reasoning_content`
    field in the assistant message")."""
    model = _channel(sqlite_gateway, fake, "deepseek-reasoner")
    turn = [
        {"type": "thinking", "thinking": "List them with ls.", "signature": ""},
        {"type": "tool_use", "id": "call_1", "name": "Bash", "input": {"command": "ls"}},
    ]
    result = [{"type": "tool_result", "tool_use_id": "call_1", "content": "a.txt"}]
    messages = [MESSAGES[0], {"role": "assistant", "content": turn},
                {"role": "user", "content": result}]  # fmt: skip
    body = {**CLAUDE_CODE, "messages": messages}
    with _sdk(sqlite_gateway).messages.stream(model=model, **body) as events:
        assert events.get_final_message().stop_reason == "end_turn"
    [assistant] = [m for m in fake.requests[-1].body["messages"] if m["role"] == "assistant"]
    assert assistant["reasoning_content"] == "List them with ls."
    assert assistant["tool_calls"][0]["id"] == "call_1"
