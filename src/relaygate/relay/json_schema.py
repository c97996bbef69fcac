"""A small JSON Schema validator for the subset OpenAI's Structured Outputs accept.

Why not a library: the answers checked here are one model reply each, the schemas are
the ones OpenAI's strict mode allows (types, ``properties`` / ``required`` /
``additionalProperties``, ``items``, ``enum`` / ``const``, ``anyOf`` / ``allOf`` /
``oneOf``, local ``$ref`` including ``#`` recursion, string, number and array bounds,
``pattern``), and the relay is pure Python with no runtime dependency for this. Keywords
outside the subset are ignored, as JSON Schema ignores unknown keywords; ``format`` is
an annotation here (as it is by default in JSON Schema 2020-12). ``pattern`` uses
Python's ``re``, which agrees with ECMA-262 on the patterns such schemas use.

:func:`first_error` returns the first violation as text naming where it is (``$.a[2]``),
or None when the value is valid.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any

__all__ = ["first_error"]

_MAX_DEPTH = 200  # schema steps per path: a ref that loops without consuming input ends
_TYPES: dict[str, Callable[[Any], bool]] = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
    "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "integer": lambda v: (
        not isinstance(v, bool)
        and (isinstance(v, int) or (isinstance(v, float) and v.is_integer()))
    ),
}


def first_error(value: Any, schema: Any) -> str | None:
    """The first way ``value`` breaks ``schema`` (the root, for resolving ``$ref``)."""
    return _Check(schema).run(value, schema, "$", 0)


class _Check:
    __slots__ = ("root",)

    def __init__(self, root: Any) -> None:
        self.root = root

    def run(self, value: Any, schema: Any, path: str, depth: int) -> str | None:
        if schema is False:
            return f"{path}: no value is allowed here"
        if not isinstance(schema, dict):
            return None  # ``true``, or not a schema: allows everything
        if depth > _MAX_DEPTH:
            return f"{path}: the schema nests too deeply to check"
        ref = schema.get("$ref")
        if isinstance(ref, str):
            return self.run(value, self._resolve(ref), path, depth + 1)
        for check in (self._kind, self._choices, self._combined):
            error = check(value, schema, path, depth)
            if error is not None:
                return error
        if isinstance(value, dict):
            return self._object(value, schema, path, depth)
        if isinstance(value, list):
            return self._array(value, schema, path, depth)
        if isinstance(value, str):
            return _string(value, schema, path)
        if _numeric(value):
            return _number(value, schema, path)
        return None

    def _resolve(self, ref: str) -> Any:
        """A local reference (``#``, ``#/$defs/Name``); anything else allows every value."""
        if not ref.startswith("#"):
            return True
        node = self.root
        for part in ref[1:].split("/")[1:]:
            key = part.replace("~1", "/").replace("~0", "~")
            if not isinstance(node, dict) or key not in node:
                return True
            node = node[key]
        return node

    @staticmethod
    def _kind(value: Any, schema: dict[str, Any], path: str, depth: int) -> str | None:
        declared = schema.get("type")
        kinds = [declared] if isinstance(declared, str) else declared
        if not isinstance(kinds, list) or not kinds:
            return None
        if any(kind in _TYPES and _TYPES[kind](value) for kind in kinds):
            return None
        return f"{path}: expected {' or '.join(map(str, kinds))}"

    @staticmethod
    def _choices(value: Any, schema: dict[str, Any], path: str, depth: int) -> str | None:
        enum = schema.get("enum")
        if isinstance(enum, list) and not any(_same(value, item) for item in enum):
            return f"{path}: must be one of {enum}"
        if "const" in schema and not _same(value, schema["const"]):
            return f"{path}: must be {schema['const']!r}"
        return None

    def _combined(self, value: Any, schema: dict[str, Any], path: str, depth: int) -> str | None:
        for sub in schema.get("allOf") or ():
            if (error := self.run(value, sub, path, depth + 1)) is not None:
                return error
        for key in ("anyOf", "oneOf"):
            variants = schema.get(key)
            if isinstance(variants, list) and variants:
                passed = sum(self.run(value, sub, path, depth + 1) is None for sub in variants)
                if passed == 0 or (key == "oneOf" and passed > 1):
                    return f"{path}: matches {passed} of the {key} alternatives"
        return None

    def _object(
        self, value: dict[str, Any], schema: dict[str, Any], path: str, depth: int
    ) -> str | None:
        for name in schema.get("required") or ():
            if name not in value:
                return f"{path}: '{name}' is required"
        properties = schema.get("properties") or {}
        extra = schema.get("additionalProperties", True)
        for name, item in value.items():
            sub = properties.get(name, extra) if isinstance(properties, dict) else extra
            if sub is False:
                return f"{path}: '{name}' is not allowed"
            if (error := self.run(item, sub, f"{path}.{name}", depth + 1)) is not None:
                return error
        return _bounds(len(value), schema, ("minProperties", "maxProperties"), path, "properties")

    def _array(self, value: list[Any], schema: dict[str, Any], path: str, depth: int) -> str | None:
        prefix = schema.get("prefixItems")
        prefix = prefix if isinstance(prefix, list) else []
        items = schema.get("items", True)
        for index, item in enumerate(value):
            sub = prefix[index] if index < len(prefix) else items
            if (error := self.run(item, sub, f"{path}[{index}]", depth + 1)) is not None:
                return error
        if schema.get("uniqueItems") is True:
            for index, item in enumerate(value):
                if any(_same(item, other) for other in value[:index]):
                    return f"{path}: items must be unique"
        return _bounds(len(value), schema, ("minItems", "maxItems"), path, "items")


def _bounds(
    size: int, schema: dict[str, Any], keys: tuple[str, str], path: str, what: str
) -> str | None:
    least, most = schema.get(keys[0]), schema.get(keys[1])
    if isinstance(least, int) and size < least:
        return f"{path}: at least {least} {what} required, got {size}"
    if isinstance(most, int) and size > most:
        return f"{path}: at most {most} {what} allowed, got {size}"
    return None


def _string(value: str, schema: dict[str, Any], path: str) -> str | None:
    error = _bounds(len(value), schema, ("minLength", "maxLength"), path, "characters")
    if error is not None:
        return error
    pattern = schema.get("pattern")
    if isinstance(pattern, str):
        try:
            matched = re.search(pattern, value) is not None
        except re.error:
            return None  # a pattern Python cannot read constrains nothing it can check
        if not matched:
            return f"{path}: does not match the pattern {pattern!r}"
    return None


def _numeric(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _number(value: float, schema: dict[str, Any], path: str) -> str | None:
    tests: tuple[tuple[str, Callable[[float], bool], str], ...] = (
        ("minimum", lambda bound: value >= bound, ">="),
        ("maximum", lambda bound: value <= bound, "<="),
        ("exclusiveMinimum", lambda bound: value > bound, ">"),
        ("exclusiveMaximum", lambda bound: value < bound, "<"),
    )
    for key, holds, sign in tests:
        bound: Any = schema.get(key)
        if _numeric(bound) and not holds(bound):
            return f"{path}: must be {sign} {bound}, got {value}"
    step: Any = schema.get("multipleOf")
    if _numeric(step) and step > 0:
        quotient = value / step
        if not math.isclose(quotient, round(quotient), rel_tol=1e-9, abs_tol=1e-9):
            return f"{path}: must be a multiple of {step}"
    return None


def _same(left: Any, right: Any) -> bool:
    """JSON equality: ``1 == 1.0`` but ``True != 1``."""
    if isinstance(left, bool) or isinstance(right, bool):
        return isinstance(left, bool) and isinstance(right, bool) and left == right
    if isinstance(left, dict) and isinstance(right, dict):
        return left.keys() == right.keys() and all(_same(left[k], right[k]) for k in left)
    if isinstance(left, list) and isinstance(right, list):
        return len(left) == len(right) and all(map(_same, left, right))
    return bool(left == right)
