"""Holds cover the whole call as the upstream bills it, and a stream stops at its hold.

A user funded for ``CALLS`` calls fires ``PARALLEL`` streams at once through the
``openai`` SDK. (a) Each asks for ``n: 8`` choices, which the upstream generates and
bills (eight times the output of one): the hold must cover all eight. (b) The upstream
ignores ``max_tokens`` and streams a long answer: the gateway must stop each stream at
its hold and end it as an output limit would (``finish_reason: "length"``). Either way
the balance never goes below minus one call's cost, and the ledger equals the balance.
Both databases.
"""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal
from typing import Any

import httpx
import openai

from relaygate.billing.pricing import Price, charge, official_cost
from relaygate.core.money import format_money
from relaygate.core.units import Usage
from tests.fakes.openai_upstream import Behaviour, FakeOpenAI
from tests.harness import Gateway, run_sync
from tests.integration.test_money import books, charges, priced_model, wallet
from tests.integration.test_money_concurrency import _records, _user_with

CALLS = 10
PARALLEL = 200
N = 8
MAX_TOKENS = 20
PROMPT = 11  # what the fake reports
INPUT, OUTPUT = 1_000_000, 10_000_000  # 1.00 and 10.00 per 1M tokens
SLACK_PERCENT, SLACK_TOKENS = 20, 64  # the settings' defaults (docs/billing.md)
MESSAGES = [{"role": "user", "content": "Tell me a story about money."}]


def _cost(prompt: int, output: int) -> int:
    return charge(official_cost(Price(INPUT, OUTPUT), Usage(prompt, output)), Decimal(1))


def _hold(body: dict[str, Any], output: int) -> int:
    """The hold the gateway places: the prompt at 4 bytes a token, the output with slack."""
    slack = max(-(-output * SLACK_PERCENT // 100), SLACK_TOKENS)
    return _cost(len(json.dumps(body).encode()) // 4, output + slack)


async def _fire(gw: Gateway, key: str, body: dict[str, Any]) -> list[tuple[int, dict[int, Any]]]:
    """``PARALLEL`` streams through the SDK, started over about two seconds:
    (status, {choice index: (text, finish_reason)}) each."""
    limits = httpx.Limits(max_connections=PARALLEL + 10, max_keepalive_connections=0)
    http = httpx.AsyncClient(limits=limits, timeout=120)
    client = openai.AsyncOpenAI(
        base_url=gw.url + "/v1", api_key=key, max_retries=0, http_client=http
    )
    extra = {k: v for k, v in body.items() if k not in ("model", "messages", "stream")}

    async def one(i: int) -> tuple[int, dict[int, Any]]:
        await asyncio.sleep((i % 25) * 0.08)  # spread admissions across settlements
        try:
            stream = await client.chat.completions.create(
                model=body["model"], messages=MESSAGES, stream=True, extra_body=extra
            )
        except openai.APIStatusError as err:
            return err.status_code, {}
        choices: dict[int, Any] = {}
        async for chunk in stream:
            for choice in chunk.choices:
                text, finish = choices.get(choice.index, ("", None))
                choices[choice.index] = (
                    text + (choice.delta.content or ""),
                    choice.finish_reason or finish,
                )
        return 200, choices

    async with http:
        return await asyncio.gather(*(one(i) for i in range(PARALLEL)))


def _check_books(gw: Gateway, user_id: int, served: int, worst: int) -> None:
    """The bound and the books: the balance is at least minus one call's cost, each
    charge is a ledger entry, and the entries sum to the balance."""
    balance, free = wallet(gw, user_id)
    print(f"\n[{gw.db_url.split(':')[0]}] served={served} balance={balance} (one call: {worst})")
    assert free == 0
    assert balance >= -worst, (balance, worst)
    records = _records(gw, user_id, PARALLEL)
    entries = charges(gw, user_id)
    assert len(entries) == served, (len(entries), served)
    assert sum(r["amount"] for r in records) == -sum(e["amount"] for e in entries)
    books(gw, user_id)


def test_n_choices_are_held_and_cannot_overspend(gateway: Gateway, fake: FakeOpenAI) -> None:
    """(a) ``n: 8``: the upstream generates eight answers and bills them all."""
    model = priced_model(gateway, fake, input=format_money(INPUT), output=format_money(OUTPUT))
    body = {"model": model, "messages": MESSAGES, "stream": True, "max_tokens": MAX_TOKENS, "n": N}
    cost = _cost(PROMPT, MAX_TOKENS * N)  # what the upstream bills for one call
    assert _hold(body, MAX_TOKENS * N) >= cost
    # one token a word, so the text the upstream streams is the MAX_TOKENS it bills
    words = " ".join(["the"] * (MAX_TOKENS - 1))
    fake.default = Behaviour(
        text=words, prompt_tokens=PROMPT, completion_tokens=MAX_TOKENS * N, chunk_delay=0.002
    )
    user_id = _user_with(gateway, CALLS * cost)
    key = gateway.make_user_key(user_id=user_id)

    results = run_sync(_fire(gateway, key.key, body))

    statuses = [status for status, _ in results]
    served = statuses.count(200)
    assert set(statuses) <= {200, 402}, sorted(set(statuses))
    assert 1 <= served <= CALLS + 1, served
    for status, choices in results:
        if status == 200:  # every choice whole: the upstream honoured max_tokens
            assert sorted(choices) == list(range(N))
            assert all(text == words and end == "stop" for text, end in choices.values())
    _check_books(gateway, user_id, served, cost)
    assert wallet(gateway, user_id)[0] == CALLS * cost - served * cost


def test_streams_stop_at_their_hold_when_the_upstream_ignores_max_tokens(
    gateway: Gateway, fake: FakeOpenAI
) -> None:
    """(b) The upstream streams 300 tokens whatever ``max_tokens`` says (and would bill
    them): each stream is stopped at its hold and ends with ``finish_reason: "length"``."""
    model = priced_model(gateway, fake, input=format_money(INPUT), output=format_money(OUTPUT))
    body = {"model": model, "messages": MESSAGES, "stream": True, "max_tokens": MAX_TOKENS}
    hold = _hold(body, MAX_TOKENS)
    fake.default = Behaviour(
        text=" ".join(f"t{i}" for i in range(300)), prompt_tokens=PROMPT, chunk_delay=0.002
    )
    chunk = _cost(0, 2)  # a chunk of the fake's (" t123") is estimated at 2 tokens
    worst = hold + chunk  # a stream stops after the chunk that reaches its hold
    user_id = _user_with(gateway, CALLS * _cost(PROMPT, MAX_TOKENS))
    key = gateway.make_user_key(user_id=user_id)

    results = run_sync(_fire(gateway, key.key, body))

    statuses = [status for status, _ in results]
    served = statuses.count(200)
    assert set(statuses) <= {200, 402}, sorted(set(statuses))
    assert served >= 1
    for status, choices in results:
        if status == 200:
            [(text, end)] = choices.values()
            assert end == "length", (end, text[-40:])
            assert 20 <= len(text.split()) < 100, text  # stopped near its hold, not at 300
    records = [r for r in _records(gateway, user_id, PARALLEL) if r["status"] == 200]
    assert records and all(0 < r["amount"] <= worst for r in records), (
        [r["amount"] for r in records], worst,
    )  # fmt: skip
    assert all(r["completion_tokens"] < 300 for r in records)
    _check_books(gateway, user_id, served, worst + CALLS * chunk)
    stopped = [r for r in fake.requests if r.path.endswith("/chat/completions")]
    assert fake.wait_until(lambda: all(r.done.is_set() for r in stopped))
    assert all(r.client_disconnected for r in stopped), "the upstream was not closed"
