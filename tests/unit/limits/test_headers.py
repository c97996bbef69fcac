"""Rate-limit header formatting: golden values per wire-formats.md §6."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from relaygate.limits.headers import anthropic_headers, go_duration, openai_headers, rfc3339
from relaygate.limits.policy import Decision, Quota

NOW = datetime(2025, 3, 1, 12, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [
        (0, "0s"),
        (0.0004, "1ms"),
        (0.012, "12ms"),
        (0.999, "999ms"),
        (1, "1s"),
        (1.5, "1.5s"),
        (8.64, "8.64s"),
        (59.999, "59.999s"),
        (60, "1m0s"),
        (90.5, "1m30.5s"),
        (360, "6m0s"),
        (3600, "1h0m0s"),
        (3723.25, "1h2m3.25s"),
        (-3, "0s"),
    ],
)
def test_go_duration(seconds: float, expected: str) -> None:
    assert go_duration(seconds) == expected


def test_rfc3339_is_utc_whole_seconds() -> None:
    assert rfc3339(NOW) == "2025-03-01T12:00:00Z"


def test_openai_headers_on_success_with_tokens() -> None:
    decision = Decision(
        allowed=True,
        limit=1000,
        remaining=999,
        reset_after_s=0.0,
        tokens=Quota(limit=40_000, remaining=39_000, reset_after_s=0.25),
    )
    assert openai_headers(decision) == {
        "x-ratelimit-limit-requests": "1000",
        "x-ratelimit-remaining-requests": "999",
        "x-ratelimit-reset-requests": "0s",
        "x-ratelimit-limit-tokens": "40000",
        "x-ratelimit-remaining-tokens": "39000",
        "x-ratelimit-reset-tokens": "250ms",
    }


def test_openai_headers_on_refusal() -> None:
    decision = Decision(False, 60, 0, 2.2, retry_after_s=3, refused_by="user requests")
    headers = openai_headers(decision)
    assert headers["x-ratelimit-reset-requests"] == "2.2s"
    assert headers["retry-after"] == "3"
    assert headers["retry-after-ms"] == "3000"
    assert "x-ratelimit-limit-tokens" not in headers


def test_anthropic_headers_round_the_reset_up_to_a_second() -> None:
    decision = Decision(
        False,
        60,
        0,
        2.2,
        retry_after_s=3,
        tokens=Quota(limit=10_000, remaining=5, reset_after_s=61.0),
    )
    assert anthropic_headers(decision, NOW) == {
        "anthropic-ratelimit-requests-limit": "60",
        "anthropic-ratelimit-requests-remaining": "0",
        "anthropic-ratelimit-requests-reset": "2025-03-01T12:00:03Z",
        "anthropic-ratelimit-tokens-limit": "10000",
        "anthropic-ratelimit-tokens-remaining": "5",
        "anthropic-ratelimit-tokens-reset": "2025-03-01T12:01:01Z",
        "retry-after": "3",
        "retry-after-ms": "3000",
    }
