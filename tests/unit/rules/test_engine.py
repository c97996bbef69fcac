"""The rules engine: matching, each action, the order of rules, and dry-run reasons."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from relaygate.rules.engine import RuleCall, RuleSet, compile_rules
from relaygate.rules.schema import RuleDoc


def rules(*docs: dict[str, Any], start: int = 1) -> RuleSet:
    pairs = [(i, RuleDoc.model_validate({"name": f"r{i}", **d})) for i, d in enumerate(docs, start)]
    return compile_rules(pairs)


def chat(**fields: Any) -> dict[str, Any]:
    return {"model": "gpt-4", "messages": [{"role": "user", "content": "hi"}], **fields}


def call(
    body: dict[str, Any],
    *,
    dialect: str = "openai",
    endpoint: str = "chat",
    group: str = "default",
    key: int = 1,
) -> RuleCall:
    return RuleCall(dialect, endpoint, group, key, str(body.get("model", "")), body)


def act(*actions: dict[str, Any]) -> RuleSet:
    return rules({"actions": list(actions)})


# ------------------------------------------------------------------ no rules, no change
def test_the_empty_set_returns_the_very_body() -> None:
    body = chat()
    out = RuleSet.EMPTY.apply(call(body))
    assert out.body is body and out.fired == () and out.blocked is None
    assert not RuleSet.EMPTY and compile_rules([]) is RuleSet.EMPTY


def test_a_rule_that_changes_nothing_keeps_the_body_object_but_fires() -> None:
    body = chat(temperature=0.5)
    out = act(
        {"type": "remove", "path": "/top_p"}, {"type": "set", "path": "/temperature", "value": 0.5}
    ).apply(call(body))
    assert out.body is body and out.fired == (1,)


def test_disabled_rules_are_left_out_unless_asked_for() -> None:
    doc = RuleDoc.model_validate(
        {"name": "off", "enabled": False, "actions": [{"type": "block", "message": "m"}]}
    )
    assert not compile_rules([(1, doc)])
    assert compile_rules([(1, doc)], include_disabled=True).apply(call(chat())).blocked == "m"


# ------------------------------------------------------------------ matching
@pytest.mark.parametrize(
    ("match", "fires"),
    [
        ({}, True),
        ({"models": ["gpt-4"]}, True),
        ({"models": ["gpt-4*"]}, True),
        ({"models": ["GPT-4"]}, False),  # case-sensitive
        ({"models": ["gpt-3*", "gpt-?"]}, True),
        ({"models": ["gpt-4o"]}, False),
        ({"model_regex": "^gpt-4(-\\d+)?$"}, True),
        ({"model_regex": "4o"}, False),
        ({"models": ["gpt-4"], "model_regex": "o$"}, False),  # both must hold
        ({"key_ids": [1, 2]}, True),
        ({"key_ids": [2]}, False),
        ({"route_groups": ["default"]}, True),
        ({"route_groups": ["cc-omg"]}, False),
        ({"endpoints": ["chat", "messages"]}, True),
        ({"endpoints": ["responses"]}, False),
    ],
)
def test_match_fields(match: dict[str, Any], fires: bool) -> None:
    ruleset = rules({"match": match, "actions": [{"type": "block", "message": "m"}]})
    assert (ruleset.apply(call(chat())).blocked is not None) is fires


@pytest.mark.parametrize(
    ("condition", "holds"),
    [
        ({"path": "/stream", "op": "eq", "value": True}, True),
        ({"path": "/stream", "op": "eq", "value": 1}, False),  # JSON: true is not 1
        ({"path": "/n", "op": "eq", "value": 1.0}, True),  # 1 and 1.0 are one number
        ({"path": "/n", "op": "eq", "value": True}, False),
        ({"path": "/stream", "op": "ne", "value": False}, True),
        ({"path": "/nope", "op": "ne", "value": 1}, True),  # absent: only ne and absent hold
        ({"path": "/nope", "op": "eq", "value": None}, False),
        ({"path": "/nope", "op": "gt", "value": 0}, False),
        ({"path": "/max_tokens", "op": "gt", "value": 4096}, True),
        ({"path": "/max_tokens", "op": "gte", "value": 5000}, True),
        ({"path": "/max_tokens", "op": "lt", "value": 5000}, False),
        ({"path": "/max_tokens", "op": "lte", "value": 5000}, True),
        ({"path": "/stream", "op": "gt", "value": 0}, False),  # a boolean is not a number
        ({"path": "/metadata/tier", "op": "in", "value": ["gold", "silver"]}, True),
        ({"path": "/metadata/tier", "op": "in", "value": ["bronze"]}, False),
        ({"path": "/metadata", "op": "eq", "value": {"tier": "gold", "a/b": [1]}}, True),
        ({"path": "/metadata/a~1b/0", "op": "eq", "value": 1}, True),
        ({"path": "/messages/0/role", "op": "eq", "value": "user"}, True),
        ({"path": "/messages/1", "op": "exists"}, False),
        ({"path": "/messages/01", "op": "exists"}, False),  # not an index in RFC 6901
        ({"path": "/tools", "op": "absent"}, True),
        ({"path": "/stream", "op": "exists"}, True),
    ],
)
def test_conditions(condition: dict[str, Any], holds: bool) -> None:
    body = chat(stream=True, n=1, max_tokens=5000, metadata={"tier": "gold", "a/b": [1]})
    ruleset = rules(
        {"match": {"conditions": [condition]}, "actions": [{"type": "block", "message": "m"}]}
    )
    assert (ruleset.apply(call(body)).blocked is not None) is holds


# ------------------------------------------------------------------ order
def test_rules_run_by_priority_then_id_and_see_earlier_rewrites() -> None:
    ruleset = rules(
        {
            "priority": 50,
            "match": {"models": ["o3*"]},
            "actions": [{"type": "remove", "path": "/temperature"}],
        },
        {"priority": 10, "actions": [{"type": "rename_model", "to": "o3-mini"}]},
        {"priority": 50, "actions": [{"type": "set", "path": "/metadata/seen", "value": True}]},
    )
    out = ruleset.apply(call(chat(temperature=1)))
    assert out.fired == (2, 1, 3)
    assert out.model == "o3-mini" == out.body["model"]
    assert "temperature" not in out.body and out.body["metadata"] == {"seen": True}


def test_a_block_ends_the_run() -> None:
    ruleset = rules(
        {
            "actions": [
                {"type": "set", "path": "/a", "value": 1},
                {"type": "block", "message": "stop"},
                {"type": "set", "path": "/b", "value": 1},
            ]
        },
        {"actions": [{"type": "set", "path": "/c", "value": 1}]},
    )
    out = ruleset.apply(call(chat()))
    assert out.blocked == "stop" and out.fired == (1,)
    assert "b" not in out.body and "c" not in out.body


# ------------------------------------------------------------------ body actions
def test_set_creates_parents_and_never_touches_the_callers_body() -> None:
    body = chat(metadata={"keep": [1, 2]})
    before = copy.deepcopy(body)
    out = act({"type": "set", "path": "/metadata/deep/er", "value": {"x": [1]}}).apply(call(body))
    assert body == before
    assert out.body["metadata"] == {"keep": [1, 2], "deep": {"er": {"x": [1]}}}
    assert out.body["messages"] is body["messages"]  # untouched containers are shared
    assert out.body["metadata"]["keep"] is body["metadata"]["keep"]


def test_values_are_not_shared_between_calls() -> None:
    ruleset = act({"type": "set", "path": "/metadata", "value": {"tags": []}})
    first = ruleset.apply(call(chat())).body
    first["metadata"]["tags"].append("x")
    assert ruleset.apply(call(chat())).body["metadata"] == {"tags": []}


def test_set_through_a_scalar_is_a_no_op() -> None:
    out = act({"type": "set", "path": "/temperature/x", "value": 1}).apply(
        call(chat(temperature=1))
    )
    assert out.body["temperature"] == 1


def test_list_indexes() -> None:
    body = chat(stop=["a", "b"])
    out = act(
        {"type": "set", "path": "/stop/0", "value": "A"},
        {"type": "set", "path": "/stop/-", "value": "c"},
        {"type": "set", "path": "/stop/3", "value": "d"},  # == len: appends
        {"type": "set", "path": "/stop/9", "value": "z"},  # beyond: nothing
        {"type": "remove", "path": "/stop/1"},
    ).apply(call(body))
    assert out.body["stop"] == ["A", "c", "d"] and body["stop"] == ["a", "b"]


def test_default_only_when_absent() -> None:
    ruleset = act({"type": "default", "path": "/max_tokens", "value": 1024})
    assert ruleset.apply(call(chat())).body["max_tokens"] == 1024
    assert ruleset.apply(call(chat(max_tokens=None))).body["max_tokens"] is None
    assert ruleset.apply(call(chat(max_tokens=9))).body["max_tokens"] == 9


def test_remove_nested_and_absent() -> None:
    body = chat(metadata={"a": 1, "b": 2})
    out = act({"type": "remove", "path": "/metadata/a"}, {"type": "remove", "path": "/x/y"}).apply(
        call(body)
    )
    assert out.body["metadata"] == {"b": 2} and body["metadata"] == {"a": 1, "b": 2}


@pytest.mark.parametrize(
    ("value", "bounds", "result"),
    [
        (9000, {"max": 4096}, 4096),
        (0, {"min": 1}, 1),
        (2.5, {"min": 0, "max": 2}, 2),
        (100, {"min": 1, "max": 4096}, 100),
        (True, {"max": 0}, True),
        ("5", {"max": 1}, "5"),
    ],
)
def test_clamp(value: Any, bounds: dict[str, Any], result: Any) -> None:
    out = act({"type": "clamp", "path": "/max_tokens", **bounds}).apply(
        call(chat(max_tokens=value))
    )
    assert out.body["max_tokens"] == result and type(out.body["max_tokens"]) is type(result)


def test_rename_model() -> None:
    body = chat()
    out = act({"type": "rename_model", "to": "gpt-4o-mini"}).apply(call(body))
    assert out.model == out.body["model"] == "gpt-4o-mini" and body["model"] == "gpt-4"


# ------------------------------------------------------------------ headers
def test_headers_later_actions_win() -> None:
    out = act(
        {"type": "set_header", "name": "X-A", "value": "1"},
        {"type": "remove_header", "name": "x-a"},
        {"type": "remove_header", "name": "x-b"},
        {"type": "set_header", "name": "x-b", "value": "2"},
        {"type": "remove_header", "name": "anthropic-beta"},
    ).apply(call(chat()))
    assert dict(out.set_headers) == {"x-b": "2"}
    assert out.remove_headers == {"x-a", "anthropic-beta"}
    assert out.body["model"] == "gpt-4"


# ------------------------------------------------------------------ system prompts
SYSTEM = "Answer in French."


def prompt(mode: str) -> RuleSet:
    return act({"type": "system_prompt", "mode": mode, "text": SYSTEM})


@pytest.mark.parametrize(
    ("mode", "messages", "expected"),
    [
        (
            "prepend",
            [{"role": "user", "content": "q"}],
            [{"role": "system", "content": SYSTEM}, {"role": "user", "content": "q"}],
        ),
        (
            "append",
            [{"role": "user", "content": "q"}],
            [{"role": "system", "content": SYSTEM}, {"role": "user", "content": "q"}],
        ),
        (
            "prepend",
            [{"role": "system", "content": "S"}, {"role": "user", "content": "q"}],
            [{"role": "system", "content": f"{SYSTEM}\n\nS"}, {"role": "user", "content": "q"}],
        ),
        (
            "append",
            [
                {"role": "system", "content": "S"},
                {"role": "developer", "content": "D"},
                {"role": "user", "content": "q"},
            ],
            [
                {"role": "system", "content": "S"},
                {"role": "developer", "content": f"D\n\n{SYSTEM}"},
                {"role": "user", "content": "q"},
            ],
        ),
        (
            "append",
            [
                {"role": "developer", "content": [{"type": "text", "text": "D"}]},
                {"role": "user", "content": "q"},
            ],
            [
                {
                    "role": "developer",
                    "content": [{"type": "text", "text": "D"}, {"type": "text", "text": SYSTEM}],
                },
                {"role": "user", "content": "q"},
            ],
        ),
        (
            "replace",
            [
                {"role": "developer", "content": "D"},
                {"role": "user", "content": "q"},
                {"role": "system", "content": "late"},
            ],
            [{"role": "developer", "content": SYSTEM}, {"role": "user", "content": "q"}],
        ),
        (
            "replace",
            [{"role": "user", "content": "q"}],
            [{"role": "system", "content": SYSTEM}, {"role": "user", "content": "q"}],
        ),
    ],
)
def test_system_prompt_in_chat(mode: str, messages: list[Any], expected: list[Any]) -> None:
    body = chat(messages=messages)
    before = copy.deepcopy(body)
    assert prompt(mode).apply(call(body)).body["messages"] == expected
    assert body == before


@pytest.mark.parametrize(
    ("mode", "system", "expected"),
    [
        ("prepend", None, SYSTEM),
        ("append", "S", f"S\n\n{SYSTEM}"),
        ("prepend", "S", f"{SYSTEM}\n\nS"),
        ("replace", [{"type": "text", "text": "S"}], SYSTEM),
        (
            "append",
            [{"type": "text", "text": "S", "cache_control": {"type": "ephemeral"}}],
            [
                {"type": "text", "text": "S", "cache_control": {"type": "ephemeral"}},
                {"type": "text", "text": SYSTEM},
            ],
        ),
        (
            "prepend",
            [{"type": "text", "text": "S"}],
            [{"type": "text", "text": SYSTEM}, {"type": "text", "text": "S"}],
        ),
    ],
)
def test_system_prompt_in_anthropic_messages(mode: str, system: Any, expected: Any) -> None:
    body: dict[str, Any] = {
        "model": "claude",
        "max_tokens": 10,
        "messages": [{"role": "user", "content": "q"}],
    }
    if system is not None:
        body["system"] = system
    out = prompt(mode).apply(call(body, dialect="anthropic", endpoint="messages"))
    assert out.body["system"] == expected


def test_system_prompt_skips_the_legacy_complete_body() -> None:
    body = {"model": "claude-2", "prompt": "\n\nHuman: q\n\nAssistant:", "max_tokens_to_sample": 5}
    assert prompt("append").apply(call(body, dialect="anthropic", endpoint="messages")).body is body


@pytest.mark.parametrize(
    ("mode", "instructions", "expected"),
    [
        ("prepend", None, SYSTEM),
        ("append", "I", f"I\n\n{SYSTEM}"),
        ("prepend", "I", f"{SYSTEM}\n\nI"),
        ("replace", "I", SYSTEM),
    ],
)
def test_system_prompt_in_responses(mode: str, instructions: str | None, expected: str) -> None:
    items = [{"role": "developer", "content": "D"}, {"role": "user", "content": "q"}]
    body: dict[str, Any] = {"model": "gpt-5", "input": items}
    if instructions is not None:
        body["instructions"] = instructions
    out = prompt(mode).apply(call(body, dialect="responses", endpoint="responses"))
    assert out.body["instructions"] == expected
    assert out.body["input"] == (items[1:] if mode == "replace" else items)


def test_system_prompt_with_a_plain_string_input() -> None:
    body = {"model": "gpt-5", "input": "q"}
    out = prompt("replace").apply(call(body, dialect="responses", endpoint="responses"))
    assert out.body == {"model": "gpt-5", "input": "q", "instructions": SYSTEM}


def test_system_prompt_on_embeddings_is_a_no_op() -> None:
    body = {"model": "text-embedding-3-small", "input": "q"}
    assert prompt("append").apply(call(body, endpoint="embeddings")).body is body


# ------------------------------------------------------------------ explain
def test_explain_gives_each_rules_reason() -> None:
    ruleset = rules(
        {"match": {"key_ids": [7]}, "actions": [{"type": "block", "message": "m"}]},
        {"match": {"route_groups": ["cc-omg"]}, "actions": [{"type": "block", "message": "m"}]},
        {"match": {"endpoints": ["messages"]}, "actions": [{"type": "block", "message": "m"}]},
        {"match": {"models": ["gpt-3*"]}, "actions": [{"type": "block", "message": "m"}]},
        {"match": {"model_regex": "^o"}, "actions": [{"type": "block", "message": "m"}]},
        {
            "match": {"conditions": [{"path": "/max_tokens", "op": "gt", "value": 4096}]},
            "actions": [{"type": "block", "message": "m"}],
        },
        {"actions": [{"type": "rename_model", "to": "o1"}]},
        {"match": {"model_regex": "^o"}, "actions": [{"type": "block", "message": "m"}]},
        {"actions": [{"type": "set", "path": "/x", "value": 1}]},
    )
    verdicts = ruleset.explain(call(chat(max_tokens=100)))
    assert [v.matched for v in verdicts] == [False] * 6 + [True, True, False]
    reasons = [v.reason for v in verdicts]
    assert reasons[0] == "key 1 is not one of [7]"
    assert reasons[1] == "route group 'default' is not one of ['cc-omg']"
    assert reasons[2] == "endpoint 'chat' is not one of ['messages']"
    assert reasons[3] == "model 'gpt-4' matches none of ['gpt-3*']"
    assert reasons[4] == "model 'gpt-4' does not match the regular expression '^o'"
    assert reasons[5] == "condition /max_tokens gt 4096 does not hold (the body has 100)"
    assert reasons[6:8] == ["matched", "matched"]
    assert reasons[8] == "not reached: rule 'r8' blocked the call"
    assert [v.id for v in verdicts] == list(range(1, 10))


def test_explain_and_apply_agree() -> None:
    ruleset = rules(
        {"match": {"models": ["gpt-4*"]}, "actions": [{"type": "rename_model", "to": "x"}]},
        {"match": {"models": ["gpt-4*"]}, "actions": [{"type": "set", "path": "/y", "value": 1}]},
        {"match": {"models": ["x"]}, "actions": [{"type": "set", "path": "/z", "value": 1}]},
    )
    c = call(chat())
    assert tuple(v.id for v in ruleset.explain(c) if v.matched) == ruleset.apply(c).fired == (1, 3)
