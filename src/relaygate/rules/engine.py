"""The override rules engine: match a call against a user's rules and rewrite it. Pure.

Rules are compiled once per change (:func:`compile_rules`: globs and regular expressions
built, pointers parsed, values canonicalised) and then applied to many calls, so the relay
path pays only for dictionary lookups and the writes a rule actually makes.

Semantics (docs/rules.md "How rules apply"): rules run by priority (lower first), then by
id; each rule sees the call as the rules before it left it (a renamed model, a changed
body), so a rule that strips ``temperature`` for ``o3*`` also catches a call another rule
renamed to ``o3-mini``. A matching rule runs its actions in order; a ``block`` ends the
whole run. The caller's body is never mutated: the first write copies the top level, and
a nested write copies each container on its path once (copy-on-write), so a call no rule
changes keeps its very object (and the relay its raw bytes).
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, ClassVar

from relaygate.rules.actions import MISSING, Action, Work, compile_action, get
from relaygate.rules.conditions import Test, compile_test
from relaygate.rules.schema import Condition, RuleDoc, parse_pointer

__all__ = ["CompiledRule", "Rewrite", "RuleCall", "RuleSet", "RuleVerdict", "compile_rules"]

_NO_HEADERS: Mapping[str, str] = MappingProxyType({})
_MEMO_LIMIT = 256  # distinct model names remembered per rule

# the body shape a system prompt lives in, by the caller's dialect (DialectName values and
# the contract's long names both work)
_SHAPES: Mapping[str, str] = MappingProxyType(
    {
        "openai": "chat",
        "openai_chat": "chat",
        "responses": "responses",
        "openai_responses": "responses",
        "anthropic": "anthropic",
        "anthropic_messages": "anthropic",
    }
)


@dataclass(slots=True)  # not frozen: a frozen init costs 2 µs a call (object.__setattr__)
class RuleCall:
    """What the engine knows of a call (the relay builds it after authentication)."""

    dialect: str  # the caller's DialectName value ("openai", "responses", "anthropic")
    endpoint: str  # a rule endpoint kind: chat, responses, messages, … (schema.ENDPOINT_KINDS)
    route_group: str  # "default" for the plain /v1 routes
    key_id: int
    model: str
    body: dict[str, Any]  # never mutated by the engine


@dataclass(slots=True)  # built once per call: not frozen, for the same reason
class Rewrite:
    """The call as the rules left it."""

    body: dict[str, Any]  # the very object of the call when nothing changed
    model: str
    fired: tuple[int, ...]  # ids of the rules that matched, in the order they ran
    set_headers: Mapping[str, str] = field(default_factory=lambda: _NO_HEADERS)  # lower-case
    remove_headers: frozenset[str] = frozenset()
    blocked: str | None = None  # a block action's message: the call must be refused

    @property
    def changed(self) -> bool:
        return bool(self.fired)


@dataclass(frozen=True, slots=True)
class RuleVerdict:
    """One rule's outcome in a dry run: whether it matched, and why not."""

    id: int
    name: str
    matched: bool
    reason: str


def _shown(value: Any) -> str:
    if value is MISSING:
        return "absent"
    text = repr(value) if not isinstance(value, bool | type(None)) else str(value).lower()
    if value is None:
        text = "null"
    return text if len(text) <= 60 else text[:57] + "..."


def _work(call: RuleCall) -> Work:
    return Work(call.body, call.model, _SHAPES.get(call.dialect, ""))


def _result(work: Work, fired: list[int]) -> Rewrite:
    return Rewrite(
        work.body,
        work.model,
        tuple(fired),
        MappingProxyType(work.set) if work.set else _NO_HEADERS,
        frozenset(work.removed) if work.removed else frozenset(),
        work.blocked,
    )


# ------------------------------------------------------------------ conditions
@dataclass(frozen=True, slots=True)
class _Condition:
    path: str
    tokens: tuple[str, ...]
    key: str | None  # the one token of a top-level path (the common case: one lookup)
    op: str
    value: Any  # as written, for explanations
    test: Test

    def holds(self, body: dict[str, Any]) -> bool:
        key = self.key
        return self.test(body.get(key, MISSING) if key is not None else get(body, self.tokens))

    def describe(self) -> str:
        value = "" if self.op in ("exists", "absent") else " " + _shown(self.value)
        return f"{self.path} {self.op}{value}"


def _compile_condition(condition: Condition) -> _Condition:
    tokens = parse_pointer(condition.path)
    key = tokens[0] if len(tokens) == 1 else None
    test = compile_test(condition.op, condition.value)
    return _Condition(condition.path, tokens, key, condition.op, condition.value, test)


# ------------------------------------------------------------------ rules
@dataclass(frozen=True, slots=True)
class CompiledRule:
    """A rule ready to run: its match pre-built, its actions as small callables."""

    id: int
    name: str
    priority: int
    key_ids: frozenset[int] | None
    route_groups: frozenset[str] | None
    endpoints: frozenset[str] | None
    globs: tuple[str, ...] | None
    glob_re: re.Pattern[str] | None
    model_re: re.Pattern[str] | None
    conditions: tuple[_Condition, ...]
    actions: tuple[Action, ...]
    _memo: dict[str, bool] = field(default_factory=dict, compare=False, repr=False)

    def admits(self, call: RuleCall) -> bool:
        """The parts of the match no rule can change: the key, route group and endpoint."""
        return (
            (self.key_ids is None or call.key_id in self.key_ids)
            and (self.route_groups is None or call.route_group in self.route_groups)
            and (self.endpoints is None or call.endpoint in self.endpoints)
        )

    def matches(self, work: Work) -> bool:
        """The rest of the match, on the call as the earlier rules left it."""
        if self.glob_re is not None or self.model_re is not None:
            known = self._memo.get(work.model)  # inlined: one call less per rule
            if not (self._model_matches(work.model) if known is None else known):
                return False
        body = work.body
        for condition in self.conditions:  # noqa: SIM110 - all(generator) costs 0.5 µs more
            if not condition.holds(body):
                return False
        return True

    def _model_matches(self, model: str) -> bool:
        if self.glob_re is None and self.model_re is None:
            return True
        memo = self._memo
        known = memo.get(model)
        if known is None:
            known = (self.glob_re is None or self.glob_re.match(model) is not None) and (
                self.model_re is None or self.model_re.search(model) is not None
            )
            if len(memo) >= _MEMO_LIMIT:
                memo.clear()
            memo[model] = known
        return known

    def why_not(self, call: RuleCall, work: Work) -> str | None:
        """Why the rule does not match (None: it does), in words for the dry run."""
        if self.key_ids is not None and call.key_id not in self.key_ids:
            return f"key {call.key_id} is not one of {sorted(self.key_ids)}"
        if self.route_groups is not None and call.route_group not in self.route_groups:
            return f"route group '{call.route_group}' is not one of {sorted(self.route_groups)}"
        if self.endpoints is not None and call.endpoint not in self.endpoints:
            return f"endpoint '{call.endpoint}' is not one of {sorted(self.endpoints)}"
        model = work.model
        if self.glob_re is not None and not self.glob_re.match(model):
            return f"model '{model}' matches none of {list(self.globs or ())}"
        if self.model_re is not None and not self.model_re.search(model):
            return (
                f"model '{model}' does not match the regular expression {self.model_re.pattern!r}"
            )
        for condition in self.conditions:  # noqa: SIM110 - all(generator) costs 0.5 µs more
            if not condition.holds(work.body):
                found = _shown(get(work.body, condition.tokens))
                return f"condition {condition.describe()} does not hold (the body has {found})"
        return None

    def run(self, work: Work) -> None:
        for action in self.actions:
            action.run(work)
            if work.blocked is not None:
                return


def _compile_rule(rule_id: int, doc: RuleDoc) -> CompiledRule:
    match = doc.match
    globs = tuple(match.models) if match.models else None
    glob_re = re.compile("|".join(fnmatch.translate(g) for g in globs)) if globs else None
    return CompiledRule(
        id=rule_id,
        name=doc.name,
        priority=doc.priority,
        key_ids=frozenset(match.key_ids) if match.key_ids is not None else None,
        route_groups=frozenset(match.route_groups) if match.route_groups is not None else None,
        endpoints=frozenset(match.endpoints) if match.endpoints is not None else None,
        globs=globs,
        glob_re=glob_re,
        model_re=re.compile(match.model_regex) if match.model_regex else None,
        conditions=tuple(_compile_condition(c) for c in match.conditions or ()),
        actions=tuple(compile_action(a) for a in doc.actions),
    )


class RuleSet:
    """A user's compiled rules, in the order they run; immutable once built."""

    EMPTY: ClassVar[RuleSet]
    __slots__ = ("_candidates", "rules")

    def __init__(self, rules: Sequence[CompiledRule] = ()) -> None:
        self.rules: tuple[CompiledRule, ...] = tuple(
            sorted(rules, key=lambda r: (r.priority, r.id))
        )
        # (key, route group, endpoint) -> the rules that admit such calls: a user's calls
        # come from a few keys and routes, so most rules are skipped with one lookup
        self._candidates: dict[tuple[int, str, str], tuple[CompiledRule, ...]] = {}

    def candidates(self, call: RuleCall) -> tuple[CompiledRule, ...]:
        slot = (call.key_id, call.route_group, call.endpoint)
        found = self._candidates.get(slot)
        if found is None:
            if len(self._candidates) >= _MEMO_LIMIT:
                self._candidates.clear()
            found = self._candidates[slot] = tuple(r for r in self.rules if r.admits(call))
        return found

    def __bool__(self) -> bool:
        return bool(self.rules)

    def __len__(self) -> int:
        return len(self.rules)

    def apply(self, call: RuleCall) -> Rewrite:
        """The call as the rules leave it (module docstring: order and copy-on-write)."""
        work = _work(call)
        fired: list[int] = []
        for rule in self.candidates(call):
            if rule.matches(work):
                fired.append(rule.id)
                rule.run(work)
                if work.blocked is not None:
                    break
        return _result(work, fired)

    def explain(self, call: RuleCall) -> list[RuleVerdict]:
        """Each rule's verdict for ``call``, running the matched ones as :meth:`apply`
        would (a later rule sees what the earlier ones changed)."""
        work = _work(call)
        verdicts = []
        blocker: CompiledRule | None = None
        for rule in self.rules:
            if blocker is not None:
                reason = f"not reached: rule '{blocker.name}' blocked the call"
                verdicts.append(RuleVerdict(rule.id, rule.name, False, reason))
                continue
            why = rule.why_not(call, work)
            if why is not None:
                verdicts.append(RuleVerdict(rule.id, rule.name, False, why))
                continue
            rule.run(work)
            verdicts.append(RuleVerdict(rule.id, rule.name, True, "matched"))
            if work.blocked is not None:
                blocker = rule
        return verdicts


RuleSet.EMPTY = RuleSet()


def compile_rules(
    rules: Sequence[tuple[int, RuleDoc]], *, include_disabled: bool = False
) -> RuleSet:
    """Compile ``(id, document)`` pairs into a :class:`RuleSet`. Disabled rules are left out
    unless ``include_disabled`` (a dry run of rules the user has not switched on yet)."""
    chosen = [_compile_rule(i, doc) for i, doc in rules if doc.enabled or include_disabled]
    return RuleSet(chosen) if chosen else RuleSet.EMPTY
