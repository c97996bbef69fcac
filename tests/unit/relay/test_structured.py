"""A translated answer checked against the caller's strict response schema."""

from __future__ import annotations

from typing import Any

import pytest

from relaygate.core.errors import AnswerOffSchema
from relaygate.relay.json_schema import first_error
from relaygate.relay.structured import check_answer, strict_schema
from relaygate.relay.translate_responses import responses_request_to

PERSON = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "minLength": 2, "pattern": "^[A-Z]"},
        "age": {"type": "integer", "minimum": 0, "maximum": 150},
        "email": {"anyOf": [{"type": "string"}, {"type": "null"}]},
        "tags": {"type": "array", "items": {"enum": ["a", "b"]}, "maxItems": 2},
    },
    "required": ["name", "age", "email", "tags"],
    "additionalProperties": False,
}


@pytest.mark.parametrize(
    ("value", "error"),
    [
        ({"name": "Ann", "age": 30, "email": None, "tags": ["a"]}, None),
        ({"name": "A", "age": 30, "email": None, "tags": []}, "$.name: at least 2 characters"),
        ({"name": "ann", "age": 30, "email": None, "tags": []}, "$.name: does not match"),
        ({"name": "Ann", "age": 151, "email": None, "tags": []}, "$.age: must be <= 150"),
        ({"name": "Ann", "age": 1.5, "email": None, "tags": []}, "$.age: expected integer"),
        ({"name": "Ann", "age": True, "email": None, "tags": []}, "$.age: expected integer"),
        ({"name": "Ann", "age": 3, "email": 1, "tags": []}, "$.email: matches 0 of the anyOf"),
        ({"name": "Ann", "age": 3, "email": None, "tags": ["c"]}, "$.tags[0]: must be one of"),
        ({"name": "Ann", "age": 3, "email": None, "tags": ["a"] * 3}, "$.tags: at most 2 items"),
        ({"name": "Ann", "age": 3, "email": None}, "$: 'tags' is required"),
        ({"name": "Ann", "age": 3, "email": None, "tags": [], "x": 1}, "$: 'x' is not allowed"),
        ([], "$: expected object"),
    ],
)
def test_the_validator_names_the_first_violation(value: Any, error: str | None) -> None:
    found = first_error(value, PERSON)
    if error is None:
        assert found is None
    else:
        assert found is not None and found.startswith(error), found


def test_the_validator_follows_refs_including_recursion() -> None:
    tree = {
        "$defs": {
            "Node": {
                "type": "object",
                "properties": {
                    "value": {"type": "integer", "minimum": 0},
                    "children": {"type": "array", "items": {"$ref": "#/$defs/Node"}},
                },
                "required": ["value", "children"],
                "additionalProperties": False,
            }
        },
        "$ref": "#/$defs/Node",
    }
    good = {"value": 1, "children": [{"value": 2, "children": []}]}
    assert first_error(good, tree) is None
    bad = {"value": 1, "children": [{"value": -2, "children": []}]}
    assert first_error(bad, tree) == "$.children[0].value: must be >= 0, got -2"
    assert first_error({"a": 1}, {"$ref": "#"}) == "$: the schema nests too deeply to check"


def test_const_one_of_and_json_equality() -> None:
    assert first_error(1.0, {"const": 1}) is None
    assert first_error(True, {"const": 1}) is not None
    assert first_error(3, {"oneOf": [{"type": "integer"}, {"type": "number"}]}) is not None
    assert first_error(3.5, {"oneOf": [{"type": "integer"}, {"type": "number"}]}) is None
    assert first_error(0.3, {"type": "number", "multipleOf": 0.1}) is None
    assert first_error(0.35, {"type": "number", "multipleOf": 0.1}) is not None


def _strict(schema: dict[str, Any], strict: Any = True) -> dict[str, Any]:
    return {"type": "json_schema", "json_schema": {"name": "p", "schema": schema, "strict": strict}}


def test_strict_schema_is_read_from_chat_and_responses_bodies() -> None:
    assert strict_schema("openai", {"response_format": _strict(PERSON)}) == PERSON
    assert strict_schema("openai", {"response_format": _strict(PERSON, False)}) is None
    assert strict_schema("openai", {"response_format": {"type": "json_object"}}) is None
    text = {"format": {"type": "json_schema", "name": "p", "schema": PERSON, "strict": True}}
    assert strict_schema("responses", {"text": text}) == PERSON
    assert strict_schema("responses", {"text": {"format": {"type": "text"}}}) is None
    assert strict_schema("anthropic", {"response_format": _strict(PERSON)}) is None


def _message(text: str, stop: str = "end_turn") -> dict[str, Any]:
    return {"content": [{"type": "text", "text": text}], "stop_reason": stop}


def test_check_answer_refuses_an_anthropic_answer_off_the_schema() -> None:
    check_answer("anthropic", _message('{"name":"Ann","age":3,"email":null,"tags":[]}'), PERSON)
    with pytest.raises(AnswerOffSchema, match=r"\$\.age: must be <= 150") as caught:
        old = _message('{"name":"Ann","age":200,"email":null,"tags":[]}')
        check_answer("anthropic", old, PERSON)
    assert caught.value.status == 502 and caught.value.code == "invalid_structured_output"
    with pytest.raises(AnswerOffSchema, match="not valid JSON"):
        check_answer("anthropic", _message("Sure! Here it is"), PERSON)


def test_answers_not_meant_as_the_json_are_not_checked() -> None:
    check_answer("anthropic", _message('{"name":', stop="max_tokens"), PERSON)
    check_answer("anthropic", _message("I can't help with that.", stop="refusal"), PERSON)
    tool = {"content": [{"type": "tool_use", "id": "t", "name": "f", "input": {}}]}
    check_answer("anthropic", {**tool, "stop_reason": "end_turn"}, PERSON)
    cut = {"choices": [{"finish_reason": "length", "message": {"content": "{"}}]}
    check_answer("openai", cut, PERSON)


def test_check_answer_reads_a_chat_completion() -> None:
    answer = {"choices": [{"finish_reason": "stop", "message": {"content": '{"name":"x"}'}}]}
    with pytest.raises(AnswerOffSchema, match="'age' is required"):
        check_answer("openai", answer, PERSON)


def test_responses_json_mode_reaches_a_chat_channel_as_json_mode() -> None:
    body = {"model": "m", "input": "hi", "text": {"format": {"type": "json_object"}}}
    sent = responses_request_to("openai", body, [], default_max_tokens=64)
    assert sent["response_format"] == {"type": "json_object"}
