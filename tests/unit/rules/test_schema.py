"""The rule document: what is accepted, and refusals that name the bad field."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from relaygate.rules.schema import (
    FORBIDDEN_HEADERS,
    MAX_DOCUMENT_BYTES,
    RuleDoc,
    parse_pointer,
    problems,
)

BLOCK = {"type": "block", "message": "no"}


def _refused(doc: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(ValidationError) as caught:
        RuleDoc.model_validate(doc)
    return {p.field: p.message for p in problems(caught.value)}


def test_the_contract_example_is_accepted() -> None:
    doc = RuleDoc.model_validate(
        {
            "name": "pin-translation-model",
            "description": "",
            "enabled": True,
            "priority": 100,
            "match": {
                "route_groups": ["default", "cc-omg"],
                "endpoints": ["chat"],
                "models": ["gpt-4", "claude-3-haiku*"],
                "model_regex": r"^gpt-4(-\d+)?$",
                "key_ids": [12, 13],
                "conditions": [
                    {"path": "/stream", "op": "eq", "value": True},
                    {"path": "/max_tokens", "op": "gt", "value": 4096},
                ],
            },
            "actions": [
                {"type": "rename_model", "to": "gpt-4o-mini"},
                {"type": "set", "path": "/temperature", "value": 0.2},
                {"type": "default", "path": "/max_tokens", "value": 1024},
                {"type": "remove", "path": "/temperature"},
                {"type": "clamp", "path": "/max_tokens", "min": 1, "max": 4096},
                {"type": "system_prompt", "mode": "prepend", "text": "..."},
                {"type": "set_header", "name": "X-Foo", "value": "bar"},
                {"type": "remove_header", "name": "x-foo"},
                BLOCK,
            ],
        }
    )
    assert len(doc.actions) == 9
    assert doc.actions[6].name == "x-foo"  # type: ignore[union-attr]  # header names lower-cased


def test_defaults_and_a_cjk_name() -> None:
    doc = RuleDoc.model_validate({"name": "翻译 模型", "actions": [BLOCK]})
    assert (doc.enabled, doc.priority, doc.description) == (True, 100, "")
    assert doc.match.models is None


@pytest.mark.parametrize(
    ("doc", "field", "words"),
    [
        (
            {"name": "x", "match": {"model_regex": "("}, "actions": [BLOCK]},
            "match.model_regex",
            "regular expression",
        ),
        (
            {"name": "x", "actions": [{"type": "set", "path": "/model", "value": "y"}]},
            "actions.0.path",
            "rename_model",
        ),
        (
            {"name": "x", "actions": [{"type": "remove", "path": "/model"}]},
            "actions.0.path",
            "rename_model",
        ),
        (
            {"name": "x", "actions": [{"type": "set", "path": "temperature", "value": 1}]},
            "actions.0.path",
            "JSON pointer",
        ),
        ({"name": "x", "actions": [{"type": "remove", "path": "/a~2b"}]}, "actions.0.path", "~"),
        (
            {"name": "x", "actions": [{"type": "remove", "path": "/1/2/3/4/5/6/7/8/9"}]},
            "actions.0.path",
            "deeper",
        ),
        ({"name": "x", "actions": []}, "actions", "at least 1"),
        ({"name": "x", "actions": [BLOCK] * 21}, "actions", "at most 20"),
        ({"name": "", "actions": [BLOCK]}, "name", "1-64"),
        ({"name": "a/b", "actions": [BLOCK]}, "name", "1-64"),
        ({"name": "x" * 65, "actions": [BLOCK]}, "name", "1-64"),
        ({"name": "x", "priority": 10001, "actions": [BLOCK]}, "priority", "10000"),
        ({"name": "x", "description": "d" * 501, "actions": [BLOCK]}, "description", "500"),
        ({"name": "x", "surprise": 1, "actions": [BLOCK]}, "surprise", "Extra"),
        (
            {"name": "x", "match": {"endpoints": ["chatt"]}, "actions": [BLOCK]},
            "match.endpoints.0",
            "chat",
        ),
        (
            {"name": "x", "match": {"key_ids": [0]}, "actions": [BLOCK]},
            "match.key_ids.0",
            "greater",
        ),
        (
            {"name": "x", "match": {"route_groups": ["a b"]}, "actions": [BLOCK]},
            "match.route_groups",
            "route group",
        ),
        (
            {
                "name": "x",
                "match": {"conditions": [{"path": "/a", "op": "gt", "value": "1"}]},
                "actions": [BLOCK],
            },
            "match.conditions.0.value",
            "number",
        ),
        (
            {
                "name": "x",
                "match": {"conditions": [{"path": "/a", "op": "gt", "value": True}]},
                "actions": [BLOCK],
            },
            "match.conditions.0.value",
            "number",
        ),
        (
            {
                "name": "x",
                "match": {"conditions": [{"path": "/a", "op": "in", "value": 1}]},
                "actions": [BLOCK],
            },
            "match.conditions.0.value",
            "list",
        ),
        (
            {
                "name": "x",
                "match": {"conditions": [{"path": "/a", "op": "exists", "value": 1}]},
                "actions": [BLOCK],
            },
            "match.conditions.0.value",
            "no value",
        ),
        (
            {
                "name": "x",
                "match": {"conditions": [{"path": "/a", "op": "like"}]},
                "actions": [BLOCK],
            },
            "match.conditions.0.op",
            "eq",
        ),
        ({"name": "x", "actions": [{"type": "clamp", "path": "/t"}]}, "actions.0.min", "min"),
        (
            {"name": "x", "actions": [{"type": "clamp", "path": "/t", "min": 2, "max": 1}]},
            "actions.0.min",
            "larger",
        ),
        (
            {"name": "x", "actions": [{"type": "rename_model", "to": "a b"}]},
            "actions.0.to",
            "model name",
        ),
        (
            {"name": "x", "actions": [{"type": "system_prompt", "mode": "insert", "text": "t"}]},
            "actions.0.mode",
            "prepend",
        ),
        (
            {"name": "x", "actions": [{"type": "set_header", "name": "x-a", "value": "a\r\nb"}]},
            "actions.0.value",
            "line breaks",
        ),
        (
            {"name": "x", "actions": [{"type": "set_header", "name": "a b", "value": "v"}]},
            "actions.0.name",
            "header name",
        ),
        (
            {"name": "x", "actions": [{"type": "block", "message": ""}]},
            "actions.0.message",
            "at least 1",
        ),
        ({"name": "x", "actions": [{"type": "explode"}]}, "actions.0", "does not match"),
    ],
)
def test_a_refusal_names_the_field(doc: dict[str, Any], field: str, words: str) -> None:
    found = _refused(doc)
    assert field in found, found
    assert words in found[field]


@pytest.mark.parametrize("header", sorted(FORBIDDEN_HEADERS | {"Authorization", "X-Api-Key"}))
def test_authentication_and_framing_headers_are_refused(header: str) -> None:
    for action in (
        {"type": "set_header", "name": header, "value": "v"},
        {"type": "remove_header", "name": header},
    ):
        found = _refused({"name": "x", "actions": [action]})
        assert "rules cannot change it" in found["actions.0.name"]


def test_a_document_over_16_kb_is_refused_as_a_whole() -> None:
    big = {"type": "set", "path": "/metadata/x", "value": "v" * MAX_DOCUMENT_BYTES}
    assert "16384" in _refused({"name": "x", "actions": [big]})[""]


def test_deeply_nested_values_are_refused() -> None:
    value: object = 1
    for _ in range(20):
        value = [value]
    assert (
        "nested"
        in _refused({"name": "x", "actions": [{"type": "set", "path": "/a", "value": value}]})[
            "actions.0.value"
        ]
    )


def test_pointers_follow_rfc_6901() -> None:
    assert parse_pointer("/a~1b/m~0n/0") == ("a/b", "m~n", "0")
    assert parse_pointer("/") == ("",)
    with pytest.raises(ValueError, match="pointer"):
        parse_pointer("")
