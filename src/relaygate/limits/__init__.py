"""Request-rate limiting: per-user tier RPM, optional per-key RPM/TPM/concurrency.

``RateLimiter`` (service) decides with the pure ``policy``; ``headers`` formats the
outcome for each dialect; ``errors`` turns a refusal into the 429.
"""

from relaygate.limits.errors import ConcurrencyLimited, TokensRateLimited, refusal
from relaygate.limits.headers import anthropic_headers, openai_headers
from relaygate.limits.policy import (
    DEFAULT_TIERS,
    Decision,
    KeyLimits,
    Tier,
    tier_rpm,
    tiers_from_units,
)
from relaygate.limits.service import RateLimiter

__all__ = [
    "DEFAULT_TIERS",
    "ConcurrencyLimited",
    "Decision",
    "KeyLimits",
    "RateLimiter",
    "Tier",
    "TokensRateLimited",
    "anthropic_headers",
    "openai_headers",
    "refusal",
    "tier_rpm",
    "tiers_from_units",
]
