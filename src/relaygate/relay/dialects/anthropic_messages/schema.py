"""An OpenAI (or any JSON Schema) response schema as Anthropic's structured output accepts it.

Anthropic compiles ``output_config.format.schema`` into a grammar and refuses keywords
its compiler cannot express: length and range bounds (``minLength``, ``maximum``, …),
``minItems`` above 1, string formats outside a short list, objects that are not closed
with ``additionalProperties: false``, recursive definitions. OpenAI accepts all of these,
so a schema written for OpenAI (every Pydantic model with a ``Field(min_length=…)``)
was refused by Claude when relayed unchanged.

The rules follow what Anthropic's own SDKs do before they send a schema (learned from
their ``transform_schema``, reimplemented here):

* every object gets ``properties`` (possibly empty) and ``additionalProperties: false``;
  its ``required`` list is kept as the client wrote it;
* ``oneOf`` becomes ``anyOf``; ``anyOf``, ``allOf``, ``items``, ``$defs`` /
  ``definitions`` are transformed recursively; a ``$ref`` is kept alone (its siblings are
  dropped, as the SDK does);
* a string ``format`` Anthropic knows is kept; ``minItems`` 0 or 1 is kept;
* every other keyword (bounds, ``pattern``, unknown formats, ``default``, ``examples``,
  …) is moved into the node's ``description`` as ``{keyword: value, …}``, so the model
  still reads the constraint; meta keywords (``$schema``, ``$id``, ``$comment``) are
  dropped.

A schema whose definitions refer to themselves (a tree, a linked list) cannot be sent
at all: :func:`output_schema` reports it as recursive and the renderer asks for the
schema in the system prompt instead. The answer is checked against the client's
original schema where it asked for strictness (``relay/structured.py``), which is what
keeps the moved constraints honest.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

__all__ = ["OutputSchema", "STRING_FORMATS", "output_schema"]

STRING_FORMATS = frozenset(
    {"date-time", "time", "date", "duration", "email", "hostname", "uri", "ipv4", "ipv6", "uuid"}
)
_DROPPED = frozenset({"$schema", "$id", "$comment"})
_DEFINITIONS = ("$defs", "definitions")


@dataclass(frozen=True, slots=True)
class OutputSchema:
    """The schema to send, or ``recursive`` when Anthropic cannot take it at all."""

    schema: dict[str, Any]
    recursive: bool = False


def output_schema(schema: dict[str, Any]) -> OutputSchema:
    """``schema`` rewritten for ``output_config.format.schema`` (see the module doc)."""
    if _is_recursive(schema):
        return OutputSchema(schema, recursive=True)
    return OutputSchema(_node(schema))


def _node(schema: Any) -> Any:
    """One schema node; a boolean schema or anything not an object is left as it is."""
    if not isinstance(schema, dict):
        return schema
    rest = {key: value for key, value in schema.items() if key not in _DROPPED}
    out: dict[str, Any] = {}
    for key in _DEFINITIONS:
        defs = rest.pop(key, None)
        if isinstance(defs, dict):
            out[key] = {name: _node(sub) for name, sub in defs.items()}
    ref = rest.pop("$ref", None)
    if isinstance(ref, str):
        out["$ref"] = ref
        return out
    _combinators(rest, out)
    for key in ("type", "enum", "const", "title", "description"):
        if key in rest:
            out[key] = rest.pop(key)
    types = _types(out.get("type"))
    if "object" in types or ("properties" in rest and not types):
        _object(rest, out)
    if "array" in types:
        _array(rest, out)
    if "string" in types:
        fmt = rest.get("format")
        if isinstance(fmt, str) and fmt in STRING_FORMATS:
            out["format"] = rest.pop("format")
    if rest:
        _describe(rest, out)
    return out


def _combinators(rest: dict[str, Any], out: dict[str, Any]) -> None:
    any_of = rest.pop("anyOf", None)
    one_of = rest.pop("oneOf", None)
    variants = [*(any_of or []), *(one_of or [])] if any_of or one_of else None
    if isinstance(variants, list) and variants:
        out["anyOf"] = [_node(variant) for variant in variants]
    all_of = rest.pop("allOf", None)
    if isinstance(all_of, list) and all_of:
        out["allOf"] = [_node(variant) for variant in all_of]


def _types(declared: Any) -> set[str]:
    if isinstance(declared, str):
        return {declared}
    if isinstance(declared, list):
        return {kind for kind in declared if isinstance(kind, str)}
    return set()


def _object(rest: dict[str, Any], out: dict[str, Any]) -> None:
    properties = rest.pop("properties", None)
    props = properties if isinstance(properties, dict) else {}
    out["properties"] = {name: _node(sub) for name, sub in props.items()}
    extra = rest.pop("additionalProperties", None)
    if extra not in (None, False, True):  # a map's value schema: only the model can honour it
        rest["additionalProperties"] = extra
    out["additionalProperties"] = False
    required = rest.pop("required", None)
    if isinstance(required, list):
        out["required"] = required


def _array(rest: dict[str, Any], out: dict[str, Any]) -> None:
    if "items" in rest:
        out["items"] = _node(rest.pop("items"))
    min_items = rest.get("minItems")
    if min_items in (0, 1) and not isinstance(min_items, bool):
        out["minItems"] = rest.pop("minItems")


def _describe(rest: dict[str, Any], out: dict[str, Any]) -> None:
    """The keywords Anthropic refuses, as text the model reads."""
    listed = ", ".join(f"{key}: {_text(value)}" for key, value in rest.items())
    description = out.get("description")
    prefix = f"{description}\n\n" if isinstance(description, str) and description else ""
    out["description"] = f"{prefix}{{{listed}}}"


def _text(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()


def _is_recursive(schema: dict[str, Any]) -> bool:
    """True when a definition reaches itself through ``$ref`` (``#`` is the root)."""
    graph: dict[str, set[str]] = {"#": _refs(schema, skip_defs=True)}
    for key in _DEFINITIONS:
        defs = schema.get(key)
        if isinstance(defs, dict):
            for name, sub in defs.items():
                graph[f"#/{key}/{name}"] = _refs(sub, skip_defs=False)
    for start in graph:
        seen: set[str] = set()
        stack = list(graph[start])
        while stack:
            ref = stack.pop()
            if ref == start:
                return True
            if ref not in seen:
                seen.add(ref)
                stack.extend(graph.get(ref, ()))
    return False


def _refs(node: Any, *, skip_defs: bool) -> set[str]:
    """Every local ``$ref`` inside ``node`` (the root's own definitions left out)."""
    found: set[str] = set()
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, dict):
            ref = item.get("$ref")
            if isinstance(ref, str) and ref.startswith("#"):
                found.add(ref)
            for key, value in item.items():
                if not (skip_defs and item is node and key in _DEFINITIONS):
                    stack.append(value)
    return found
