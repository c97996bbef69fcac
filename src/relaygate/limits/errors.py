"""429s raised by the limiter, as members of the one error tree (``core/errors.py``).

The relay's single error handler renders them in the caller's dialect and sends their
``headers`` (``retry-after`` and the rate-limit headers) with the 429.
"""

from __future__ import annotations

from relaygate.core.errors import RateLimited
from relaygate.limits.headers import go_duration
from relaygate.limits.policy import Decision

__all__ = ["ConcurrencyLimited", "TokensRateLimited", "refusal"]


class TokensRateLimited(RateLimited):
    """A TPM refusal: OpenAI reports these with error type ``tokens``."""

    type = "tokens"


class ConcurrencyLimited(RateLimited):
    """Too many requests of one key in flight at once."""

    default_code = "concurrency_limit_exceeded"


def refusal(decision: Decision, headers: dict[str, str]) -> RateLimited:
    """The error for a refused ``decision``, carrying ``headers`` for the 429."""
    if decision.allowed or decision.retry_after_s is None:
        raise ValueError("refusal() needs a refused decision")
    wait = go_duration(decision.retry_after_s)
    if decision.refused_by == "key tokens" and decision.tokens is not None:
        return TokensRateLimited(
            f"Rate limit reached for tokens per minute (TPM) of this API key: "
            f"limit {decision.tokens.limit}. Please try again in {wait}.",
            headers=headers,
        )
    scope = "this API key" if decision.refused_by == "key requests" else "your account"
    return RateLimited(
        f"Rate limit reached for requests per minute (RPM) of {scope}: "
        f"limit {decision.limit}. Please try again in {wait}.",
        headers=headers,
    )
