"""docs/rules.md's examples are real: every recipe's JSON is read from the page, validated
as a rule document and run through the engine on a call it was written for; the rule and
dry-run examples of the other sections are what the API takes."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import orjson
import pytest

from relaygate.rules import api as rules_api
from relaygate.rules.dry_run import Sample, dry_run
from relaygate.rules.schema import RuleDoc

DOC = Path(__file__).resolve().parents[3] / "docs" / "rules.md"
BLOCK = re.compile(r"```json\n(.*?)```", re.DOTALL)
USER = [{"role": "user", "content": "hi"}]


def _section(title: str) -> str:
    text = DOC.read_text(encoding="utf-8")
    start = text.index(f"\n## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else len(text)]


def _blocks(title: str, count: int | None = None) -> list[Any]:
    """The section's first ``count`` JSON blocks (all by default), parsed."""
    return [orjson.loads(block) for block in BLOCK.findall(_section(title))[:count]]


RECIPES = {doc["name"]: doc for doc in _blocks("Recipes")}

# a call each recipe is for, and what the rule must make of it
SAMPLES: dict[str, tuple[Sample, dict[str, Any]]] = {
    "immersive translate on mini": (
        Sample({"model": "gpt-4o", "messages": USER, "max_tokens": 9000}, key_id=42),
        {"model": "gpt-4o-mini", "max_tokens": 2048},
    ),
    "no sampling for reasoning models": (
        Sample({"model": "o3-mini", "messages": USER, "temperature": 0.2, "top_p": 1}),
        {"model": "o3-mini", "temperature": None, "top_p": None},
    ),
    "answer in french": (
        Sample({"model": "m", "system": "Be brief.", "messages": USER}, "messages"),
        {"system": "Always answer in French.\n\nBe brief."},
    ),
    "claude code house rules": (
        Sample(
            {
                "model": "m",
                "system": [{"type": "text", "text": "You are Claude Code."}],
                "messages": USER,
            },
            "messages",
            route_group="cc-omg",
        ),
        {
            "system": [
                {"type": "text", "text": "You are Claude Code."},
                {"type": "text", "text": "Never commit without asking."},
            ]
        },
    ),
    "cap opus": (
        Sample({"model": "claude-opus-4", "max_tokens": 10000, "messages": USER}, "messages"),
        {"blocked": "Ask claude-opus for at most 8192 tokens."},
    ),
    "cheap images": (
        Sample({"model": "gpt-image-1", "prompt": "a fox", "n": 4}, "images"),
        {"quality": "low", "n": 2},
    ),
}


def test_every_recipe_on_the_page_is_tried_here() -> None:
    assert sorted(RECIPES) == sorted(SAMPLES)


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_a_recipe_does_what_the_page_says(name: str) -> None:
    rule = RuleDoc.model_validate(RECIPES[name])
    sample, expected = SAMPLES[name]
    done = dry_run([(1, rule)], sample)
    assert done.fired == (1,)
    for field, value in expected.items():
        if field == "blocked":
            assert done.blocked == value
        elif field == "model":
            assert done.model == value
        else:
            assert done.body.get(field) == value, field


def test_the_other_examples_are_what_the_api_takes() -> None:
    [rule] = _blocks("A rule")
    RuleDoc.model_validate(rule)
    answered, request = _blocks("API", 2)  # a rule as answered, then a dry-run request
    stored = ("id", "created_at", "updated_at", "hits_30d", "last_hit_at")
    RuleDoc.model_validate({k: v for k, v in answered.items() if k not in stored})
    asked = rules_api.TestIn.model_validate(request)
    assert asked.rule is not None and asked.rule.enabled is False
