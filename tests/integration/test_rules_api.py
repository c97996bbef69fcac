"""The override rules' 14 routes over HTTP (both databases): CRUD and the listing's filters,
a refused rule's 400 naming its field, another user's rule id answered as a 404, the
tier's limits enforced, imports all or nothing, export -> import giving the same rules,
and the dry run showing the rewrite and why each rule matched or not."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.harness import Gateway

BASE = "/api/v1/user/override-rules"
VERBS = (
    "create",
    "update",
    "delete",
    "get",
    "list",
    "batch-toggle",
    "copy",
    "test",
    "stats",
    "limits",
    "check-name",
    "batch-delete",
    "export",
    "import",
)


class Rules:
    """One user's management key on the rules routes."""

    def __init__(self, gw: Gateway, *, free: bool = False) -> None:
        """``free``: a user who never topped up (the "free" tier); else ¥100 (VIP)."""
        key = gw.make_user_key(user_id=int(gw.create_user()["id"])) if free else gw.make_user_key()
        self.user_id = key.user_id
        self.key_id = key.id
        self.admin = gw.make_user_key(user_id=key.user_id, is_admin=True).key
        self.http = gw.http(self.admin)

    def call(self, verb: str, body: dict[str, Any] | None = None) -> httpx.Response:
        return self.http.post(f"{BASE}/{verb}", json=body if body is not None else {})

    def ok(self, verb: str, body: dict[str, Any] | None = None) -> Any:
        response = self.call(verb, body)
        assert response.status_code == 200, response.text
        return response.json()["data"]

    def refused(self, status: int, verb: str, body: dict[str, Any]) -> dict[str, Any]:
        response = self.call(verb, body)
        assert response.status_code == status, response.text
        answer: dict[str, Any] = response.json()
        assert answer["statusCode"] == status and answer["data"] is None
        return answer


def rule(name: str | None = None, **fields: Any) -> dict[str, Any]:
    return {
        "name": name or f"r-{uuid.uuid4().hex[:8]}",
        "match": {"models": ["gpt-4*"]},
        "actions": [{"type": "rename_model", "to": "gpt-4o-mini"}],
        **fields,
    }


@pytest.fixture
def rules(gateway: Gateway) -> Rules:
    return Rules(gateway)


def test_all_fourteen_routes_are_in_the_openapi_document(sqlite_gateway: Gateway) -> None:
    paths = httpx.get(sqlite_gateway.url + "/openapi.json", timeout=30).json()["paths"]
    for verb in VERBS:
        operation = paths[f"{BASE}/{verb}"]["post"]
        assert {"401", "403"} <= set(operation["responses"]), verb
        if verb != "limits":
            assert "requestBody" in operation, verb
    create = paths[f"{BASE}/create"]["post"]
    assert {"400", "409"} <= set(create["responses"])


def test_create_get_update_list_and_delete(rules: Rules) -> None:
    made = rules.ok("create", rule("pin", priority=5, description="pin the model"))
    assert (made["name"], made["priority"], made["enabled"]) == ("pin", 5, True)
    assert made["match"] == {"models": ["gpt-4*"]}
    assert made["hits_30d"] == 0 and made["last_hit_at"] is None
    assert rules.ok("get", {"id": made["id"]}) == made
    other = rules.ok(
        "create",
        rule(
            "temp",
            match={"model_regex": "^claude"},
            actions=[{"type": "remove", "path": "/temperature"}],
        ),
    )
    changed = rules.ok("update", {"id": made["id"], "enabled": False, "priority": 50})
    assert (changed["enabled"], changed["priority"], changed["name"]) == (False, 50, "pin")
    assert changed["actions"] == made["actions"]  # fields not sent are kept
    listed = rules.ok("list", {})
    assert [item["name"] for item in listed["items"]] == ["pin", "temp"]  # priority order
    assert listed["total"] == 2
    assert [i["name"] for i in rules.ok("list", {"enabled": True})["items"]] == ["temp"]
    assert [i["name"] for i in rules.ok("list", {"model": "gpt-4-turbo"})["items"]] == ["pin"]
    assert [i["name"] for i in rules.ok("list", {"model": "claude-3"})["items"]] == ["temp"]
    assert [i["name"] for i in rules.ok("list", {"name": "TEM"})["items"]] == ["temp"]
    page = rules.ok("list", {"page": 2, "page_size": 1})
    assert (page["total"], [i["name"] for i in page["items"]]) == (2, ["temp"])
    assert rules.ok("delete", {"id": other["id"]}) == {"deleted": 1}
    rules.refused(404, "get", {"id": other["id"]})
    assert rules.ok("list", {})["total"] == 1


@pytest.mark.parametrize(
    ("verb", "body", "field"),
    [
        (
            "create",
            rule(
                actions=[
                    {"type": "remove", "path": "/a"},
                    {"type": "set", "path": "nope", "value": 1},
                ]
            ),
            "actions[1].path",
        ),
        ("create", rule(match={"model_regex": "("}), "match.model_regex"),
        (
            "create",
            rule(actions=[{"type": "set_header", "name": "Authorization", "value": "x"}]),
            "actions[0].name",
        ),
        (
            "create",
            rule(actions=[{"type": "set", "path": "/model", "value": "x"}]),
            "actions[0].path",
        ),
        ("create", rule(actions=[{"type": "explode"}]), "actions[0]"),
        ("create", rule(name="bad/name"), "name"),
        ("create", rule(priority=10_001), "priority"),
        ("create", rule(actions=[]), "actions"),
        ("create", rule(surprise=1), "surprise"),
        (
            "create",
            rule(match={"conditions": [{"path": "/n", "op": "gt", "value": "x"}]}),
            "match.conditions[0].value",
        ),
        (
            "import",
            {"rules": [rule(), rule(actions=[{"type": "clamp", "path": "/max_tokens"}])]},
            "rules[1].actions[0].min",
        ),
        (
            "test",
            {"sample": {"body": {}}, "rule": rule(match={"endpoints": ["fax"]})},
            "rule.match.endpoints[0]",
        ),
    ],
)
def test_an_invalid_rule_is_a_400_naming_the_field(
    rules: Rules, verb: str, body: dict[str, Any], field: str
) -> None:
    answer = rules.refused(400, verb, body)
    assert answer["message"].startswith(field + ":"), answer
    assert rules.ok("list", {})["total"] == 0


def test_an_update_is_checked_whole_and_names_the_field(rules: Rules) -> None:
    made = rules.ok("create", rule())
    actions = [{"type": "remove", "path": "/a"}, {"type": "remove", "path": "/b/~2"}]
    answer = rules.refused(400, "update", {"id": made["id"], "actions": actions})
    assert answer["message"].startswith("actions[1].path:"), answer
    assert rules.ok("get", {"id": made["id"]})["actions"] == made["actions"]


def test_key_ids_must_be_the_users_own(gateway: Gateway, rules: Rules) -> None:
    stranger = gateway.make_user_key()
    ok = rules.ok("create", rule(match={"key_ids": [rules.key_id]}))
    assert ok["match"]["key_ids"] == [rules.key_id]
    answer = rules.refused(400, "create", rule(match={"key_ids": [rules.key_id, stranger.id]}))
    assert answer["message"].startswith("match.key_ids[1]:")


def test_another_users_rule_id_is_a_404(gateway: Gateway, rules: Rules) -> None:
    theirs = Rules(gateway).ok("create", rule("theirs"))["id"]
    mine = rules.ok("create", rule("mine"))["id"]
    for verb, body in [
        ("get", {"id": theirs}),
        ("update", {"id": theirs, "enabled": False}),
        ("delete", {"id": theirs}),
        ("copy", {"id": theirs}),
        ("batch-toggle", {"ids": [mine, theirs], "enabled": False}),
        ("batch-delete", {"ids": [mine, theirs]}),
        ("export", {"ids": [theirs]}),
        ("test", {"ids": [theirs], "sample": {"body": {"model": "gpt-4"}}}),
    ]:
        answer = rules.refused(404, verb, body)
        assert answer["message"] == f"No rule with id {theirs}.", (verb, answer)
    assert rules.refused(404, "get", {"id": 2**31 - 1})["message"].startswith("No rule")
    mine_now = rules.ok("get", {"id": mine})
    assert mine_now["enabled"] is True  # the batch was refused whole


def test_a_duplicate_name_is_a_409_and_check_name_says_so(rules: Rules) -> None:
    first = rules.ok("create", rule("same"))
    answer = rules.refused(409, "create", rule("same"))
    assert answer["message"].startswith("name:")
    other = rules.ok("create", rule("other"))
    rules.refused(409, "update", {"id": other["id"], "name": "same"})
    assert rules.ok("check-name", {"name": "same"})["available"] is False
    assert rules.ok("check-name", {"name": "same", "exclude_id": first["id"]})["available"]
    free = rules.ok("check-name", {"name": "fresh 名字"})
    assert (free["valid"], free["available"], free["reason"]) == (True, True, None)
    bad = rules.ok("check-name", {"name": "a/b"})
    assert (bad["valid"], bad["available"]) == (False, False) and bad["reason"]


def test_batch_toggle_copy_and_batch_delete(rules: Rules) -> None:
    ids = [rules.ok("create", rule(f"r{n}"))["id"] for n in range(3)]
    assert rules.ok("batch-toggle", {"ids": ids[:2], "enabled": False}) == {"updated": 2}
    assert [i["enabled"] for i in rules.ok("list", {})["items"]] == [False, False, True]
    copy = rules.ok("copy", {"id": ids[2]})
    assert (copy["name"], copy["enabled"]) == ("r2 copy", False)
    again = rules.ok("copy", {"id": ids[2]})
    assert again["name"] == "r2 copy 2"
    assert rules.ok("copy", {"id": copy["id"]})["name"] == "r2 copy 3"
    named = rules.ok("copy", {"id": ids[0], "name": "mine"})
    assert named["actions"] == rules.ok("get", {"id": ids[0]})["actions"]
    rules.refused(409, "copy", {"id": ids[0], "name": "mine"})
    assert rules.ok("batch-delete", {"ids": ids}) == {"deleted": 3}
    assert rules.ok("list", {})["total"] == 4


def test_limits_are_enforced(gateway_factory: Callable[..., Gateway]) -> None:
    gw = gateway_factory(
        rules_max_per_user=3, rules_max_actions=2, rules_max_per_user_by_tier={"vip": 5}
    )
    rules = Rules(gw, free=True)
    limits = rules.ok("limits")
    assert (limits["tier"], limits["max_rules"], limits["max_actions_per_rule"]) == ("free", 3, 2)
    assert {t["tier"]: t["max_rules"] for t in limits["tiers"]} == {
        "free": 3,
        "vip": 5,
        "premium": 3,
    }
    three = [{"type": "remove", "path": f"/p{n}"} for n in range(3)]
    answer = rules.refused(400, "create", rule(actions=three))
    assert answer["message"].startswith("actions:") and "at most 2" in answer["message"]
    made = [rules.ok("create", rule(f"r{n}"))["id"] for n in range(3)]
    assert rules.ok("limits")["used_rules"] == 3
    assert rules.refused(409, "create", rule("r3"))["errorType"]
    rules.refused(409, "copy", {"id": made[0]})
    rules.refused(400, "update", {"id": made[0], "actions": three})
    rules.refused(409, "import", {"rules": [rule("x")]})
    # a VIP (¥20 topped up: the default tiers) may keep 5
    gw.credit(rules.user_id, "20")
    assert rules.ok("limits")["max_rules"] == 5
    assert rules.ok("import", {"rules": [rule("x"), rule("y")]})["imported"] == 2
    rules.refused(409, "create", rule("z"))


def test_import_is_all_or_nothing(rules: Rules) -> None:
    rules.ok("create", rule("keep", priority=1))
    bad = {"rules": [rule("a"), rule("b", match={"key_ids": [2**31 - 1]})], "mode": "overwrite"}
    answer = rules.refused(400, "import", bad)
    assert answer["message"].startswith("rules[1].match.key_ids[0]:")
    twice = {"rules": [rule("a"), rule("a")]}
    assert rules.refused(400, "import", twice)["message"].startswith("rules[1].name:")
    assert [i["name"] for i in rules.ok("list", {})["items"]] == ["keep"]


def test_import_skips_or_overwrites_a_taken_name(rules: Rules) -> None:
    kept = rules.ok("create", rule("keep", priority=1))
    changed = rule("keep", priority=9, actions=[{"type": "remove", "path": "/top_p"}])
    skipped = rules.ok("import", {"rules": [changed, rule("new")]})
    assert (skipped["imported"], skipped["skipped"]) == (1, ["keep"])
    assert rules.ok("get", {"id": kept["id"]})["priority"] == 1
    over = rules.ok("import", {"rules": [changed], "mode": "overwrite"})
    assert (over["overwritten"], over["created"], over["skipped"]) == ([kept["id"]], [], [])
    now = rules.ok("get", {"id": kept["id"]})
    assert (now["priority"], now["actions"]) == (9, changed["actions"])


def test_export_then_import_gives_the_same_rules(gateway: Gateway, rules: Rules) -> None:
    docs = [
        rule("one", priority=3, description="first", match={"endpoints": ["chat"]}),
        rule(
            "two",
            enabled=False,
            match={"conditions": [{"path": "/stream", "op": "eq", "value": True}]},
            actions=[
                {"type": "set", "path": "/temperature", "value": None},
                {"type": "clamp", "path": "/max_tokens", "max": 4096},
                {"type": "system_prompt", "mode": "prepend", "text": "Be brief."},
            ],
        ),
    ]
    for doc in docs:
        rules.ok("create", doc)
    exported = rules.ok("export", {})
    assert exported["version"] == 1 and exported["exported_at"]
    defaults = {"description": "", "enabled": True, "priority": 100}
    assert exported["rules"] == [{**defaults, **d} for d in docs]
    other = Rules(gateway)
    assert other.ok("import", exported)["created"]  # the document as exported
    assert other.ok("export", {})["rules"] == exported["rules"]
    one = rules.ok("list", {"name": "one"})["items"][0]["id"]
    assert [r["name"] for r in rules.ok("export", {"ids": [one]})["rules"]] == ["one"]


def test_the_dry_run_shows_the_rewrite_and_every_verdict(rules: Rules) -> None:
    pin = rules.ok(
        "create",
        rule(
            "pin",
            priority=1,
            actions=[
                {"type": "rename_model", "to": "gpt-4o-mini"},
                {"type": "set", "path": "/temperature", "value": 0.2},
                {"type": "set_header", "name": "x-team", "value": "blue"},
            ],
        ),
    )
    rules.ok("create", rule("claude only", match={"models": ["claude-*"]}))
    sample = {"body": {"model": "gpt-4", "messages": [{"role": "user", "content": "hi"}]}}
    done = rules.ok("test", {"sample": sample})
    assert done["matched"] is True and done["fired"] == [pin["id"]]
    sent = done["rewritten_request"]
    assert sent["model"] == "gpt-4o-mini"
    assert sent["body"]["temperature"] == 0.2 and sent["body"]["model"] == "gpt-4o-mini"
    assert sent["set_headers"] == {"x-team": "blue"}
    verdicts = {v["name"]: v for v in done["rules"]}
    assert verdicts["pin"]["matched"] is True
    assert verdicts["claude only"]["matched"] is False
    assert "claude-*" in verdicts["claude only"]["reason"]
    unsaved = rule(actions=[{"type": "block", "message": "not here"}])
    blocked = rules.ok("test", {"rule": unsaved, "sample": sample})
    assert (blocked["blocked"], blocked["block_message"]) == (True, "not here")
    assert rules.ok("list", {})["total"] == 2  # the unsaved rule stays unsaved


def test_a_dry_run_of_a_draft_or_selected_rules_runs_them_even_disabled(
    sqlite_gateway: Gateway,
) -> None:
    rules = Rules(sqlite_gateway)
    on = rules.ok("create", rule("on", priority=1))
    off = rules.ok(
        "create",
        rule(
            "off",
            enabled=False,
            priority=2,
            actions=[{"type": "set", "path": "/temperature", "value": 0}],
        ),
    )
    sample = {"body": {"model": "gpt-4", "messages": []}}

    every = rules.ok("test", {"sample": sample})  # all my rules: the enabled ones only
    assert (every["fired"], every["disabled"]) == ([on["id"]], [])
    assert [(v["id"], v["enabled"]) for v in every["rules"]] == [(on["id"], True)]
    assert "temperature" not in every["rewritten_request"]["body"]

    chosen = rules.ok("test", {"ids": [off["id"], on["id"]], "sample": sample})
    assert (chosen["fired"], chosen["disabled"]) == ([on["id"], off["id"]], [off["id"]])
    assert [(v["id"], v["enabled"], v["matched"]) for v in chosen["rules"]] == [
        (on["id"], True, True),
        (off["id"], False, True),
    ]
    assert chosen["rewritten_request"]["body"]["temperature"] == 0

    draft = rule("draft", enabled=False, actions=[{"type": "block", "message": "not yet"}])
    tried = rules.ok("test", {"rule": draft, "sample": sample})
    assert (tried["blocked"], tried["disabled"], tried["rules"][0]["enabled"]) == (True, [0], False)


def test_stats_and_limits_answer_for_a_new_user(rules: Rules) -> None:
    rules.ok("create", rule("a"))
    stats = rules.ok("stats", {"days": 7})
    assert (stats["total"], stats["enabled"], stats["days"], stats["hits"]) == (1, 1, 7, 0)
    assert stats["hits_by_rule"][0]["name"] == "a"
    assert rules.ok("limits")["max_document_bytes"] == 16 * 1024


def test_a_plain_key_or_no_key_is_refused(gateway: Gateway) -> None:
    plain = gateway.make_user_key()
    with gateway.http(plain.key) as http:
        assert http.post(f"{BASE}/list", json={}).status_code == 403
    with gateway.http() as http:
        assert http.post(f"{BASE}/list", json={}).status_code == 401


def test_stats_count_the_calls_a_rule_changed(gateway: Gateway, rules: Rules) -> None:
    """A real call through the echo channel: the rule's hit lands in the statistics (the
    bill writer's batch), with the day and the last hit; a rule that did not match has
    none."""
    hit = rules.ok(
        "create",
        rule(
            "echo",
            match={"models": ["relaygate-echo"]},
            actions=[{"type": "remove", "path": "/top_p"}],
        ),
    )
    rules.ok("create", rule("idle"))
    client = gateway.openai(rules.http.headers["authorization"].removeprefix("Bearer "))
    raw = client.chat.completions.with_raw_response.create(
        model="relaygate-echo", messages=[{"role": "user", "content": "hi"}], top_p=0.5
    )
    gateway.wait_for_usage(raw.headers["x-request-id"])
    stats = rules.ok("stats", {})
    by_name = {r["name"]: r for r in stats["hits_by_rule"]}
    assert (stats["hits"], by_name["echo"]["hits"], by_name["idle"]["hits"]) == (1, 1, 0)
    assert by_name["echo"]["last_hit_at"] and len(by_name["echo"]["daily"]) == 1
    assert by_name["echo"]["daily"][0]["hits"] == 1
    assert rules.ok("get", {"id": hit["id"]})["hits_30d"] == 1
