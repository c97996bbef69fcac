"""Type checks of request fields that fail with a 400 naming the field.

Every request parser checks the same few JSON types the same way: a value must be an
object, an array, a string; an optional number is a number but never a boolean; a
token limit is a positive integer. Only the wording of the error is each dialect's own,
because the client reads it in its own API's style (OpenAI: ``'messages[0]' must be an
object.``; Anthropic: ``messages.0: expected an object.``). So there is one set of
checks, and each dialect has a :class:`FieldChecks` worded its way.

The scalar fields a route documents (token limits, ``n``, sampling numbers, flags) are
declared as :class:`Rule` tables next to each dialect's request check and checked with
:meth:`FieldChecks.check`; the same tables describe those fields in the OpenAPI
document (:func:`schema`), so what is documented is what is enforced. ``null`` is
accepted for every such field and means "not set", as OpenAI's schema says of nearly
all of them: a request the upstream's own schema accepts is never refused here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from relaygate.core.errors import InvalidRequest

__all__ = [
    "ANTHROPIC_FIELDS",
    "OPENAI_FIELDS",
    "FieldChecks",
    "Rule",
    "boolean",
    "choice",
    "integer",
    "number",
    "schema",
    "string",
]

# Integers beyond 64 bits are refused even where no maximum is documented: no upstream
# takes them, and a token limit that large would overflow the hold placed against it.
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1

Kind = Literal["integer", "number", "boolean", "string", "choice"]


@dataclass(frozen=True, slots=True)
class Rule:
    """One optional scalar field: its JSON type and, for numbers, an inclusive range;
    for a ``choice``, the accepted strings."""

    name: str
    kind: Kind
    low: int | float | None = None
    high: int | float | None = None
    choices: tuple[str, ...] = ()

    def describe(self, value: Any = None) -> str:
        """What the value must be, as the error message says it (``value``: the refused
        one, so an integer past 64 bits hears of the bound it crossed)."""
        if self.kind == "choice":
            return "one of " + ", ".join(f"'{c}'" for c in self.choices)
        what = {"integer": "an integer", "number": "a number"}.get(self.kind)
        if what is None:
            return f"a {self.kind}"
        low, high = self.low, self.high
        if self.kind == "integer" and isinstance(value, int) and not isinstance(value, bool):
            low = INT64_MIN if low is None and value < INT64_MIN else low
            high = INT64_MAX if high is None and value > INT64_MAX else high
        if low is not None and high is not None:
            return f"{what} from {_show(low)} to {_show(high)}"
        if low is not None:
            return f"{what} of at least {_show(low)}"
        if high is not None:
            return f"{what} of at most {_show(high)}"
        return what

    def problem(self, value: Any) -> str | None:
        """None when ``value`` is acceptable; else the error code: ``invalid_type`` (the
        wrong JSON type) or ``invalid_value`` (out of range, not one of the choices)."""
        if self.kind in ("boolean", "string"):
            ok = isinstance(value, bool if self.kind == "boolean" else str)
            return None if ok else "invalid_type"
        if self.kind == "choice":
            if not isinstance(value, str):
                return "invalid_type"
            return None if value in self.choices else "invalid_value"
        wanted = int if self.kind == "integer" else int | float
        if isinstance(value, bool) or not isinstance(value, wanted):
            return "invalid_type"
        if self.kind == "integer" and not INT64_MIN <= value <= INT64_MAX:
            return "invalid_value"
        if (self.low is not None and value < self.low) or (
            self.high is not None and value > self.high
        ):
            return "invalid_value"
        return None


def _show(bound: float) -> str:
    return str(int(bound)) if float(bound).is_integer() else str(bound)


def integer(name: str, low: int | None = None, high: int | None = None) -> Rule:
    return Rule(name, "integer", low, high)


def number(name: str, low: float | None = None, high: float | None = None) -> Rule:
    return Rule(name, "number", low, high)


def boolean(name: str) -> Rule:
    return Rule(name, "boolean")


def string(name: str) -> Rule:
    return Rule(name, "string")


def choice(name: str, *choices: str) -> Rule:
    return Rule(name, "choice", choices=choices)


def schema(rules: Sequence[Rule]) -> dict[str, dict[str, Any]]:
    """The rules as OpenAPI 3.1 properties (each nullable), for the routes' document."""
    properties: dict[str, dict[str, Any]] = {}
    for rule in rules:
        kind = "string" if rule.kind == "choice" else rule.kind
        prop: dict[str, Any] = {"type": [kind, "null"]}
        if rule.kind == "choice":
            prop["enum"] = [*rule.choices, None]
        if rule.kind == "integer":
            prop["minimum"] = INT64_MIN if rule.low is None else rule.low
            prop["maximum"] = INT64_MAX if rule.high is None else rule.high
        elif rule.low is not None or rule.high is not None:
            prop.update(
                {k: v for k, v in (("minimum", rule.low), ("maximum", rule.high)) if v is not None}
            )
        properties[rule.name] = prop
    return properties


@dataclass(frozen=True, slots=True)
class FieldChecks:
    """The checks, raising :class:`InvalidRequest` with ``param`` set to the field.

    ``wording`` is the error message with ``{param}`` (the field's path) and ``{what}``
    (``an object``, ``a string``, …) to fill in.
    """

    wording: str

    def _invalid(self, param: str, what: str) -> InvalidRequest:
        return InvalidRequest(self.wording.format(param=param, what=what), param=param)

    def check(self, body: dict[str, Any], rules: Sequence[Rule]) -> None:
        """Every field of ``rules`` that ``body`` sets (not null) is of its kind and range."""
        for rule in rules:
            value = body.get(rule.name)
            if value is None:
                continue
            code = rule.problem(value)
            if code is not None:
                message = self.wording.format(param=rule.name, what=rule.describe(value))
                raise InvalidRequest(message, param=rule.name, code=code)

    def mapping(self, value: Any, param: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self._invalid(param, "an object")
        return value

    def array(self, value: Any, param: str) -> list[Any]:
        if not isinstance(value, list):
            raise self._invalid(param, "an array")
        return value

    def string(self, value: Any, param: str) -> str:
        if not isinstance(value, str):
            raise self._invalid(param, "a string")
        return value

    def number(self, body: dict[str, Any], key: str) -> float | None:
        """``body[key]``, None when absent or null."""
        value = body.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self._invalid(key, "a number")
        return value

    def positive(self, body: dict[str, Any], key: str) -> int | None:
        """``body[key]`` as a count of at least 1 (a token limit), None when absent or null."""
        value = body.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise self._invalid(key, "a positive integer")
        return value


# Chat Completions and Responses word it the same way (both are OpenAI's).
OPENAI_FIELDS = FieldChecks("'{param}' must be {what}.")
ANTHROPIC_FIELDS = FieldChecks("{param}: expected {what}.")
