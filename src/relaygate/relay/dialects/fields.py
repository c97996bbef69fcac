"""Type checks of request fields that fail with a 400 naming the field.

Every request parser checks the same few JSON types the same way: a value must be an
object, an array, a string; an optional number is a number but never a boolean; a
token limit is a positive integer. Only the wording of the error is each dialect's own,
because the client reads it in its own API's style (OpenAI: ``'messages[0]' must be an
object.``; Anthropic: ``messages.0: expected an object.``). So there is one set of
checks, and each dialect has a :class:`FieldChecks` worded its way.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from relaygate.core.errors import InvalidRequest

__all__ = ["ANTHROPIC_FIELDS", "OPENAI_FIELDS", "FieldChecks"]


@dataclass(frozen=True, slots=True)
class FieldChecks:
    """The checks, raising :class:`InvalidRequest` with ``param`` set to the field.

    ``wording`` is the error message with ``{param}`` (the field's path) and ``{what}``
    (``an object``, ``a string``, …) to fill in.
    """

    wording: str

    def _invalid(self, param: str, what: str) -> InvalidRequest:
        return InvalidRequest(self.wording.format(param=param, what=what), param=param)

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
