"""Many calls at once against a small balance: holds bound the overshoot; books balance.

The user is funded for exactly ``CALLS`` calls. The hold for one call is its estimated
cost (``len(body) // 4`` prompt tokens + ``max_tokens`` output tokens), which for the
request used here is at least the real cost (the fake reports 11 prompt tokens and
``max_tokens`` completion tokens). A call is admitted only while the holds outstanding
plus what was already charged stay below the funding, so with hold >= cost at most
``CALLS`` calls can ever be admitted. The slack of one call is the overshoot the
charging module documents ("at most one call's estimate"); the final balance must not
go below minus one call's cost.
"""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal
from typing import Any

import httpx

from relaygate.billing.pricing import Price, charge, official_cost
from relaygate.core.money import format_money
from relaygate.core.units import Usage
from tests.fakes.openai_upstream import Behaviour, FakeOpenAI
from tests.harness import Gateway, run_sync
from tests.integration.test_money import books, charges, priced_model, wallet

CALLS = 10
PARALLEL = 200
MAX_TOKENS = 100
PROMPT = 11  # what the fake reports
INPUT, OUTPUT = 1_000_000, 10_000_000  # 1.00 and 10.00 per 1M tokens
COST = PROMPT * INPUT // 1_000_000 + MAX_TOKENS * OUTPUT // 1_000_000  # 1011 micro


def _body(model: str) -> bytes:
    return json.dumps(
        {
            "model": model,
            "messages": [{"role": "user", "content": "Tell me a story about money."}],
            "stream": True,
            "max_tokens": MAX_TOKENS,
        }
    ).encode()


async def _fire(gw: Gateway, key: str, body: bytes, count: int) -> list[tuple[int, bool]]:
    """``count`` streaming calls, started over about two seconds; (status, saw [DONE])."""
    limits = httpx.Limits(max_connections=count + 10, max_keepalive_connections=0)
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}

    async def one(i: int, client: httpx.AsyncClient) -> tuple[int, bool]:
        await asyncio.sleep((i % 25) * 0.08)  # spread admissions across settlements
        async with client.stream("POST", "/v1/chat/completions", content=body) as r:
            text = (await r.aread()).decode()
            return r.status_code, "data: [DONE]" in text

    async with httpx.AsyncClient(
        base_url=gw.url, headers=headers, timeout=120, limits=limits
    ) as client:
        return await asyncio.gather(*(one(i, client) for i in range(count)))


def _records(gw: Gateway, user_id: int, count: int) -> list[dict[str, Any]]:
    """Every usage record of the user, once all ``count`` are written."""
    for _ in range(200):
        records = gw.usage(user_id=user_id, limit=1000)
        if len(records) >= count:
            return records
        run_sync(asyncio.sleep(0.05))
    raise AssertionError(f"only {len(records)} of {count} usage records were written")


def _user_with(gw: Gateway, balance: int) -> int:
    """A user whose balance is ``balance`` micro-units but whose cumulative top-up (20.00)
    puts it in the 1000 requests/minute tier, so no call is refused with 429."""
    user_id = int(gw.create_user()["id"])
    gw.credit(user_id, "20")
    gw.credit(user_id, format_money(balance - 20_000_000), "adjustment")
    return user_id


def _setup(gw: Gateway, fake: FakeOpenAI) -> tuple[str, bytes]:
    model = priced_model(gw, fake, input=format_money(INPUT), output=format_money(OUTPUT))
    body = _body(model)
    hold = charge(
        official_cost(Price(INPUT, OUTPUT), Usage(len(body) // 4, MAX_TOKENS)), Decimal(1)
    )
    assert hold >= COST, (hold, COST)  # the premise of the bound
    words = " ".join(f"t{i}" for i in range(20))
    fake.default = Behaviour(
        text=words, prompt_tokens=PROMPT, completion_tokens=MAX_TOKENS, chunk_delay=0.02
    )
    return model, body


def test_concurrent_calls_cannot_overspend(gateway: Gateway, fake: FakeOpenAI) -> None:
    _, body = _setup(gateway, fake)
    user_id = _user_with(gateway, CALLS * COST)
    key = gateway.make_user_key(user_id=user_id)

    results = run_sync(_fire(gateway, key.key, body, PARALLEL))

    statuses = [status for status, _ in results]
    served = statuses.count(200)
    balance, free = wallet(gateway, user_id)
    print(
        f"\n[{gateway.db_url.split(':')[0]}] served={served} refused={statuses.count(402)} "
        f"final_balance={balance} micro (one call = {COST})"
    )
    assert set(statuses) <= {200, 402}, sorted(set(statuses))
    assert all(done for status, done in results if status == 200), "a served stream was cut"
    assert 1 <= served <= CALLS + 1, served
    assert statuses.count(402) == PARALLEL - served
    assert free == 0
    assert balance >= -COST, balance
    assert balance == CALLS * COST - served * COST, (balance, served)
    entries = charges(gateway, user_id)
    assert len(entries) == served and all(e["amount"] == -COST for e in entries), entries
    records = _records(gateway, user_id, PARALLEL)
    assert sorted(r["status"] for r in records) == sorted(statuses)
    assert sum(r["amount"] for r in records) == served * COST
    books(gateway, user_id)


def test_concurrent_calls_never_overdraw_free_balance(gateway: Gateway, fake: FakeOpenAI) -> None:
    _, body = _setup(gateway, fake)
    user_id = _user_with(gateway, 4 * COST)
    gateway.credit(user_id, format_money(4 * COST + COST // 2), "free_grant")
    key = gateway.make_user_key(user_id=user_id)

    results = run_sync(_fire(gateway, key.key, body, PARALLEL // 2))

    served = [s for s, _ in results].count(200)
    balance, free = wallet(gateway, user_id)
    print(f"\n[{gateway.db_url.split(':')[0]}] served={served} balance={balance} free={free}")
    assert 1 <= served <= 9 + 1, served
    assert free >= 0, f"free balance overdrawn: {free}"
    assert balance >= -COST, balance
    records = _records(gateway, user_id, PARALLEL // 2)
    spent_free = sum(r["free_amount"] for r in records)
    assert spent_free == 4 * COST + COST // 2 - free
    assert sum(r["amount"] for r in records) == served * COST
    books(gateway, user_id)
