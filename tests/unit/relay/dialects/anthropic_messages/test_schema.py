"""An OpenAI response schema rewritten for Anthropic's ``output_config.format.schema``."""

from __future__ import annotations

from typing import Any

from relaygate.relay.dialects.anthropic_messages.request_from_canonical import (
    JSON_OBJECT_INSTRUCTION,
    render_request,
)
from relaygate.relay.dialects.anthropic_messages.schema import output_schema
from relaygate.relay.dialects.openai_chat.convert import parse_request


def _sent(schema: dict[str, Any]) -> dict[str, Any]:
    rendered = output_schema(schema)
    assert not rendered.recursive
    return rendered.schema


def test_bounds_move_into_the_description() -> None:
    schema = {
        "type": "object",
        "properties": {
            "name": {"type": "string", "minLength": 2, "maxLength": 40, "description": "Who"},
            "age": {"type": "integer", "minimum": 0, "maximum": 150},
            "code": {"type": "string", "pattern": "^[A-Z]{3}$"},
            "ratio": {"type": "number", "exclusiveMinimum": 0, "multipleOf": 0.5},
        },
        "required": ["name", "age", "code", "ratio"],
        "additionalProperties": False,
    }
    props = _sent(schema)["properties"]
    assert props["name"] == {
        "type": "string",
        "description": "Who\n\n{minLength: 2, maxLength: 40}",
    }
    assert props["age"] == {"type": "integer", "description": "{minimum: 0, maximum: 150}"}
    assert props["code"] == {"type": "string", "description": '{pattern: "^[A-Z]{3}$"}'}
    assert props["ratio"] == {
        "type": "number",
        "description": "{exclusiveMinimum: 0, multipleOf: 0.5}",
    }


def test_every_object_is_closed_and_keeps_its_required_list() -> None:
    schema = {
        "type": "object",
        "properties": {
            "address": {
                "type": "object",
                "properties": {"city": {"type": "string"}, "zip": {"type": "string"}},
                "required": ["city"],
            },
            "tags": {"type": "array", "items": {"type": "object", "properties": {}}},
        },
        "required": ["address", "tags"],
        "additionalProperties": True,
    }
    sent = _sent(schema)
    assert sent["additionalProperties"] is False
    address = sent["properties"]["address"]
    assert address["additionalProperties"] is False
    assert address["required"] == ["city"]
    assert sent["properties"]["tags"]["items"] == {
        "type": "object",
        "properties": {},
        "additionalProperties": False,
    }
    assert schema["additionalProperties"] is True  # the client's schema is not changed


def test_formats_and_min_items_kept_only_where_anthropic_takes_them() -> None:
    schema = {
        "type": "object",
        "properties": {
            "when": {"type": "string", "format": "date-time"},
            "site": {"type": "string", "format": "iri"},
            "one": {"type": "array", "items": {"type": "string"}, "minItems": 1},
            "three": {"type": "array", "items": {"type": "string"}, "minItems": 3, "maxItems": 5},
        },
    }
    props = _sent(schema)["properties"]
    assert props["when"] == {"type": "string", "format": "date-time"}
    assert props["site"] == {"type": "string", "description": '{format: "iri"}'}
    assert props["one"] == {"type": "array", "items": {"type": "string"}, "minItems": 1}
    assert props["three"] == {
        "type": "array",
        "items": {"type": "string"},
        "description": "{minItems: 3, maxItems: 5}",
    }


def test_refs_defs_and_combinators() -> None:
    schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$defs": {
            "Pet": {
                "type": "object",
                "properties": {"kind": {"enum": ["cat", "dog"]}, "legs": {"type": "integer"}},
                "required": ["kind", "legs"],
            }
        },
        "type": "object",
        "properties": {
            "pet": {"$ref": "#/$defs/Pet", "description": "dropped beside a $ref"},
            "nick": {"anyOf": [{"type": "string", "maxLength": 8}, {"type": "null"}]},
            "either": {"oneOf": [{"type": "integer"}, {"type": "boolean"}]},
            "maybe": {"type": ["string", "null"], "format": "email", "default": None},
        },
        "required": ["pet", "nick", "either", "maybe"],
        "additionalProperties": False,
    }
    sent = _sent(schema)
    assert "$schema" not in sent
    assert sent["$defs"]["Pet"]["additionalProperties"] is False
    props = sent["properties"]
    assert props["pet"] == {"$ref": "#/$defs/Pet"}
    assert props["nick"] == {
        "anyOf": [{"type": "string", "description": "{maxLength: 8}"}, {"type": "null"}]
    }
    assert props["either"] == {"anyOf": [{"type": "integer"}, {"type": "boolean"}]}
    assert props["maybe"] == {
        "type": ["string", "null"],
        "format": "email",
        "description": "{default: null}",
    }


def test_a_map_value_schema_is_described_since_the_object_must_be_closed() -> None:
    sent = _sent({"type": "object", "additionalProperties": {"type": "integer"}})
    assert sent == {
        "type": "object",
        "properties": {},
        "additionalProperties": False,
        "description": '{additionalProperties: {"type":"integer"}}',
    }


def test_recursive_schemas_are_reported_not_sent() -> None:
    tree = {
        "$defs": {
            "Node": {
                "type": "object",
                "properties": {
                    "value": {"type": "string"},
                    "children": {"type": "array", "items": {"$ref": "#/$defs/Node"}},
                },
            }
        },
        "$ref": "#/$defs/Node",
    }
    assert output_schema(tree).recursive
    root_recursion = {
        "type": "object",
        "properties": {"next": {"anyOf": [{"$ref": "#"}, {"type": "null"}]}},
    }
    assert output_schema(root_recursion).recursive
    shared = {  # two uses of one definition are not recursion
        "$defs": {"Point": {"type": "object", "properties": {"x": {"type": "number"}}}},
        "type": "object",
        "properties": {"a": {"$ref": "#/$defs/Point"}, "b": {"$ref": "#/$defs/Point"}},
    }
    assert not output_schema(shared).recursive


def _chat(response_format: dict[str, Any]) -> dict[str, Any]:
    body = {
        "model": "claude",
        "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi"}],
        "response_format": response_format,
    }
    return render_request(parse_request(body), default_max_tokens=1024)


def test_a_chat_schema_reaches_anthropic_transformed() -> None:
    schema = {
        "type": "object",
        "properties": {"n": {"type": "integer", "minimum": 1}},
        "required": ["n"],
        "additionalProperties": False,
    }
    body = _chat({"type": "json_schema", "json_schema": {"name": "N", "schema": schema}})
    assert body["output_config"] == {
        "format": {
            "type": "json_schema",
            "schema": {
                "type": "object",
                "properties": {"n": {"type": "integer", "description": "{minimum: 1}"}},
                "additionalProperties": False,
                "required": ["n"],
            },
        }
    }
    assert body["system"] == [{"type": "text", "text": "Be brief."}]


def test_a_recursive_schema_is_asked_for_in_the_system_prompt() -> None:
    schema = {"type": "object", "properties": {"next": {"$ref": "#"}}}
    body = _chat({"type": "json_schema", "json_schema": {"name": "L", "schema": schema}})
    assert "output_config" not in body
    assert body["system"][0] == {"type": "text", "text": "Be brief."}
    instruction = body["system"][1]["text"]
    assert instruction.startswith("Answer with one JSON value that validates")
    assert instruction.endswith('{"type":"object","properties":{"next":{"$ref":"#"}}}')


def test_json_mode_becomes_an_instruction() -> None:
    body = _chat({"type": "json_object"})
    assert "output_config" not in body
    assert body["system"] == [
        {"type": "text", "text": "Be brief."},
        {"type": "text", "text": JSON_OBJECT_INSTRUCTION},
    ]


def _tool_body(strict: bool | None, parameters: dict[str, Any]) -> dict[str, Any]:
    function: dict[str, Any] = {"name": "find", "parameters": parameters}
    if strict is not None:
        function["strict"] = strict
    body = {
        "model": "claude",
        "messages": [{"role": "user", "content": "hi"}],
        "tools": [{"type": "function", "function": function}],
    }
    return render_request(parse_request(body), default_max_tokens=1024)


def test_a_strict_tool_schema_is_rewritten_too() -> None:
    params = {
        "type": "object",
        "properties": {"q": {"type": "string", "minLength": 3}},
        "required": ["q"],
        "additionalProperties": False,
    }
    [tool] = _tool_body(True, params)["tools"]
    assert tool["strict"] is True
    assert tool["input_schema"]["properties"]["q"] == {
        "type": "string",
        "description": "{minLength: 3}",
    }
    [plain] = _tool_body(None, params)["tools"]  # not strict: Anthropic takes any schema
    assert plain["input_schema"] == params and "strict" not in plain
    recursive = {"type": "object", "properties": {"next": {"$ref": "#"}}}
    [loose] = _tool_body(True, recursive)["tools"]
    assert loose["input_schema"] == recursive and "strict" not in loose
