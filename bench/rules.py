"""CPU of the override rules on the relay path (issue 15's budget: under 20 µs for a user
with 20 enabled rules on a typical request; nothing measurable for a user without rules).

``python -m bench.rules`` times, per call, best of ``ROUNDS``:

- ``no rules``: what the relay does for a user without rules (``RuleCache.cached`` on the
  fast path and the truth test), against a bare ``dict(body)`` copy of the same body;
- ``20 rules, none fire``: ``RuleSet.apply`` (with its ``RuleCall``) when every rule's match
  fails (a key, a route group, a model glob, a regular expression, a body condition);
- ``20 rules, 3 fire``: the same set with three rules matching the call: a model rename,
  ``temperature`` removed, a system prompt appended (the copy-on-write included);
- ``+ dumps``: the relay's re-serialisation of a rewritten body (``orjson.dumps``), which
  a call pays only when a rule changed its body.

Wall time (``perf_counter``) over ``CALLS`` calls; run it on a quiet machine.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import orjson

from relaygate.kv.memory import MemoryCounter
from relaygate.rules.cache import RuleCache
from relaygate.rules.engine import RuleCall, RuleSet, compile_rules
from relaygate.rules.schema import RuleDoc

CALLS = 50_000
ROUNDS = 7
KEY_ID = 7

BODY: dict[str, Any] = {
    "model": "gpt-4",
    "messages": [
        {"role": "system", "content": "You are a translation engine."},
        {"role": "user", "content": "Translate into French: " + "good morning, " * 20},
    ],
    "temperature": 0.3,
    "max_tokens": 1024,
    "stream": True,
}

_BLOCK = [{"type": "block", "message": "no"}]
_MISSES: list[dict[str, Any]] = [
    {"match": {"key_ids": [1, 2, 3]}, "actions": _BLOCK},
    {"match": {"route_groups": ["cc-omg"]}, "actions": _BLOCK},
    {"match": {"endpoints": ["messages", "responses"]}, "actions": _BLOCK},
    {"match": {"models": ["claude-*", "o1*", "o3*"]}, "actions": _BLOCK},
    {"match": {"model_regex": "^deepseek-(chat|reasoner)$"}, "actions": _BLOCK},
    {
        "match": {"conditions": [{"path": "/max_tokens", "op": "gt", "value": 4096}]},
        "actions": _BLOCK,
    },
    {"match": {"conditions": [{"path": "/tools", "op": "exists"}]}, "actions": _BLOCK},
    {
        "match": {"conditions": [{"path": "/metadata/tier", "op": "in", "value": ["a", "b"]}]},
        "actions": _BLOCK,
    },
]
_HITS: list[dict[str, Any]] = [
    {
        "match": {"key_ids": [KEY_ID], "models": ["gpt-4"]},
        "actions": [{"type": "rename_model", "to": "gpt-4o-mini"}],
    },
    {"match": {"models": ["gpt-4o*"]}, "actions": [{"type": "remove", "path": "/temperature"}]},
    {
        "match": {"endpoints": ["chat"]},
        "actions": [{"type": "system_prompt", "mode": "append", "text": "Keep the formatting."}],
    },
]


def _ruleset(firing: int) -> RuleSet:
    """20 rules: ``firing`` of them match the call, the rest miss it in the ways above."""
    docs = [_MISSES[i % len(_MISSES)] for i in range(20 - firing)] + _HITS[:firing]
    pairs = [(i, RuleDoc.model_validate({"name": f"r{i}", **d})) for i, d in enumerate(docs, 1)]
    ruleset = compile_rules(pairs)
    assert len(ruleset) == 20
    return ruleset


def _call() -> RuleCall:
    return RuleCall("openai", "chat", "default", KEY_ID, "gpt-4", BODY)


def _best(work: Callable[[], object]) -> float:
    """Best wall-clock microseconds per call of ``work`` over ROUNDS runs of CALLS calls
    (the loop's own cost taken off)."""
    best = empty = float("inf")
    calls = range(CALLS)
    for _ in range(ROUNDS):
        start = time.perf_counter()
        for _ in calls:
            work()
        best = min(best, time.perf_counter() - start)
        start = time.perf_counter()
        for _ in calls:
            _nothing()
        empty = min(empty, time.perf_counter() - start)
    return max(0.0, best - empty) / CALLS * 1e6


def _nothing() -> None:
    return None


def _no_rules_cache() -> RuleCache:
    async def load(user_id: int) -> list[tuple[int, RuleDoc]]:
        return []

    async def users() -> set[int]:
        return {1}  # somebody else

    cache = RuleCache(load, MemoryCounter(), users)
    asyncio.run(cache.start())
    asyncio.run(cache.close())
    return cache


def main() -> None:
    copy = _best(lambda: dict(BODY))
    cache = _no_rules_cache()

    def fast_path() -> None:
        ruleset = cache.cached(2)
        if ruleset is None or ruleset:
            raise AssertionError("user 2 has no rules")

    none_path = _best(fast_path)
    missing, firing = _ruleset(0), _ruleset(3)
    assert not missing.apply(_call()).fired and len(firing.apply(_call()).fired) == 3
    miss = _best(lambda: missing.apply(_call()))
    fire = _best(lambda: firing.apply(_call()))
    rewritten = firing.apply(_call()).body
    dumps = _best(lambda: orjson.dumps(rewritten))
    for label, cost in (
        ("bare dict(body) copy", copy),
        ("no rules (cache fast path)", none_path),
        ("20 rules, none fire", miss),
        ("20 rules, 3 fire (rewrite)", fire),
        ("+ orjson.dumps of the rewrite", dumps),
    ):
        print(f"{label:32} {cost:6.2f} µs/call  ({cost / copy:5.1f}x the copy)")


if __name__ == "__main__":
    main()
