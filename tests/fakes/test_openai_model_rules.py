"""Self-test of the fake's model rules: the official SDK sees the real models' refusals."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import openai
import pytest

from tests.fakes.openai_model_rules import (
    deepseek_reasoner_like,
    gpt4o_like,
    o3_like,
    qwen_template_like,
)
from tests.fakes.openai_upstream import FakeOpenAI

HI: Any = [{"role": "user", "content": "hi"}]


@pytest.fixture
def sdk() -> Iterator[openai.OpenAI]:
    with FakeOpenAI() as fake:
        fake.refuse.update(
            {"o3": o3_like, "gpt-4o": gpt4o_like, "deepseek-reasoner": deepseek_reasoner_like,
             "qwen3": qwen_template_like}
        )  # fmt: skip
        yield openai.OpenAI(base_url=fake.base_url, api_key="sk-x", max_retries=0)


@pytest.mark.parametrize(
    ("model", "fields", "message"),
    [
        ("o3", {"max_tokens": 10}, "Use 'max_completion_tokens' instead."),
        ("o3", {"temperature": 0.2}, "Unsupported parameter: 'temperature'"),
        ("o3", {"max_completion_tokens": 128000}, "supports at most 100000"),
        ("gpt-4o", {"reasoning_effort": "high"}, "Unrecognized request argument"),
        ("gpt-4o", {"max_tokens": 32000}, "max_tokens is too large: 32000"),
        ("gpt-4o", {"parallel_tool_calls": False}, "only allowed when 'tools'"),
        ("deepseek-reasoner", {"tool_choice": "auto", "tools": []}, "this tool_choice"),
        (
            "deepseek-reasoner",
            {
                "messages": [
                    *HI,
                    {
                        "role": "assistant",
                        "content": None,
                        "tool_calls": [
                            {
                                "id": "c1",
                                "type": "function",
                                "function": {"name": "f", "arguments": "{}"},
                            }
                        ],
                    },
                ]
            },
            "Missing `reasoning_content` field in the assistant message at message index 1",
        ),
        ("qwen3", {"messages": [*HI, {"role": "system", "content": "x"}]}, "at the beginning"),
    ],
)
def test_refusals_carry_the_real_texts(
    sdk: openai.OpenAI, model: str, fields: dict[str, Any], message: str
) -> None:
    body = {"messages": HI, **fields}
    with pytest.raises(openai.BadRequestError, match=message):
        sdk.chat.completions.create(model=model, **body)


def test_an_accepted_body_is_answered(sdk: openai.OpenAI) -> None:
    answer = sdk.chat.completions.create(model="o3", messages=HI, max_completion_tokens=10)
    assert answer.choices[0].message.content == "Hello from the fake upstream."
