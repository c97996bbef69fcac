"""The rules editor's builder: rows to a rule document and back, blank rows left out,
values read as JSON when they are JSON, and an error placed on the row it came from."""

from __future__ import annotations

from relaygate.web.rule_form import form_of_doc, read_builder


def test_rows_become_the_document_and_back() -> None:
    form = {
        "name": "r", "description": "", "priority": "7", "enabled": "on",
        "models": "gpt-4*, o3", "model_regex": "", "route_groups": "",
        "act-0-type": "", "act-1-type": "set", "act-1-path": "/t", "act-1-value": "0.2",
        "act-2-type": "set_header", "act-2-name": "x-a", "act-2-value": "1",
        "act-3-type": "clamp", "act-3-path": "/n", "act-3-max": "10", "act-3-min": "",
        "cond-0-path": "/stream", "cond-0-op": "eq", "cond-0-value": "true",
        "cond-1-path": "", "cond-1-op": "eq",
    }  # fmt: skip
    doc, shown, rows = read_builder(form, ["3"], ["chat"])
    assert not shown.errors and rows == [1, 2, 3]
    assert doc["priority"] == 7 and doc["enabled"] is True
    assert doc["match"] == {
        "models": ["gpt-4*", "o3"],
        "key_ids": [3],
        "endpoints": ["chat"],
        "conditions": [{"path": "/stream", "op": "eq", "value": True}],
    }
    assert doc["actions"] == [
        {"type": "set", "path": "/t", "value": 0.2},
        {"type": "set_header", "name": "x-a", "value": "1"},  # a header's value stays text
        {"type": "clamp", "path": "/n", "max": 10},
    ]
    again = form_of_doc(doc)
    assert again.actions[0] == {"type": "set", "path": "/t", "value": "0.2"}
    assert again.values["models"] == "gpt-4*, o3" and again.key_ids == {3}
    placed = shown.with_error("actions[1].name", "bad", rows)
    assert placed.errors == {"act-2": "bad"}


def test_a_priority_that_is_not_a_number_is_the_fields_error() -> None:
    _, shown, _ = read_builder({"name": "r", "priority": "soon"}, [], [])
    assert set(shown.errors) == {"priority"}
