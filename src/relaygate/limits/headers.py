"""Rate-limit response headers in each dialect's format: pure (the caller passes ``now``).

OpenAI reports resets as Go-style durations (``1s``, ``6m0s``, ``12ms``), Anthropic as
RFC 3339 timestamps; both SDKs read ``retry-after`` (and ``retry-after-ms``) on a 429
(wire-formats.md §6). The platform's own routes use the OpenAI names. Which set a
caller gets is its dialect's (``relay/dialects``: ``Dialect.rate_limit_headers``).
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

from relaygate.limits.policy import Decision, Quota

__all__ = [
    "anthropic_headers",
    "go_duration",
    "openai_headers",
    "rfc3339",
]

_MS_PER_HOUR = 3_600_000
_MS_PER_MINUTE = 60_000


def go_duration(seconds: float) -> str:
    """Format like Go's ``time.Duration.String`` at millisecond resolution, rounded up.

    Rounding up keeps a client that sleeps for the value from coming back early.
    """
    ms = max(0, math.ceil(seconds * 1000 - 1e-6))
    if ms == 0:
        return "0s"
    if ms < 1000:
        return f"{ms}ms"
    hours, rest = divmod(ms, _MS_PER_HOUR)
    minutes, rest = divmod(rest, _MS_PER_MINUTE)
    whole, frac = divmod(rest, 1000)
    secs = f"{whole}.{frac:03d}".rstrip("0") if frac else str(whole)
    if hours:
        return f"{hours}h{minutes}m{secs}s"
    if minutes:
        return f"{minutes}m{secs}s"
    return f"{secs}s"


def rfc3339(moment: datetime) -> str:
    """UTC, whole seconds, ``Z`` suffix (``2025-01-31T12:00:05Z``)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _reset_at(now: datetime, after_s: float) -> datetime:
    moment = now + timedelta(seconds=after_s)
    if moment.microsecond:  # round up to the next whole second
        moment = moment.replace(microsecond=0) + timedelta(seconds=1)
    return moment


def _retry_headers(decision: Decision) -> dict[str, str]:
    if decision.retry_after_s is None:
        return {}
    return {
        "retry-after": str(decision.retry_after_s),
        "retry-after-ms": str(decision.retry_after_s * 1000),
    }


def openai_headers(decision: Decision) -> dict[str, str]:
    headers = {
        "x-ratelimit-limit-requests": str(decision.limit),
        "x-ratelimit-remaining-requests": str(decision.remaining),
        "x-ratelimit-reset-requests": go_duration(decision.reset_after_s),
    }
    if decision.tokens is not None:
        tokens: Quota = decision.tokens
        headers["x-ratelimit-limit-tokens"] = str(tokens.limit)
        headers["x-ratelimit-remaining-tokens"] = str(tokens.remaining)
        headers["x-ratelimit-reset-tokens"] = go_duration(tokens.reset_after_s)
    headers.update(_retry_headers(decision))
    return headers


def anthropic_headers(decision: Decision, now: datetime) -> dict[str, str]:
    headers = {
        "anthropic-ratelimit-requests-limit": str(decision.limit),
        "anthropic-ratelimit-requests-remaining": str(decision.remaining),
        "anthropic-ratelimit-requests-reset": rfc3339(_reset_at(now, decision.reset_after_s)),
    }
    if decision.tokens is not None:
        tokens = decision.tokens
        headers["anthropic-ratelimit-tokens-limit"] = str(tokens.limit)
        headers["anthropic-ratelimit-tokens-remaining"] = str(tokens.remaining)
        headers["anthropic-ratelimit-tokens-reset"] = rfc3339(_reset_at(now, tokens.reset_after_s))
    headers.update(_retry_headers(decision))
    return headers
