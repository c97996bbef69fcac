"""The field rules of dialects/fields.py: kinds, ranges, the 64-bit ceiling, wording."""

from __future__ import annotations

from typing import Any

import pytest

from relaygate.core.errors import InvalidRequest
from relaygate.relay.dialects.fields import (
    ANTHROPIC_FIELDS,
    OPENAI_FIELDS,
    boolean,
    choice,
    integer,
    number,
    schema,
    string,
)

RULES = (
    integer("n", 1, 128),
    integer("max_tokens", 1),
    integer("seed"),
    number("temperature", 0, 2),
    boolean("store"),
    string("user"),
    choice("encoding_format", "float", "base64"),
)


@pytest.mark.parametrize(
    ("body", "param", "code", "message"),
    [
        ({"n": 0}, "n", "invalid_value", "'n' must be an integer from 1 to 128."),
        ({"n": 1e20}, "n", "invalid_type", "'n' must be an integer from 1 to 128."),
        ({"n": True}, "n", "invalid_type", "'n' must be an integer from 1 to 128."),
        ({"max_tokens": "ten"}, "max_tokens", "invalid_type",
         "'max_tokens' must be an integer of at least 1."),
        ({"max_tokens": 2**63}, "max_tokens", "invalid_value",
         "'max_tokens' must be an integer from 1 to 9223372036854775807."),
        ({"seed": -(2**63) - 1}, "seed", "invalid_value",
         "'seed' must be an integer of at least -9223372036854775808."),
        ({"temperature": 2.5}, "temperature", "invalid_value",
         "'temperature' must be a number from 0 to 2."),
        ({"temperature": "1"}, "temperature", "invalid_type",
         "'temperature' must be a number from 0 to 2."),
        ({"store": "true"}, "store", "invalid_type", "'store' must be a boolean."),
        ({"user": 1}, "user", "invalid_type", "'user' must be a string."),
        ({"encoding_format": "int8"}, "encoding_format", "invalid_value",
         "'encoding_format' must be one of 'float', 'base64'."),
    ],
)  # fmt: skip
def test_a_refused_value_names_the_field(
    body: dict[str, Any], param: str, code: str, message: str
) -> None:
    with pytest.raises(InvalidRequest) as caught:
        OPENAI_FIELDS.check(body, RULES)
    assert (caught.value.param, caught.value.code, caught.value.message) == (param, code, message)


def test_nulls_and_edges_pass() -> None:
    OPENAI_FIELDS.check({rule.name: None for rule in RULES}, RULES)
    edges = {"n": 128, "max_tokens": 2**63 - 1, "seed": -(2**63), "temperature": 0}
    OPENAI_FIELDS.check({**edges, "store": False, "user": "", "encoding_format": "base64"}, RULES)


def test_the_anthropic_wording() -> None:
    with pytest.raises(InvalidRequest, match=r"^temperature: expected a number from 0 to 1\.$"):
        ANTHROPIC_FIELDS.check({"temperature": 1.5}, (number("temperature", 0, 1),))


def test_the_schema_says_what_is_checked() -> None:
    properties = schema(RULES)
    assert properties["n"] == {"type": ["integer", "null"], "minimum": 1, "maximum": 128}
    assert properties["seed"]["minimum"] == -(2**63)
    assert properties["temperature"] == {"type": ["number", "null"], "minimum": 0, "maximum": 2}
    assert properties["store"] == {"type": ["boolean", "null"]}
    assert properties["encoding_format"]["enum"] == ["float", "base64", None]
