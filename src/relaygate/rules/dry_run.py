"""The ``test`` route's dry run: a sample request through a set of rules, with no upstream
call and no charge. The very engine the relay runs (``rules.engine``) applies the rules
and explains, rule by rule, why each one matched or not. Pure.

The caller chose the rules (``RuleService.dry_run``: a draft, selected ids, or the
enabled ones), so every rule given runs here whatever its ``enabled`` flag: a user
drafting a rule they have not switched on yet must be able to try it. ``disabled``
says which of them the relay would skip today."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from relaygate.rules.engine import RuleCall, RuleVerdict, compile_rules
from relaygate.rules.schema import DEFAULT_ROUTE_GROUP, RuleDoc

__all__ = ["DryRun", "Sample", "dialect_of", "dry_run"]

# the caller's wire format an endpoint kind implies (a sample may name another)
_DIALECTS: Mapping[str, str] = {"responses": "responses", "messages": "anthropic"}
_ANTHROPIC = frozenset({"messages", "count_tokens"})


def dialect_of(endpoint: str) -> str:
    if endpoint in _ANTHROPIC:
        return "anthropic"
    return _DIALECTS.get(endpoint, "openai")


@dataclass(frozen=True, slots=True)
class Sample:
    """A request as the relay would see it (``model`` defaults to the body's)."""

    body: dict[str, Any]
    endpoint: str = "chat"
    dialect: str | None = None
    route_group: str = DEFAULT_ROUTE_GROUP
    key_id: int = 0
    model: str | None = None


@dataclass(frozen=True, slots=True)
class DryRun:
    model: str  # after the rules
    body: dict[str, Any]  # the rewritten request body
    fired: tuple[int, ...]
    set_headers: Mapping[str, str]
    remove_headers: frozenset[str]
    blocked: str | None
    verdicts: list[RuleVerdict]
    disabled: frozenset[int] = frozenset()  # ids of the rules run that are switched off


def dry_run(rules: Sequence[tuple[int, RuleDoc]], sample: Sample) -> DryRun:
    model = sample.model if sample.model is not None else str(sample.body.get("model", ""))
    call = RuleCall(
        dialect=sample.dialect or dialect_of(sample.endpoint),
        endpoint=sample.endpoint,
        route_group=sample.route_group,
        key_id=sample.key_id,
        model=model,
        body=sample.body,
    )
    ruleset = compile_rules(rules, include_disabled=True)
    done = ruleset.apply(call)
    body = done.body
    if "model" in body and body["model"] != done.model:  # a rename shows in the body sent
        body = {**body, "model": done.model}
    return DryRun(
        model=done.model,
        body=body,
        fired=done.fired,
        set_headers=done.set_headers,
        remove_headers=done.remove_headers,
        blocked=done.blocked,
        verdicts=list(ruleset.explain(call)),
        disabled=frozenset(rule_id for rule_id, doc in rules if not doc.enabled),
    )
