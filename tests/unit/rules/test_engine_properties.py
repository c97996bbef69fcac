"""Properties of the rules engine over generated rule sets and calls in the three dialects:
deterministic, never fires a disabled rule, stops at a block, never mutates the caller's
body, and leaves a body its dialect still accepts: read back through the dialect's own
admission and parse (the canonical request), its conversation unchanged and the system
prompt a rule wrote where the dialect reads it."""

from __future__ import annotations

import copy
from itertools import dropwhile
from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from relaygate.relay.canonical.messages import Message, Request
from relaygate.relay.dialects.registry import ANTHROPIC_MESSAGES, OPENAI_CHAT, OPENAI_RESPONSES
from relaygate.rules.engine import RuleCall, compile_rules
from relaygate.rules.schema import RuleDoc

MODELS = ["gpt-4", "gpt-4o", "o3-mini", "claude-3-haiku", "claude-sonnet-4"]
TEXT = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=12)
SCALAR = st.none() | st.booleans() | st.integers(-5, 5000) | st.floats(0, 2) | TEXT
# fields every dialect accepts with any sampling value of the right type (and free-form
# places), so generated set/remove actions keep the body the dialect's to judge
FREE_PATHS = ["/metadata/tag", "/metadata/deep/er", "/metadata"]
NUMBER_PATHS = ["/max_tokens", "/max_output_tokens", "/temperature", "/top_p"]
SYSTEM_ROLES = frozenset({"system", "developer"})
GROUPS = ["default", "cc-omg", "codex-omg"]
ENDPOINTS = {"openai": "chat", "responses": "responses", "anthropic": "messages"}
WIRES = {"openai": OPENAI_CHAT, "responses": OPENAI_RESPONSES, "anthropic": ANTHROPIC_MESSAGES}
RELAY_ENDPOINTS = {"openai": "chat/completions", "responses": "responses", "anthropic": "messages"}

texts = st.text(
    st.characters(codec="utf-8", exclude_categories=["Cs", "Cc"]), min_size=1, max_size=20
)
parts = st.lists(st.builds(lambda t: {"type": "text", "text": t}, texts), min_size=1, max_size=2)
contents = texts | parts


@st.composite
def chat_body(draw: st.DrawFn) -> dict[str, Any]:
    lead = draw(st.lists(st.sampled_from(["system", "developer"]), max_size=2))
    turns = draw(st.lists(st.sampled_from(["user", "assistant"]), min_size=1, max_size=3))
    messages = [{"role": role, "content": draw(contents)} for role in [*lead, *turns]]
    body: dict[str, Any] = {"model": draw(st.sampled_from(MODELS)), "messages": messages}
    if draw(st.booleans()):
        body["temperature"] = draw(st.floats(0, 2))
    if draw(st.booleans()):
        body["max_tokens"] = draw(st.integers(1, 9000))
    if draw(st.booleans()):
        body["stream"] = draw(st.booleans())
    return body


@st.composite
def responses_body(draw: st.DrawFn) -> dict[str, Any]:
    body: dict[str, Any] = {"model": draw(st.sampled_from(MODELS))}
    if draw(st.booleans()):
        body["input"] = draw(texts)
    else:
        roles = draw(
            st.lists(st.sampled_from(["developer", "system", "user"]), min_size=1, max_size=3)
        )
        body["input"] = [{"role": r, "content": draw(texts)} for r in [*roles, "user"]]
    if draw(st.booleans()):
        body["instructions"] = draw(texts)
    if draw(st.booleans()):
        body["max_output_tokens"] = draw(st.integers(16, 9000))
    return body


@st.composite
def anthropic_body(draw: st.DrawFn) -> dict[str, Any]:
    body: dict[str, Any] = {
        "model": draw(st.sampled_from(MODELS)),
        "max_tokens": draw(st.integers(1, 9000)),
        "messages": [{"role": "user", "content": draw(contents)}],
    }
    system = draw(st.none() | texts | parts)
    if system is not None:
        body["system"] = system
    if draw(st.booleans()):
        body["temperature"] = draw(st.floats(0, 1))
    return body


BODIES = {"openai": chat_body(), "responses": responses_body(), "anthropic": anthropic_body()}

actions = st.one_of(
    st.builds(lambda m: {"type": "rename_model", "to": m}, st.sampled_from(MODELS)),
    st.builds(
        lambda p, v: {"type": "set", "path": p, "value": v}, st.sampled_from(FREE_PATHS), SCALAR
    ),
    st.builds(
        lambda p, v: {"type": "default", "path": p, "value": v}, st.sampled_from(FREE_PATHS), SCALAR
    ),
    st.builds(
        lambda p: {"type": "remove", "path": p},
        st.sampled_from([*FREE_PATHS, "/temperature", "/top_p", "/stream"]),
    ),
    st.builds(
        lambda p: {"type": "clamp", "path": p, "min": 0, "max": 1},
        st.sampled_from(["/temperature", "/top_p"]),
    ),
    st.builds(
        lambda p: {"type": "clamp", "path": p, "min": 16, "max": 4096},
        st.sampled_from(NUMBER_PATHS[:2]),
    ),
    st.builds(
        lambda m, t: {"type": "system_prompt", "mode": m, "text": t},
        st.sampled_from(["prepend", "append", "replace"]),
        texts,
    ),
    st.builds(
        lambda n, v: {"type": "set_header", "name": n, "value": v},
        st.sampled_from(["x-a", "x-b"]),
        st.sampled_from(["1", "2"]),
    ),
    st.builds(lambda n: {"type": "remove_header", "name": n}, st.sampled_from(["x-a", "x-b"])),
    st.builds(lambda t: {"type": "block", "message": t}, texts),
)

conditions = st.one_of(
    st.builds(lambda v: {"path": "/stream", "op": "eq", "value": v}, st.booleans()),
    st.builds(lambda v: {"path": "/max_tokens", "op": "gt", "value": v}, st.integers(0, 9000)),
    st.builds(
        lambda p, o: {"path": p, "op": o},
        st.sampled_from(["/temperature", "/system", "/metadata/tag"]),
        st.sampled_from(["exists", "absent"]),
    ),
    st.builds(
        lambda v: {"path": "/model", "op": "in", "value": v},
        st.lists(st.sampled_from(MODELS), max_size=3),
    ),
)

matches = st.fixed_dictionaries(
    {},
    optional={
        "models": st.lists(
            st.sampled_from(["gpt-4*", "o3*", "claude-*", "*"]), min_size=1, max_size=2
        ),
        "model_regex": st.sampled_from(["^gpt", "mini$", "claude"]),
        "key_ids": st.lists(st.integers(1, 3), min_size=1, max_size=2),
        "route_groups": st.lists(st.sampled_from(GROUPS), min_size=1, max_size=2),
        "endpoints": st.lists(st.sampled_from(list(ENDPOINTS.values())), min_size=1, max_size=2),
        "conditions": st.lists(conditions, max_size=2),
    },
)

rule_docs = st.builds(
    lambda enabled, priority, match, acts: RuleDoc.model_validate(
        {"name": "r", "enabled": enabled, "priority": priority, "match": match, "actions": acts}
    ),
    st.booleans(),
    st.integers(0, 3),
    matches,
    st.lists(actions, min_size=1, max_size=4),
)
rule_lists = st.lists(rule_docs, max_size=8).map(lambda docs: list(enumerate(docs, start=1)))

# rules that mostly match and mostly write system prompts: what the validity property
# needs to see often (the lists above fire a system prompt in about one call in six)
prompts = st.builds(
    lambda m, t: {"type": "system_prompt", "mode": m, "text": t},
    st.sampled_from(["prepend", "append", "replace"]),
    texts,
)
busy_docs = st.builds(
    lambda priority, match, acts: RuleDoc.model_validate(
        {"name": "r", "priority": priority, "match": match, "actions": acts}
    ),
    st.integers(0, 3),
    st.just({}) | matches,
    st.lists(prompts | actions, min_size=1, max_size=4),
)
busy_lists = st.lists(busy_docs, min_size=1, max_size=5).map(
    lambda docs: list(enumerate(docs, start=1))
)


@st.composite
def calls(draw: st.DrawFn) -> RuleCall:
    dialect = draw(st.sampled_from(sorted(BODIES)))
    body = draw(BODIES[dialect])
    group, key = draw(st.sampled_from(GROUPS)), draw(st.integers(1, 3))
    return RuleCall(dialect, ENDPOINTS[dialect], group, key, body["model"], body)


PROPERTY = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTY
@given(rule_lists, calls())
def test_applying_is_deterministic_and_never_mutates_the_call(
    docs: list[tuple[int, RuleDoc]], call: RuleCall
) -> None:
    before = orjson.dumps(call.body)
    first = compile_rules(docs).apply(call)
    again = compile_rules(docs).apply(call)
    assert orjson.dumps(call.body) == before
    assert orjson.dumps(first.body) == orjson.dumps(again.body)
    assert (first.model, first.fired, first.blocked) == (again.model, again.fired, again.blocked)
    assert (dict(first.set_headers), first.remove_headers) == (
        dict(again.set_headers),
        again.remove_headers,
    )
    if not first.fired:
        assert first.body is call.body


@PROPERTY
@given(rule_lists, calls())
def test_a_disabled_rule_never_fires(docs: list[tuple[int, RuleDoc]], call: RuleCall) -> None:
    disabled = {i for i, doc in docs if not doc.enabled}
    assert not disabled & set(compile_rules(docs).apply(call).fired)
    enabled_only = compile_rules([(i, d) for i, d in docs if d.enabled]).apply(call)
    assert enabled_only.fired == compile_rules(docs).apply(call).fired


@PROPERTY
@given(rule_lists, calls())
def test_a_block_is_the_last_thing_that_happens(
    docs: list[tuple[int, RuleDoc]], call: RuleCall
) -> None:
    out = compile_rules(docs).apply(call)
    by_id = dict(docs)
    blocking = [i for i in out.fired if any(a.type == "block" for a in by_id[i].actions)]
    assert (out.blocked is not None) == bool(blocking)
    if blocking:
        assert blocking == [out.fired[-1]]
    verdicts = compile_rules(docs).explain(call)
    assert tuple(v.id for v in verdicts if v.matched) == out.fired


def _last_prompt(docs: list[tuple[int, RuleDoc]], fired: tuple[int, ...]) -> str | None:
    """The text of the last ``system_prompt`` action that ran (none after a block)."""
    by_id, last = dict(docs), None
    for rule_id in fired:
        for action in by_id[rule_id].actions:
            if action.type == "block":
                return last
            if action.type == "system_prompt":
                last = action.text
    return last


def _turns(request: Request) -> list[Message]:
    return [m for m in request.messages if m.role != "system"]


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rule_lists | busy_lists, calls())
def test_the_output_is_valid_for_its_dialect(
    docs: list[tuple[int, RuleDoc]], call: RuleCall
) -> None:
    """What the relay and translation read of the rewritten body, through the dialect's
    own code: admission (``inspect``) and the full parse into the canonical request
    (``codec().parse_request``, what a translated call renders from), after a JSON round
    trip (the bytes the upstream is sent). The conversation itself is untouched, and the
    last system prompt a rule wrote is in the system prompt the dialect reads."""
    out = compile_rules(docs).apply(call)
    wire = WIRES[call.dialect]
    sent = orjson.loads(orjson.dumps(out.body))
    assert sent["model"] == out.model
    assert wire.inspect(RELAY_ENDPOINTS[call.dialect], copy.deepcopy(sent)).model == out.model
    before = wire.codec().parse_request(copy.deepcopy(call.body), [])
    after = wire.codec().parse_request(sent, [])
    assert after.model == out.model
    assert _turns(after) == _turns(before)  # rules write system prompts, never turns
    text = _last_prompt(docs, out.fired)
    if text is not None:
        assert text in "\n\n".join(part.text for part in after.system)
    assert not {"authorization", "x-api-key"} & (set(out.set_headers) | out.remove_headers)
    if call.dialect == "openai":  # system messages stay in front
        roles = [m["role"] for m in out.body["messages"]]
        lead = len(roles) - len(list(dropwhile(SYSTEM_ROLES.__contains__, roles)))
        assert not SYSTEM_ROLES & set(roles[lead:])
        assert out.body["messages"][lead:] == [
            m for m in call.body["messages"] if m["role"] not in SYSTEM_ROLES
        ]
    elif call.dialect == "anthropic":  # a string, or text blocks (cache marks kept)
        system = sent.get("system")
        assert (
            system is None
            or isinstance(system, str)
            or all(
                block.get("type") == "text" and isinstance(block.get("text"), str)
                for block in system
            )
        )
    else:  # instructions a string; the non-system input items as they were
        assert isinstance(sent.get("instructions", ""), str)
        if isinstance(call.body["input"], list):
            assert [i for i in sent["input"] if i["role"] not in SYSTEM_ROLES] == [
                i for i in call.body["input"] if i["role"] not in SYSTEM_ROLES
            ]
