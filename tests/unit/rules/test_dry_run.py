"""The dry run: the endpoint picks the dialect, the model defaults to the body's, and a
rename shows in the body that would be sent."""

from __future__ import annotations

from relaygate.rules.dry_run import Sample, dialect_of, dry_run
from relaygate.rules.schema import RuleDoc


def test_a_rename_shows_in_the_body_and_every_rule_gets_a_verdict() -> None:
    rename = RuleDoc.model_validate(
        {
            "name": "r",
            "match": {"models": ["gpt-4*"]},
            "actions": [{"type": "rename_model", "to": "m"}],
        }
    )
    other = RuleDoc.model_validate(
        {
            "name": "o",
            "match": {"endpoints": ["messages"]},
            "actions": [{"type": "remove", "path": "/a"}],
        }
    )
    body = {"model": "gpt-4", "messages": []}
    done = dry_run([(1, rename), (2, other)], Sample(body))
    assert (done.model, done.body["model"], done.fired) == ("m", "m", (1,))
    assert body["model"] == "gpt-4"  # the sample itself is not changed
    assert [(v.id, v.matched) for v in done.verdicts] == [(1, True), (2, False)]
    assert dialect_of("messages") == "anthropic" and dialect_of("responses") == "responses"
    assert dialect_of("chat") == "openai"


def test_every_rule_given_runs_whatever_its_enabled_flag() -> None:
    """The caller chose the rules (a draft, or ids): a switched-off one still runs, and
    ``disabled`` says which the relay would skip."""
    off = RuleDoc.model_validate(
        {"name": "off", "enabled": False, "actions": [{"type": "remove", "path": "/a"}]}
    )
    done = dry_run([(7, off)], Sample({"model": "m", "a": 1}))
    assert (done.fired, done.body, done.disabled) == ((7,), {"model": "m"}, frozenset({7}))
    assert [(v.id, v.matched) for v in done.verdicts] == [(7, True)]
