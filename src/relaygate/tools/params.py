"""A tool route's parameters: one declaration that both checks a call and documents it.

Each tool lists its parameters as :class:`Param` records; :func:`read_params` checks a
query string, form or JSON object against them (a clear 400 naming the field, in the
platform envelope), and :meth:`Param.schema` writes the same rules into the OpenAPI
document, so what the document promises and what the route accepts cannot drift apart.
Values arrive as text (a query string, a form) or as JSON values; both are accepted.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from relaygate.core.errors import InvalidRequest

__all__ = ["Param", "read_params"]

Kind = Literal["string", "integer", "number", "boolean"]
_TRUE, _FALSE = frozenset({"true", "1"}), frozenset({"false", "0"})
_INTEGER = re.compile(r"[+-]?\d{1,18}")
_NUMBER = re.compile(r"[+-]?(\d{1,18}(\.\d{0,18})?|\.\d{1,18})([eE][+-]?\d{1,3})?")


@dataclass(frozen=True, slots=True)
class Param:
    name: str
    kind: Kind = "string"
    description: str = ""
    required: bool = False
    minimum: float | None = None  # a whole number for an integer parameter
    maximum: float | None = None
    max_length: int = 200
    enum: tuple[str, ...] = ()
    pattern: str | None = None  # a search pattern (as JSON Schema's), for strings
    default: Any = None  # documented only: the upstream's own default applies
    forward: bool = True  # sent upstream; False: Relaygate's own (``cache``)

    def schema(self) -> dict[str, Any]:
        """The parameter's JSON Schema, as :meth:`read` checks it."""
        schema: dict[str, Any] = {"type": self.kind}
        if self.kind == "string":
            schema["minLength"], schema["maxLength"] = 1, self.max_length
            if self.enum:
                schema["enum"] = list(self.enum)
            if self.pattern:
                schema["pattern"] = self.pattern
        if self.minimum is not None:
            schema["minimum"] = self.minimum
        if self.maximum is not None:
            schema["maximum"] = self.maximum
        if self.default is not None:
            schema["default"] = self.default
        if self.description:
            schema["description"] = self.description
        return schema

    def read(self, raw: Any) -> Any:
        """The value, checked; raises a 400 naming the parameter."""
        if self.kind == "integer":
            return self._integer(raw)
        if self.kind == "number":
            return self._number(raw)
        if self.kind == "boolean":
            return self._boolean(raw)
        return self._string(raw)

    def _refuse(self, what: str) -> InvalidRequest:
        return InvalidRequest(f"'{self.name}' {what}.", param=self.name)

    def _integer(self, raw: Any) -> int:
        if isinstance(raw, str) and _INTEGER.fullmatch(raw.strip()):
            raw = int(raw)
        if isinstance(raw, bool) or not isinstance(raw, int):
            raise self._refuse("must be an integer")
        low, high = self.minimum, self.maximum
        if (low is not None and raw < low) or (high is not None and raw > high):
            raise self._refuse(f"must be between {low} and {high}")
        return raw

    def _number(self, raw: Any) -> float:
        """A number (a guidance scale, a strength), finite: never ``nan`` or infinity."""
        if isinstance(raw, str) and _NUMBER.fullmatch(raw.strip()):
            raw = float(raw)
        if isinstance(raw, bool) or not isinstance(raw, int | float) or not math.isfinite(raw):
            raise self._refuse("must be a number")
        low, high = self.minimum, self.maximum
        if (low is not None and raw < low) or (high is not None and raw > high):
            raise self._refuse(f"must be between {_shown(low)} and {_shown(high)}")
        return float(raw)

    def _boolean(self, raw: Any) -> bool:
        if isinstance(raw, bool):
            return raw
        text = str(raw).strip().lower() if isinstance(raw, str | int) else ""
        if text in _TRUE or text in _FALSE:
            return text in _TRUE
        raise self._refuse("must be true or false")

    def _string(self, raw: Any) -> str:
        if not isinstance(raw, str):
            raise self._refuse("must be a string")
        if not raw:
            raise self._refuse("must not be empty")
        if len(raw) > self.max_length:
            raise self._refuse(f"must be at most {self.max_length} characters")
        if self.enum and raw not in self.enum:
            raise self._refuse(f"must be one of {', '.join(self.enum)}")
        if self.pattern and not re.search(self.pattern, raw):
            raise self._refuse("is not in the documented form (see docs/tools.md)")
        return raw


def _shown(bound: float | None) -> str:
    return "any" if bound is None else f"{bound:g}"


def read_params(params: tuple[Param, ...], raw: Mapping[str, Any]) -> dict[str, Any]:
    """The checked values of the parameters given (unknown names and missing required
    ones refused with a 400), in the order of ``params``."""
    known = {param.name: param for param in params}
    for name in raw:
        if name not in known:
            raise InvalidRequest(f"Unknown parameter '{name}' (see docs/tools.md).", param=name)
    values: dict[str, Any] = {}
    for param in params:
        value = raw.get(param.name)
        if value is None:
            if param.required:
                raise InvalidRequest(f"'{param.name}' is required.", param=param.name)
            continue
        values[param.name] = param.read(value)
    return values
