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
