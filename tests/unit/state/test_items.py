"""Item shapes and OpenAI's metadata rule, without a database."""

from __future__ import annotations

from typing import Any

import pytest

from relaygate.core.errors import InvalidRequest
from relaygate.state.items import chat_message, check_sizes, normalise_item
from relaygate.state.schemas import check_metadata


def test_short_messages_get_the_full_form() -> None:
    user = normalise_item({"role": "user", "content": "hi"}, "items[0]")
    assert user["type"] == "message" and user["status"] == "completed"
    assert user["id"].startswith("msg_") and len(user["id"]) == 4 + 48
    assert user["content"] == [{"type": "input_text", "text": "hi"}]
    said = normalise_item({"role": "assistant", "content": "yo"}, "items[1]")
    assert said["content"] == [{"type": "output_text", "text": "yo", "annotations": []}]


def test_normalising_is_idempotent_and_keeps_ids() -> None:
    call = normalise_item({"type": "function_call", "call_id": "c", "name": "f"}, "x")
    assert call["id"].startswith("fc_")
    assert normalise_item(call, "x") == call
    given = {"type": "function_call_output", "id": "fco_mine", "call_id": "c", "output": "1"}
    assert normalise_item(given, "x") == given


@pytest.mark.parametrize(
    ("item", "param"),
    [
        ("text", "items[2]"),
        ({"role": "robot", "content": "x"}, "items[2].role"),
        ({"role": "user", "content": 3}, "items[2].content"),
        ({"type": "item_reference", "id": "msg_1"}, "items[2]"),
        ({"type": 7}, "items[2].type"),
    ],
)
def test_bad_items_name_their_parameter(item: Any, param: str) -> None:
    with pytest.raises(InvalidRequest) as info:
        normalise_item(item, "items[2]")
    assert info.value.param == param


def test_size_limit_names_the_item() -> None:
    check_sizes([{"a": "x" * 10}], "input", 100)
    with pytest.raises(InvalidRequest) as info:
        check_sizes([{"a": "x"}, {"a": "x" * 200}], "input", 100)
    assert (info.value.param, info.value.code) == ("input[1]", "item_too_large")


def test_chat_messages_show_parts_and_text() -> None:
    parts = [{"type": "text", "text": "a"}, {"type": "image_url", "image_url": {"url": "u"}}]
    shown = chat_message("chatcmpl-1", 3, {"role": "user", "content": parts})
    assert shown["id"] == "chatcmpl-1-3" and shown["content"] == "a"
    assert shown["content_parts"] == parts and shown["name"] is None
    plain = chat_message("chatcmpl-1", 0, {"role": "tool", "content": "r", "tool_call_id": "t"})
    assert plain["content_parts"] is None and plain["tool_call_id"] == "t"


def test_metadata_rule() -> None:
    assert check_metadata(None) == {}
    assert check_metadata({"k" * 64: "v" * 512}) == {"k" * 64: "v" * 512}
    for bad, param in [
        ({f"k{i}": "v" for i in range(17)}, "metadata"),
        ({"k" * 65: "v"}, "metadata"),
        ({"k": "v" * 513}, "metadata.k"),
        ({"k": 1}, "metadata.k"),
        (["k"], "metadata"),
    ]:
        with pytest.raises(InvalidRequest) as info:
            check_metadata(bad)
        assert info.value.param == param
