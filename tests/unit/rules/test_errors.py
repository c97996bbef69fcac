"""A refused rule names its field as the client wrote it."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from relaygate.rules.errors import field_path, invalid_rule
from relaygate.rules.schema import ACTION_TYPES, RuleDoc


def test_indexes_in_brackets_and_union_tags_dropped() -> None:
    assert field_path(("body", "actions", 2, "set", "path"), ACTION_TYPES) == "actions[2].path"
    assert field_path(("rules", 0, "match", "key_ids", 1)) == "rules[0].match.key_ids[1]"
    assert field_path(("body",)) == "body"
    assert field_path(()) == ""


@pytest.mark.parametrize(
    ("document", "param"),
    [
        ({"name": "x", "actions": [{"type": "set", "path": "x", "value": 1}]}, "actions[0].path"),
        ({"name": "x", "actions": [{"type": "clamp", "path": "/n"}]}, "actions[0].min"),
        (
            {"name": "x", "actions": [{"type": "remove", "path": "/a"}],
             "match": {"conditions": [{"path": "/a", "op": "in", "value": 1}]}},
            "match.conditions[0].value",
        ),
    ],
)  # fmt: skip
def test_the_first_error_becomes_the_400(document: dict[str, object], param: str) -> None:
    with pytest.raises(ValidationError) as refused:
        RuleDoc.model_validate(document)
    err = invalid_rule(refused.value.errors(), ACTION_TYPES, "")
    assert err.param == param and err.message.startswith(param + ": ")
    prefixed = invalid_rule(refused.value.errors(), ACTION_TYPES, "rules[3]")
    assert prefixed.param == "rules[3]." + param
