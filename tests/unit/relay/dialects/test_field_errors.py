"""The 400s for a field of the wrong type: one set of checks, each dialect's own wording."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from relaygate.core.errors import InvalidRequest
from relaygate.relay.dialects.anthropic_messages import convert as messages
from relaygate.relay.dialects.openai_chat import convert as chat
from relaygate.relay.dialects.openai_responses import convert as responses

USER = [{"role": "user", "content": "hi"}]
Parse = Callable[[dict[str, Any]], object]


def _chat(body: dict[str, Any]) -> object:
    return chat.parse_request({"model": "m", "messages": USER, **body})


def _messages(body: dict[str, Any]) -> object:
    return messages.parse_request({"model": "m", "max_tokens": 5, "messages": USER, **body})


def _responses(body: dict[str, Any]) -> object:
    return responses.parse_request({"model": "m", "input": "hi", **body}, [])


@pytest.mark.parametrize(
    ("parse", "body", "message", "param"),
    [
        (_chat, {"messages": {}}, "'messages' must be an array.", "messages"),
        (_chat, {"messages": [1]}, "'messages[0]' must be an object.", "messages[0]"),
        (_chat, {"model": 1}, "'model' must be a string.", "model"),
        (_chat, {"temperature": True}, "'temperature' must be a number.", "temperature"),
        (_chat, {"max_tokens": 0}, "'max_tokens' must be a positive integer.", "max_tokens"),
        (_messages, {"messages": {}}, "messages: expected an array.", "messages"),
        (_messages, {"messages": [1]}, "messages.0: expected an object.", "messages.0"),
        (_messages, {"model": 1}, "model: expected a string.", "model"),
        (_messages, {"top_p": "1"}, "top_p: expected a number.", "top_p"),
        (_responses, {"tools": {}}, "'tools' must be an array.", "tools"),
        (_responses, {"input": [1]}, "'input[0]' must be an object.", "input[0]"),
        (_responses, {"instructions": 1}, "'instructions' must be a string.", "instructions"),
        (
            _responses,
            {"max_output_tokens": -1},
            "'max_output_tokens' must be a positive integer.",
            "max_output_tokens",
        ),  # fmt: skip
    ],
)
def test_each_dialect_words_a_type_error_its_own_way(
    parse: Parse, body: dict[str, Any], message: str, param: str
) -> None:
    with pytest.raises(InvalidRequest) as caught:
        parse(body)
    assert (caught.value.message, caught.value.param) == (message, param)


@pytest.mark.parametrize("parse", [_chat, _responses])
def test_both_openai_dialects_read_inline_media_by_the_same_rules(parse: Parse) -> None:
    def image(url: str) -> dict[str, Any]:
        if parse is _chat:
            part = {"type": "image_url", "image_url": {"url": url}}
            return {"messages": [{"role": "user", "content": [part]}]}
        return {"input": [{"role": "user", "content": [{"type": "input_image", "image_url": url}]}]}

    with pytest.raises(InvalidRequest, match="Data URLs must be base64-encoded"):
        parse(image("data:image/png,raw"))
    with pytest.raises(InvalidRequest, match="must be http"):
        parse(image("ftp://host/a.png"))
