"""Validation of translated bodies against the official wire formats.

OpenAI: the OpenAPI schemas checked in under tests/spec (a small validator for the JSON-schema
subset the chat schemas use: $ref, allOf/anyOf/oneOf, type, nullable, enum, required,
properties, additionalProperties:false, items, min/max). Anthropic publishes no OpenAPI
file (wire-formats.md says so); its SDK's TypedDict param types and pydantic models are
the reference, so requests are checked field by field against the TypedDicts (required
keys, no unknown keys, literal values) and responses are validated by ``Message``.
"""

from __future__ import annotations

import json
import types
import typing
from collections.abc import Iterable
from functools import cache
from pathlib import Path
from typing import Any

import pydantic
import typing_extensions
from anthropic.types.message_create_params import (
    MessageCreateParamsNonStreaming,
    MessageCreateParamsStreaming,
)

# The spec files, checked in (tests/spec/make_subset.py says where they come from), so a
# clean clone needs nothing outside the repository.
SPEC = Path(__file__).resolve().parents[3] / "spec"


@cache
def openai_schemas() -> dict[str, Any]:
    schemas: dict[str, Any] = json.loads((SPEC / "openai-schemas.json").read_text())
    return schemas


def openai_errors(instance: Any, schema: dict[str, Any] | str, path: str = "$") -> list[str]:
    """Where ``instance`` breaks the OpenAPI ``schema`` (a component name or a schema)."""
    if isinstance(schema, str):
        schema = openai_schemas()[schema]
    if "$ref" in schema:
        return openai_errors(instance, schema["$ref"].rsplit("/", 1)[1], path)
    if instance is None and schema.get("nullable"):
        return []
    errors: list[str] = []
    for part in schema.get("allOf", []):
        errors += openai_errors(instance, part, path)
    for key in ("anyOf", "oneOf"):
        options = schema.get(key)
        if options and all(openai_errors(instance, option, path) for option in options):
            errors.append(f"{path}: matches none of the {key} alternatives")
    errors += _openai_type_errors(instance, schema, path)
    if "enum" in schema and instance not in schema["enum"]:
        errors.append(f"{path}: {instance!r} not in {schema['enum']}")
    return errors


_JSON_TYPES: dict[str, tuple[type, ...]] = {
    "object": (dict,),
    "array": (list,),
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "null": (type(None),),
}


def _openai_type_errors(instance: Any, schema: dict[str, Any], path: str) -> list[str]:
    kind = schema.get("type")
    kinds = kind if isinstance(kind, list) else [kind] if kind else []
    if kinds and not any(_is_json_type(instance, k) for k in kinds):
        return [f"{path}: expected {kinds}, got {type(instance).__name__}"]
    errors: list[str] = []
    if isinstance(instance, dict):
        properties = schema.get("properties", {})
        for key in schema.get("required", []):
            if key not in instance:
                errors.append(f"{path}: missing required {key!r}")
        for key, value in instance.items():
            if key in properties:
                errors += openai_errors(value, properties[key], f"{path}.{key}")
            elif schema.get("additionalProperties") is False:
                errors.append(f"{path}: unexpected {key!r}")
    if isinstance(instance, list):
        if len(instance) < schema.get("minItems", 0):
            errors.append(f"{path}: fewer than {schema['minItems']} items")
        if "maxItems" in schema and len(instance) > schema["maxItems"]:
            errors.append(f"{path}: more than {schema['maxItems']} items")
        if "items" in schema:
            for index, item in enumerate(instance):
                errors += openai_errors(item, schema["items"], f"{path}[{index}]")
    if isinstance(instance, int | float) and not isinstance(instance, bool):
        if "minimum" in schema and instance < schema["minimum"]:
            errors.append(f"{path}: below {schema['minimum']}")
        if "maximum" in schema and instance > schema["maximum"]:
            errors.append(f"{path}: above {schema['maximum']}")
    return errors


def _is_json_type(instance: Any, kind: str) -> bool:
    if kind in ("integer", "number") and isinstance(instance, bool):
        return False
    return isinstance(instance, _JSON_TYPES.get(kind, (object,)))


def anthropic_errors(instance: Any, hint: Any, path: str = "$") -> list[str]:
    """Where ``instance`` breaks an anthropic SDK param type (TypedDict, Union, …)."""
    origin = typing_extensions.get_origin(hint)
    args = typing_extensions.get_args(hint)
    if origin in (typing_extensions.Required, typing_extensions.NotRequired, typing.Annotated):
        return anthropic_errors(instance, args[0], path)
    if origin is typing.Union or origin is types.UnionType:
        return _union_errors(instance, args, path)
    if origin is typing.Literal:
        return [] if instance in args else [f"{path}: {instance!r} not in {args}"]
    if typing_extensions.is_typeddict(hint):
        return _typeddict_errors(instance, hint, path)
    if isinstance(hint, type) and issubclass(hint, pydantic.BaseModel):  # a response block
        try:
            hint.model_validate(instance)
        except pydantic.ValidationError as exc:
            return [f"{path}: not a {hint.__name__}: {exc.error_count()} errors"]
        return []
    if origin is dict:
        return [] if isinstance(instance, dict) else [f"{path}: expected an object"]
    if origin is not None and isinstance(origin, type) and issubclass(origin, Iterable):
        if not isinstance(instance, list):
            return [f"{path}: expected an array"]
        errors: list[str] = []
        for index, item in enumerate(instance):
            errors += anthropic_errors(item, args[0], f"{path}[{index}]")
        return errors
    if hint in (str, int, bool):
        ok = isinstance(instance, hint) and (hint is bool or not isinstance(instance, bool))
        return [] if ok else [f"{path}: expected {hint.__name__}, got {instance!r}"]
    if hint is float:
        return [] if isinstance(instance, int | float) else [f"{path}: expected a number"]
    if hint is type(None):
        return [] if instance is None else [f"{path}: expected null"]
    return []  # object, SequenceNotStr, file inputs: not checked further


def _typeddict_errors(instance: Any, cls: Any, path: str) -> list[str]:
    if not isinstance(instance, dict):
        return [f"{path}: expected an object for {cls.__name__}"]
    hints = typing_extensions.get_type_hints(cls, include_extras=True)
    unknown = [key for key in instance if key not in hints]
    errors = [f"{path}: unknown key {key!r} for {cls.__name__}" for key in unknown]
    for key, hint in hints.items():
        required = typing_extensions.get_origin(hint) is typing_extensions.Required
        if key not in instance:
            if required:
                errors.append(f"{path}: missing required {key!r} of {cls.__name__}")
            continue
        errors += anthropic_errors(instance[key], hint, f"{path}.{key}")
    return errors


def _is_model(hint: Any) -> bool:
    """A pydantic response model (or a union of them): the SDK accepts those in requests
    too, but they ignore unknown keys, so they would let any request block through."""
    if typing_extensions.get_origin(hint) in (typing.Annotated, typing.Union):
        return all(_is_model(arg) for arg in typing_extensions.get_args(hint)[:1] or [None])
    return isinstance(hint, type) and issubclass(hint, pydantic.BaseModel)


def _union_errors(instance: Any, options: tuple[Any, ...], path: str) -> list[str]:
    options = tuple(option for option in options if not _is_model(option)) or options
    results = [(option, anthropic_errors(instance, option, path)) for option in options]
    if any(not errors for _, errors in results):
        return []
    kind = instance.get("type") if isinstance(instance, dict) else None
    for option, errors in results:  # report against the alternative of the same "type"
        if typing_extensions.is_typeddict(option):
            hint = typing_extensions.get_type_hints(option, include_extras=True).get("type")
            if hint is not None and kind in _literals(hint):
                return errors
    shallow = f"{path}: expected"  # a mismatch of the value's own type says least
    return min((e for _, e in results), key=lambda e: (e[0].startswith(shallow), len(e)))


def _literals(hint: Any) -> tuple[Any, ...]:
    while typing_extensions.get_origin(hint) in (typing_extensions.Required, typing.Optional):
        hint = typing_extensions.get_args(hint)[0]
    if typing_extensions.get_origin(hint) is typing.Literal:
        return typing_extensions.get_args(hint)
    return ()


def openai_fields(name: str) -> set[str]:
    """Every top-level field the spec allows in component ``name`` (through allOf)."""
    schema = openai_schemas()[name]
    fields = set(schema.get("properties", {}))
    for part in schema.get("allOf", []):
        ref = part.get("$ref")
        fields |= openai_fields(ref.rsplit("/", 1)[1]) if ref else set(part.get("properties", {}))
    return fields


def assert_openai_request(body: dict[str, Any]) -> None:
    """A chat request every field of which the spec defines, in the spec's shape."""
    assert set(body) <= openai_fields("CreateChatCompletionRequest"), set(body)
    assert openai_errors(body, "CreateChatCompletionRequest") == []


def assert_anthropic_request(body: dict[str, Any]) -> None:
    """A Messages request in the SDK's shape, with alternating roles. The sampling fields
    are checked apart: wire-formats.md (SDK 0.121) lists them, the SDK 2.x types in the
    venv dropped them because the newest models refuse them."""
    body = dict(body)
    for key in ("temperature", "top_p"):
        value = body.pop(key, 0.5)
        assert isinstance(value, int | float) and 0 <= value <= 1, (key, value)
    assert isinstance(body.pop("top_k", 1), int)
    stream = body.get("stream") is True
    params = MessageCreateParamsStreaming if stream else MessageCreateParamsNonStreaming
    assert anthropic_errors(body, params) == []
    roles = [message["role"] for message in body["messages"]]
    assert all(a != b for a, b in zip(roles, roles[1:], strict=False)), roles
