"""What the gateway checks in an inbound OpenAI body before any upstream sees it."""

from __future__ import annotations

from typing import Any

import pytest

from relaygate.core.errors import InvalidRequest
from relaygate.relay.dialects.openai_chat.request import CHAT, COMPLETIONS, EMBEDDINGS, inspect

CHAT_OK = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}


@pytest.mark.parametrize(
    ("endpoint", "body", "param"),
    [
        (CHAT, [], None),
        (CHAT, {"messages": []}, "model"),
        (CHAT, {"model": 3, "messages": []}, "model"),
        (CHAT, {"model": "m"}, "messages"),
        (CHAT, {"model": "m", "messages": "hi"}, "messages"),
        (CHAT, {"model": "m", "messages": []}, "messages"),
        (CHAT, {"model": "m", "messages": [{"content": "x"}]}, "messages[0]"),
        (CHAT, {**CHAT_OK, "stream": "yes"}, "stream"),
        (COMPLETIONS, {"model": "m"}, "prompt"),
        (EMBEDDINGS, {"model": "m", "input": 5}, "input"),
        (EMBEDDINGS, {"model": "m", "input": "x", "stream": True}, "stream"),
    ],
)
def test_bad_bodies_are_400_with_the_field_named(
    endpoint: str, body: Any, param: str | None
) -> None:
    with pytest.raises(InvalidRequest) as caught:
        inspect(endpoint, body)
    assert caught.value.status == 400
    assert caught.value.param == param


def test_facts_of_a_streaming_chat_call() -> None:
    facts = inspect(CHAT, {**CHAT_OK, "stream": True, "stream_options": {"include_usage": True}})
    assert (facts.model, facts.stream, facts.include_usage) == ("m", True, True)


def test_unknown_fields_are_not_an_error() -> None:
    facts = inspect(CHAT, {**CHAT_OK, "some_vendor_field": {"x": 1}, "stream": None})
    assert facts.stream is False and facts.include_usage is False
