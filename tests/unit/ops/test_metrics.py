"""The metrics registry: cached call series, the scrape-time readings, the bill commits."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from relaygate.ops.metrics import ChannelReading, Metrics, Readings


def _samples(metrics: Metrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = metrics.exposition().decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_a_call_series_is_built_once_and_counts() -> None:
    metrics = Metrics()
    first = metrics.call_series("/v1/chat/completions", "POST", 200, "gpt", stream=False)
    assert metrics.call_series("/v1/chat/completions", "POST", 200, "gpt", False) is first
    first.requests.inc()
    first.duration.observe(0.2)
    labels = (("method", "POST"), ("model", "gpt"), ("route", "/v1/chat/completions"))
    samples = _samples(metrics)
    assert samples[("relaygate_requests_total", (*labels, ("status", "200")))] == 1
    assert not any(name.endswith("_created") for name, _ in samples)


def test_two_registries_do_not_collide() -> None:
    one, two = Metrics(), Metrics()
    one.model_series("m").prompt.inc(5)
    assert (
        _samples(two).get(("relaygate_tokens_total", (("kind", "prompt"), ("model", "m")))) is None
    )


def test_readings_are_read_at_scrape_time() -> None:
    metrics = Metrics()
    now = Readings(
        in_flight=3,
        holds=2,
        held=1500,
        bills_pending=7,
        channels=(ChannelReading(4, "main", "openai", "open", calls=10, errors=6),),
    )
    metrics.read_from(lambda: now)
    samples = _samples(metrics)
    assert samples[("relaygate_calls_in_flight", ())] == 3
    assert samples[("relaygate_holds_outstanding", ())] == 2
    assert samples[("relaygate_held_micros", ())] == 1500
    assert samples[("relaygate_bills_pending", ())] == 7
    assert samples[("relaygate_channel_breaker_state", (("channel", "4"),))] == 2
    assert samples[("relaygate_upstream_errors_total", (("channel", "4"),))] == 6
    info = (("channel", "4"), ("name", "main"), ("type", "openai"))
    assert samples[("relaygate_channel_info", info)] == 1


def test_bill_commits_fill_the_histograms() -> None:
    metrics = Metrics()
    metrics.committed(1, 0.002)
    metrics.committed(40, 0.01)
    samples = _samples(metrics)
    assert samples[("relaygate_bill_batch_size_count", ())] == 2
    assert samples[("relaygate_bill_batch_size_sum", ())] == 41
    assert samples[("relaygate_bill_commit_seconds_bucket", (("le", "0.0025"),))] == 1
