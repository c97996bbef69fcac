"""A finished call's metrics: the route template with its group, bounded model labels, and
a background run that adds tokens and money but no second request."""

from __future__ import annotations

from decimal import Decimal

from prometheus_client.parser import text_string_to_metric_families

from relaygate.billing.charging import Charge
from relaygate.ops.metrics import Metrics
from relaygate.relay.canonical import Usage
from relaygate.relay.context import CallContext
from relaygate.relay.observe import CallObserver


def _samples(metrics: Metrics) -> list[tuple[str, dict[str, str], float]]:
    text = metrics.exposition().decode()
    return [
        (s.name, s.labels, s.value)
        for family in text_string_to_metric_families(text)
        for s in family.samples
    ]


def _ctx(model: str, group: str = "") -> CallContext:
    ctx = CallContext("req_1", "messages", "127.0.0.1", group)
    ctx.model, ctx.status = model, 200
    ctx.usage = Usage(prompt_tokens=10, completion_tokens=4)
    ctx.charge = Charge(20, 10, 10, 0, Decimal("0.5"))
    return ctx


def test_route_group_template_and_bounded_models() -> None:
    metrics = Metrics()
    observer = CallObserver(metrics, {"claude-x"}.__contains__)
    observer.ended(_ctx("claude-x", "cc-omg"))
    observer.ended(_ctx("made-up-model-7f3a"))
    requests = {
        (s[1]["route"], s[1]["model"]): s[2]
        for s in _samples(metrics)
        if s[0] == "relaygate_requests_total"
    }
    assert requests == {
        ("/api/v1/ai/openai/cc-omg/v1/messages", "claude-x"): 1,
        ("/v1/messages", "other"): 1,
    }


def test_a_background_run_counts_tokens_and_money_not_a_request() -> None:
    metrics = Metrics()
    observer = CallObserver(metrics, {"m"}.__contains__)
    observer.ended(_ctx("m"), request=False)
    samples = _samples(metrics)
    assert not [s for s in samples if s[0] == "relaygate_requests_total"]
    tokens = {s[1]["kind"]: s[2] for s in samples if s[0] == "relaygate_tokens_total"}
    assert tokens["prompt"] == 10 and tokens["completion"] == 4
    money = {s[1]["source"]: s[2] for s in samples if s[0] == "relaygate_charged_micros_total"}
    assert money == {"balance": 10, "package": 0}
