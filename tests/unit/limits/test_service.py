"""RateLimiter on the in-process KV: admission, 429 errors, tokens and concurrency slots."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from relaygate.core.errors import RateLimited
from relaygate.kv.memory import MemoryKV
from relaygate.limits import (
    ConcurrencyLimited,
    RateLimiter,
    TokensRateLimited,
    anthropic_headers,
    openai_headers,
    refusal,
)

NOW = datetime(2025, 3, 1, tzinfo=UTC)


@pytest.fixture
def limiter() -> RateLimiter:
    kv = MemoryKV()
    return RateLimiter(kv.rates, kv.counters)


async def test_user_rpm_refuses_with_a_429(limiter: RateLimiter) -> None:
    for expected_remaining in (1, 0):
        decision = await limiter.check_request(1, 10, user_rpm=2, key_rpm=None)
        assert decision.allowed and decision.remaining == expected_remaining
    decision = await limiter.check_request(1, 11, user_rpm=2, key_rpm=None)
    assert not decision.allowed and decision.retry_after_s is not None
    error = refusal(decision, openai_headers(decision))
    assert type(error) is RateLimited and error.status == 429
    assert "your account" in error.message
    assert error.headers["retry-after"] == str(decision.retry_after_s)


async def test_key_refusal_does_not_spend_the_user_budget(limiter: RateLimiter) -> None:
    assert (await limiter.check_request(1, 10, user_rpm=3, key_rpm=1)).allowed
    refused = await limiter.check_request(1, 10, user_rpm=3, key_rpm=1)
    assert not refused.allowed and refused.refused_by == "key requests"
    # Two more user-level requests still fit through another key: the refusal cost nothing.
    assert (await limiter.check_request(1, 11, user_rpm=3, key_rpm=None)).allowed
    assert (await limiter.check_request(1, 11, user_rpm=3, key_rpm=None)).allowed


async def test_tokens_per_minute(limiter: RateLimiter) -> None:
    first = await limiter.check_request(1, 10, 60, None, key_tpm=100, estimated_tokens=30)
    assert first.allowed and first.tokens_charged == 30
    await limiter.record_tokens(10, used_tokens=90, charged_tokens=first.tokens_charged)
    refused = await limiter.check_request(1, 10, 60, None, key_tpm=100, estimated_tokens=20)
    assert not refused.allowed and refused.refused_by == "key tokens"
    error = refusal(refused, anthropic_headers(refused, NOW))
    assert isinstance(error, TokensRateLimited) and error.type == "tokens"
    assert error.headers["anthropic-ratelimit-tokens-remaining"] == "10"


async def test_refusal_needs_a_refused_decision(limiter: RateLimiter) -> None:
    decision = await limiter.check_request(1, 10, 60, None)
    with pytest.raises(ValueError):
        refusal(decision, {})


async def test_concurrency_slots_are_taken_and_released(limiter: RateLimiter) -> None:
    async with limiter.concurrency(10, 2), limiter.concurrency(10, 2):
        with pytest.raises(ConcurrencyLimited) as caught:
            async with limiter.concurrency(10, 2):
                pass
        assert caught.value.status == 429 and caught.value.headers["retry-after"] == "1"
    async with limiter.concurrency(10, 2), limiter.concurrency(10, 2):
        pass
    async with limiter.concurrency(10, None), limiter.concurrency(10, 0):
        pass


async def test_concurrency_slot_released_on_cancel(limiter: RateLimiter) -> None:
    entered = asyncio.Event()

    async def hold() -> None:
        async with limiter.concurrency(10, 1):
            entered.set()
            await asyncio.sleep(60)

    task = asyncio.create_task(hold())
    await entered.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    async with limiter.concurrency(10, 1):
        pass
