"""The wire-format checks the translation tests lean on do reject malformed bodies."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from anthropic.types.message_create_params import MessageCreateParamsNonStreaming

from .spec import anthropic_errors, openai_errors

COMPLETION = {
    "id": "chatcmpl-1",
    "object": "chat.completion",
    "created": 1,
    "model": "m",
    "choices": [
        {
            "index": 0,
            "message": {"role": "assistant", "content": "hi", "refusal": None},
            "logprobs": None,
            "finish_reason": "stop",
        }
    ],
}


def _without(body: dict[str, Any], *path: str | int) -> dict[str, Any]:
    result: Any = copy.deepcopy(body)
    target = result
    for key in path[:-1]:
        target = target[key]
    del target[path[-1]]
    return dict(result)


def test_a_valid_completion_passes() -> None:
    assert openai_errors(COMPLETION, "CreateChatCompletionResponse") == []


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (_without(COMPLETION, "created"), "missing required 'created'"),
        (_without(COMPLETION, "choices", 0, "logprobs"), "missing required 'logprobs'"),
        (_without(COMPLETION, "choices", 0, "message", "refusal"), "missing required 'refusal'"),
        ({**COMPLETION, "object": "chat.completion.chunk"}, "not in"),
        ({**COMPLETION, "created": "now"}, "expected"),
    ],
)
def test_a_malformed_completion_is_caught(body: dict[str, Any], error: str) -> None:
    errors = openai_errors(body, "CreateChatCompletionResponse")
    assert any(error in message for message in errors), errors


@pytest.mark.parametrize(
    "body",
    [
        {"model": "m", "messages": [{"role": "critic", "content": "x"}]},
        {
            "model": "m",
            "messages": [{"role": "user", "content": "x"}],
            "stop": ["a", "b", "c", "d", "e"],
        },
        {"model": "m", "messages": []},
        {"messages": [{"role": "user", "content": "x"}]},
    ],
)
def test_a_malformed_chat_request_is_caught(body: dict[str, Any]) -> None:
    assert openai_errors(body, "CreateChatCompletionRequest") != []


REQUEST = {
    "model": "m",
    "max_tokens": 10,
    "messages": [{"role": "user", "content": [{"type": "text", "text": "x"}]}],
}


def test_a_valid_messages_request_passes() -> None:
    assert anthropic_errors(REQUEST, MessageCreateParamsNonStreaming) == []


@pytest.mark.parametrize(
    ("block", "error"),
    [
        ({"type": "text"}, "missing required 'text'"),
        ({"type": "text", "text": "x", "extra": 1}, "unknown key 'extra'"),
        (
            {"type": "image", "source": {"type": "base64", "media_type": "image/bmp", "data": "x"}},
            "image/bmp",
        ),
        ({"type": "tool_result", "content": "x"}, "missing required 'tool_use_id'"),
    ],
)
def test_a_malformed_messages_block_is_caught(block: dict[str, Any], error: str) -> None:
    body = {**REQUEST, "messages": [{"role": "user", "content": [block]}]}
    errors = anthropic_errors(body, MessageCreateParamsNonStreaming)
    assert any(error in message for message in errors), errors


def test_a_messages_request_without_max_tokens_is_caught() -> None:
    errors = anthropic_errors(_without(REQUEST, "max_tokens"), MessageCreateParamsNonStreaming)
    assert errors == ["$: missing required 'max_tokens' of MessageCreateParamsNonStreaming"]
