"""``GET /metrics`` after real calls: the official openai SDK against a fake upstream,
then the scrape read back with prometheus-client's own parser (docs/observability.md)."""

from __future__ import annotations

import socket
import time
import uuid
from collections.abc import Callable

import httpx
import openai
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.fakes.openai_upstream import Behaviour, FakeOpenAI
from tests.harness import Gateway

USER = [{"role": "user", "content": "Count me, please."}]
ROUTE = "/v1/chat/completions"

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(gw: Gateway, **headers: str) -> Samples:
    response = httpx.get(gw.url + "/metrics", headers=headers, timeout=30)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(response.text)
        for s in family.samples
    }


def value(samples: Samples, metric: str, **labels: str) -> float:
    """The sample ``name`` whose labels include ``labels`` (0 when none: a counter not
    yet incremented)."""
    wanted = set(labels.items())
    found = [v for (n, ls), v in samples.items() if n == metric and wanted <= ls]
    assert len(found) <= 1, (metric, labels, found)
    return found[0] if found else 0.0


def until(gw: Gateway, check: Callable[[Samples], bool], seconds: float = 10.0) -> Samples:
    """Scrape until ``check`` holds: a call is recorded when its lifecycle ends, just
    after its last byte went out."""
    deadline = time.monotonic() + seconds
    while True:
        samples = scrape(gw)
        if check(samples):
            return samples
        assert time.monotonic() < deadline, "the metrics never showed it"
        time.sleep(0.05)


def _priced(gw: Gateway, fake: FakeOpenAI) -> str:
    model = f"metered-{uuid.uuid4().hex[:8]}"
    gw.add_channel(fake, models=[model])
    gw.op("PUT", f"/models/{model}", json={"input": "2.00", "output": "8.00", "multiplier": "0.5"})
    return model


def test_calls_show_as_requests_latency_tokens_and_money(
    gateway_factory: Callable[..., Gateway], fake: FakeOpenAI
) -> None:
    gw = gateway_factory()
    model = _priced(gw, fake)
    key = gw.make_user_key()
    fake.script(model, *[Behaviour(prompt_tokens=1000, completion_tokens=500)] * 3)
    sdk = gw.openai(key.key)
    for _ in range(2):
        sdk.chat.completions.create(model=model, messages=USER)  # type: ignore[arg-type]
    stream = sdk.chat.completions.create(model=model, messages=USER, stream=True)  # type: ignore[call-overload]
    assert "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    with pytest.raises(openai.NotFoundError):
        sdk.chat.completions.create(model="no-such-model-" + uuid.uuid4().hex, messages=USER)  # type: ignore[arg-type]
    with pytest.raises(openai.AuthenticationError):
        gw.openai("sk-" + "x" * 48).chat.completions.create(model=model, messages=USER)  # type: ignore[arg-type]

    ok = {"route": ROUTE, "method": "POST", "status": "200", "model": model}
    samples = until(gw, lambda s: value(s, "relaygate_requests_total", **ok) == 3)
    assert value(samples, "relaygate_requests_total", route=ROUTE, status="404", model="other") == 1
    assert value(samples, "relaygate_requests_total", route=ROUTE, status="401", model="other") == 1
    plain = {"route": ROUTE, "model": model, "stream": "false"}
    streamed = {"route": ROUTE, "model": model, "stream": "true"}
    assert value(samples, "relaygate_request_duration_seconds_count", **plain) == 2
    assert value(samples, "relaygate_request_duration_seconds_count", **streamed) == 1
    assert value(samples, "relaygate_request_duration_seconds_sum", **plain) > 0
    assert value(samples, "relaygate_ttfb_seconds_count", **plain) == 2
    assert value(samples, "relaygate_ttfb_seconds_count", **streamed) == 1
    assert value(samples, "relaygate_tokens_total", model=model, kind="prompt") == 3000
    assert value(samples, "relaygate_tokens_total", model=model, kind="completion") == 1500
    # 1000 in at 2.00/M + 500 out at 8.00/M = 6000 micro-units, x 0.5 = 3000 a call
    assert value(samples, "relaygate_charged_micros_total", model=model, source="balance") == 9000
    assert value(samples, "relaygate_bill_batch_size_count") >= 1
    assert value(samples, "relaygate_bill_commit_seconds_count") >= 1
    assert value(samples, "relaygate_holds_outstanding") == 0
    assert value(samples, "relaygate_calls_in_flight") == 0
    # the control plane, by route template
    created = value(
        samples, "relaygate_requests_total",
        route="/api/v1/operator/users/{user_id}/keys", method="POST", status="200",
    )  # fmt: skip
    assert created == 1
    again = scrape(gw)  # a scrape is counted once answered: the next one shows it
    assert value(again, "relaygate_requests_total", route="/metrics", status="200") >= 1


def test_unknown_paths_and_methods_add_no_series(
    gateway_factory: Callable[..., Gateway],
) -> None:
    gw = gateway_factory()
    for n in range(3):
        httpx.request("PROPFIND", f"{gw.url}/nothing-here-{n}", timeout=30)
    samples = until(
        gw, lambda s: value(s, "relaygate_requests_total", route="other", method="other") == 3
    )
    assert not any("nothing-here" in str(labels) for _, labels in samples)


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_breaker_state_and_upstream_errors_per_channel(
    gateway_factory: Callable[..., Gateway], fake: FakeOpenAI
) -> None:
    gw = gateway_factory(breaker_threshold=2, breaker_cooldown=3600)
    model = f"brk-{uuid.uuid4().hex[:8]}"
    dead = gw.add_channel(
        fake, models=[model], base_url=f"http://127.0.0.1:{_closed_port()}/v1", name="dead-one"
    )
    channel = str(dead["id"])
    before = scrape(gw)
    assert value(before, "relaygate_channel_breaker_state", channel=channel) == 0
    assert value(before, "relaygate_channel_info", channel=channel, name="dead-one") == 1
    key = gw.make_user_key()
    with gw.http(key.key) as http:
        for _ in range(2):
            failed = http.post(ROUTE, json={"model": model, "messages": USER})
            assert failed.status_code == 503  # connection refused: unavailable
    after = until(gw, lambda s: value(s, "relaygate_channel_breaker_state", channel=channel) == 2)
    assert value(after, "relaygate_upstream_errors_total", channel=channel) == 2
    assert value(after, "relaygate_upstream_calls_total", channel=channel) == 2
    assert value(after, "relaygate_requests_total", route=ROUTE, status="503", model=model) == 2
    assert value(after, "relaygate_tokens_total", model=model, kind="prompt") == 0


def test_holds_outstanding_while_a_stream_runs(
    gateway_factory: Callable[..., Gateway], fake: FakeOpenAI
) -> None:
    gw = gateway_factory()
    model = _priced(gw, fake)
    key = gw.make_user_key()
    fake.script(model, Behaviour(text="one two three", stall_after=1, stall_seconds=3))
    body = {"model": model, "messages": USER, "stream": True}
    assert value(scrape(gw), "relaygate_holds_outstanding") == 0
    with gw.http(key.key) as http, http.stream("POST", ROUTE, json=body) as response:
        lines = response.iter_lines()  # kept: a dropped generator closes the response
        assert next(lines).startswith("data:")
        during = scrape(gw)
        assert value(during, "relaygate_holds_outstanding") == 1
        assert value(during, "relaygate_held_micros") > 0
        assert value(during, "relaygate_calls_in_flight") == 1
        assert "[DONE]" in "".join(lines)
    until(gw, lambda s: value(s, "relaygate_holds_outstanding") == 0)


def test_who_may_scrape(gateway_factory: Callable[..., Gateway]) -> None:
    gw = gateway_factory(metrics_token="scrape-" + "t" * 24)
    proxied = {"x-forwarded-for": "203.0.113.9"}
    assert httpx.get(gw.url + "/metrics", timeout=30).status_code == 200  # loopback
    refused = httpx.get(gw.url + "/metrics", headers=proxied, timeout=30)
    assert refused.status_code == 401
    assert "metrics_token" in refused.json()["message"]
    token = {"authorization": "Bearer scrape-" + "t" * 24}
    assert httpx.get(gw.url + "/metrics", headers={**proxied, **token}, timeout=30).is_success
    wrong = {"authorization": "Bearer scrape-" + "x" * 24}
    assert (
        httpx.get(gw.url + "/metrics", headers={**proxied, **wrong}, timeout=30).status_code == 401
    )

    closed = gateway_factory(metrics_allow=[])
    assert httpx.get(closed.url + "/metrics", timeout=30).status_code == 401
    off = gateway_factory(metrics_enabled=False)
    assert httpx.get(off.url + "/metrics", timeout=30).status_code == 404


def test_metrics_route_is_documented(sqlite_gateway: Gateway) -> None:
    document = httpx.get(sqlite_gateway.url + "/openapi.json", timeout=30).json()
    operation = document["paths"]["/metrics"]["get"]
    assert "text/plain" in operation["responses"]["200"]["content"]
    assert {"401", "404"} <= set(operation["responses"])
