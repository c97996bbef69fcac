"""The rules page over real HTTP (both databases): a rule built with the form's rows, its
errors shown on the row they are about (400, never a 500), the dry run of the rule as
edited, the JSON view, toggle/copy/delete, export then import, another user's rule id the
404 page, and the session API (the same service) seeing what the page made."""

from __future__ import annotations

import json
from typing import Any

import httpx

from tests.harness import Gateway
from tests.integration.console import csrf_token, signed_in

PAGE = "/console/rules"


def _builder(**fields: Any) -> dict[str, Any]:
    form: dict[str, Any] = {
        "view": "builder",
        "intent": "save",
        "name": "pin model",
        "description": "",
        "priority": "10",
        "enabled": "on",
        "models": "gpt-4*, o3",
        "act-0-type": "rename_model",
        "act-0-to": "gpt-4o-mini",
        "act-1-type": "",
        "act-2-type": "set",
        "act-2-path": "/temperature",
        "act-2-value": "0.2",
        "cond-0-path": "",
        "sample": json.dumps({"model": "gpt-4", "messages": []}),
        "endpoint": "chat",
        "scope": "this",
    }
    form.update(fields)
    return form


def _post(browser: httpx.Client, path: str, form: dict[str, Any]) -> httpx.Response:
    return browser.post(path, data={**form, "csrf_token": csrf_token(browser, PAGE)})


def _rules(browser: httpx.Client) -> list[dict[str, Any]]:
    token = csrf_token(browser, PAGE)
    listed = browser.post(
        "/api/v1/user/override-rules/list", json={}, headers={"x-csrf-token": token}
    )
    assert listed.status_code == 200, listed.text
    items: list[dict[str, Any]] = listed.json()["data"]["items"]
    return items


def test_a_rule_is_built_tested_saved_and_listed(gateway: Gateway) -> None:
    with signed_in(gateway) as browser:
        empty = browser.get(PAGE)
        assert empty.status_code == 200 and "You have no rules yet" in empty.text
        assert browser.get(PAGE + "/new").status_code == 200
        tested = _post(browser, PAGE + "/new", _builder(intent="test"))
        assert tested.status_code == 200, tested.text
        assert "gpt-4o-mini" in tested.text and "0.2" in tested.text
        assert "1 rule applied." in tested.text
        assert _rules(browser) == []  # a dry run saves nothing
        saved = _post(browser, PAGE + "/new", _builder())
        assert saved.status_code == 303, saved.text
        (made,) = _rules(browser)
        assert made["match"] == {"models": ["gpt-4*", "o3"]}
        assert made["actions"] == [
            {"type": "rename_model", "to": "gpt-4o-mini"},
            {"type": "set", "path": "/temperature", "value": 0.2},
        ]
        listed = browser.get(PAGE)
        assert "pin model" in listed.text and "Hits (30 days)" in listed.text
        edit = browser.get(f"{PAGE}/{made['id']}")
        assert edit.status_code == 200 and 'value="/temperature"' in edit.text
        as_json = browser.get(f"{PAGE}/{made['id']}?view=json")
        assert "&#34;rename_model&#34;" in as_json.text or "rename_model" in as_json.text


def test_errors_are_shown_on_their_row(gateway: Gateway) -> None:
    with signed_in(gateway) as browser:
        bad = _post(browser, PAGE + "/new", _builder(**{"act-2-path": "temperature"}))
        assert bad.status_code == 400
        assert 'id="act-2-error"' in bad.text and "actions[1].path" in bad.text
        raw = {"view": "json", "intent": "save", "json": "{not json"}
        refused = _post(browser, PAGE + "/new", raw)
        assert refused.status_code == 400 and 'id="json-error"' in refused.text
        doc = {"name": "x", "actions": [{"type": "block", "message": ""}]}
        refused = _post(browser, PAGE + "/new", {**raw, "json": json.dumps(doc)})
        assert refused.status_code == 400 and "actions[0].message" in refused.text
        assert _rules(browser) == []


def test_toggle_copy_delete_export_and_import(gateway: Gateway) -> None:
    with signed_in(gateway) as browser:
        assert _post(browser, PAGE + "/new", _builder()).status_code == 303
        (made,) = _rules(browser)
        assert _post(browser, f"{PAGE}/{made['id']}/toggle", {}).status_code == 303
        assert _post(browser, f"{PAGE}/{made['id']}/copy", {}).status_code == 303
        names = {r["name"]: r["enabled"] for r in _rules(browser)}
        assert names == {"pin model": False, "pin model copy": False}
        exported = browser.get(PAGE + "/export")
        assert exported.headers["content-disposition"].startswith("attachment")
        document = exported.json()
        assert [r["name"] for r in document["rules"]] == ["pin model", "pin model copy"]
        for rule in _rules(browser):
            assert _post(browser, f"{PAGE}/{rule['id']}/delete", {}).status_code == 303
        broken = {"rules": [*document["rules"], {"name": "bad", "actions": []}]}
        refused = _post(browser, PAGE + "/import", {"document": json.dumps(broken)})
        assert refused.status_code == 400 and "rules[2].actions" in refused.text
        assert _rules(browser) == []
        done = _post(browser, PAGE + "/import", {"document": exported.text, "mode": "skip"})
        assert done.status_code == 303
        assert [r["name"] for r in _rules(browser)] == ["pin model", "pin model copy"]


def test_another_users_rule_is_the_404_page(gateway: Gateway) -> None:
    with signed_in(gateway) as owner:
        assert _post(owner, PAGE + "/new", _builder()).status_code == 303
        (theirs,) = _rules(owner)
    with signed_in(gateway) as browser:
        assert browser.get(f"{PAGE}/{theirs['id']}").status_code == 404
        for action in ("", "/toggle", "/copy", "/delete"):
            answer = _post(browser, f"{PAGE}/{theirs['id']}{action}", _builder())
            assert answer.status_code == 404, action
        no_csrf = browser.post(f"{PAGE}/new", data=_builder())
        assert no_csrf.status_code in (400, 403)
