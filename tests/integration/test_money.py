"""Money over real HTTP: a call is charged exactly what its usage costs, on both databases.

Also the shared helpers of the other ``test_money_*`` modules: a freshly priced model on
a fake upstream channel, funded users, and the books invariant (ledger sums == wallet),
asserted after every money scenario.
"""

from __future__ import annotations

import json
import uuid
from decimal import Decimal
from typing import Any

import httpx

from relaygate.core.money import format_money
from tests.fakes.openai_upstream import Behaviour, FakeOpenAI
from tests.harness import Gateway, IssuedKey

USER = [{"role": "user", "content": "Price this call, please."}]
START = 100_000_000  # make_user_key's default funding: 100.00


# ---------------------------------------------------------------- shared helpers
def priced_model(gw: Gateway, fake: FakeOpenAI, **price: Any) -> str:
    """A fresh model served by ``fake``, priced through ``PUT /models/{model}``."""
    model = f"priced-{uuid.uuid4().hex[:10]}"
    gw.add_channel(fake, models=[model])
    gw.op("PUT", f"/models/{model}", json=price)
    return model


def funded_key(gw: Gateway, **credits: str) -> IssuedKey:
    """A new user credited ``kind=amount`` for each keyword (none: unfunded), with a key."""
    user_id = int(gw.create_user()["id"])
    for kind, amount in credits.items():
        gw.credit(user_id, amount, kind)
    return gw.make_user_key(user_id=user_id)


def ledger(gw: Gateway, user_id: int, limit: int = 1000) -> dict[str, Any]:
    data: dict[str, Any] = gw.op("GET", f"/users/{user_id}/ledger", params={"limit": limit})
    return data


def books(gw: Gateway, user_id: int) -> dict[str, Any]:
    """The ledger, after asserting the invariant: entries sum to the wallet, and the
    balance route shows the same wallet."""
    data = ledger(gw, user_id)
    wallet = data["wallet"]
    assert data["sums"] == {
        "amount": wallet["balance"],
        "free_amount": wallet["free_balance"],
    }, data
    if len(data["entries"]) < 1000:
        assert sum(e["amount"] for e in data["entries"]) == wallet["balance"], data
        assert sum(e["free_amount"] for e in data["entries"]) == wallet["free_balance"], data
    shown = gw.op("GET", f"/users/{user_id}/balance")
    assert shown["balance"] == format_money(wallet["balance"]), (shown, wallet)
    assert shown["free_balance"] == format_money(wallet["free_balance"]), (shown, wallet)
    return data


def wallet(gw: Gateway, user_id: int) -> tuple[int, int]:
    """(balance, free_balance) in micro-units, with the books checked."""
    data = books(gw, user_id)["wallet"]
    return int(data["balance"]), int(data["free_balance"])


def charges(gw: Gateway, user_id: int) -> list[dict[str, Any]]:
    return [e for e in ledger(gw, user_id)["entries"] if e["kind"] == "charge"]


def chat(
    gw: Gateway, key: str, model: str, *, stream: bool = False, **extra: Any
) -> httpx.Response:
    """One chat call; a stream is read to its end (``response.content`` holds it all)."""
    body = {"model": model, "messages": USER, **extra}
    if stream:
        body["stream"] = True
    with gw.http(key) as http:
        return http.post("/v1/chat/completions", json=body)


def sse_payloads(raw: bytes) -> list[Any]:
    out = []
    for line in raw.decode().splitlines():
        if line.startswith("data:") and line[5:].strip() != "[DONE]":
            out.append(json.loads(line[5:]))
    return out


def record_of(gw: Gateway, response: httpx.Response) -> dict[str, Any]:
    return gw.wait_for_usage(response.headers["x-request-id"])


# ---------------------------------------------------------------- the tests
def test_non_stream_call_is_charged_exactly(gateway: Gateway, fake: FakeOpenAI) -> None:
    model = priced_model(gateway, fake, input="2.00", output="8.00", multiplier="0.5")
    key = gateway.make_user_key()
    fake.script(model, Behaviour(prompt_tokens=1000, completion_tokens=500))
    response = chat(gateway, key.key, model)
    assert response.status_code == 200, response.text
    rid = response.headers["x-request-id"]
    record = gateway.wait_for_usage(rid)
    assert record["status"] == 200
    assert (record["prompt_tokens"], record["completion_tokens"]) == (1000, 500)
    assert record["official_cost"] == 6000
    assert record["amount"] == 3000
    assert record["free_amount"] == 0
    assert Decimal(record["multiplier"]) == Decimal("0.5")
    # committed before the last byte: no waiting needed for the wallet
    assert wallet(gateway, key.user_id) == (START - 3000, 0)
    entries = charges(gateway, key.user_id)
    assert len(entries) == 1, entries
    assert entries[0]["amount"] == -3000
    assert entries[0]["free_amount"] == 0
    assert entries[0]["request_id"] == rid


def test_stream_charged_from_usage_chunk(gateway: Gateway, fake: FakeOpenAI) -> None:
    model = priced_model(gateway, fake, input="2.00", output="8.00", multiplier="0.5")
    key = gateway.make_user_key()
    fake.script(model, Behaviour(text="a b c", prompt_tokens=1000, completion_tokens=500))
    response = chat(gateway, key.key, model, stream=True, stream_options={"include_usage": True})
    assert response.status_code == 200
    payloads = sse_payloads(response.content)
    usage = [p["usage"] for p in payloads if p.get("usage")]
    assert usage and usage[-1]["completion_tokens"] == 500, payloads
    record = record_of(gateway, response)
    assert (record["status"], record["stream"], record["usage_estimated"]) == (200, True, False)
    assert (record["official_cost"], record["amount"]) == (6000, 3000)
    assert wallet(gateway, key.user_id) == (START - 3000, 0)
    assert [e["amount"] for e in charges(gateway, key.user_id)] == [-3000]


def test_stream_without_include_usage_still_charged_from_upstream(
    gateway: Gateway, fake: FakeOpenAI
) -> None:
    model = priced_model(gateway, fake, input="2.00", output="8.00", multiplier="0.5")
    key = gateway.make_user_key()
    fake.script(model, Behaviour(text="a b c", prompt_tokens=1000, completion_tokens=500))
    response = chat(gateway, key.key, model, stream=True)
    assert response.status_code == 200
    sent = fake.requests_for("/chat/completions")[-1].body
    assert sent["stream_options"] == {"include_usage": True}  # asked on the client's behalf
    payloads = sse_payloads(response.content)
    assert not [p for p in payloads if p.get("usage")], "the injected usage chunk leaked"
    assert (
        "".join(c["delta"].get("content") or "" for p in payloads for c in p["choices"]) == "a b c"
    )
    record = record_of(gateway, response)
    assert record["usage_estimated"] is False
    assert (record["prompt_tokens"], record["completion_tokens"]) == (1000, 500)
    assert (record["official_cost"], record["amount"]) == (6000, 3000)
    assert wallet(gateway, key.user_id) == (START - 3000, 0)


def test_cached_and_reasoning_tokens_at_their_own_prices(
    gateway: Gateway, fake: FakeOpenAI
) -> None:
    own = priced_model(
        gateway, fake, input="2.00", cached_input="0.50", output="8.00", reasoning="16.00"
    )
    fallback = priced_model(gateway, fake, input="2.00", output="8.00")
    key = gateway.make_user_key()
    tokens = Behaviour(
        prompt_tokens=1000, cached_tokens=400, completion_tokens=500, reasoning_tokens=200
    )
    fake.script(own, tokens, tokens)
    fake.script(fallback, tokens)
    # 600 fresh × 2 + 400 cached × 0.5 + 300 plain × 8 + 200 reasoning × 16 = 7000
    first = record_of(gateway, chat(gateway, key.key, own))
    assert (first["cached_tokens"], first["reasoning_tokens"]) == (400, 200)
    assert (first["official_cost"], first["amount"]) == (7000, 7000)
    streamed = chat(gateway, key.key, own, stream=True)
    assert streamed.status_code == 200
    second = record_of(gateway, streamed)
    assert (second["official_cost"], second["amount"]) == (7000, 7000)
    # no cached/reasoning prices: they fall back to the input and output prices
    third = record_of(gateway, chat(gateway, key.key, fallback))
    assert (third["official_cost"], third["amount"]) == (6000, 6000)
    assert wallet(gateway, key.user_id) == (START - 20_000, 0)


def test_per_call_fee_is_charged(gateway: Gateway, fake: FakeOpenAI) -> None:
    model = priced_model(gateway, fake, input="1.00", output="1.00", per_call="0.01")
    key = gateway.make_user_key()
    fake.script(model, Behaviour(prompt_tokens=100, completion_tokens=50))
    record = record_of(gateway, chat(gateway, key.key, model))
    assert (record["official_cost"], record["amount"]) == (10_150, 10_150)
    assert wallet(gateway, key.user_id) == (START - 10_150, 0)


def test_flex_tier_halves_only_flex_models(gateway: Gateway, fake: FakeOpenAI) -> None:
    flex = priced_model(gateway, fake, input="2.00", output="8.00", flex=True)
    plain = priced_model(gateway, fake, input="2.00", output="8.00")
    key = gateway.make_user_key()
    for model in (flex, plain):
        fake.script(model, *[Behaviour(prompt_tokens=1000, completion_tokens=500)] * 2)
    cases: list[tuple[str, dict[str, Any], int, str]] = [
        (flex, {"service_tier": "flex"}, 3000, "0.5"),
        (flex, {}, 6000, "1"),
        (plain, {"service_tier": "flex"}, 6000, "1"),
        (plain, {"service_tier": "default"}, 6000, "1"),
    ]
    for model, extra, amount, multiplier in cases:
        response = chat(gateway, key.key, model, **extra)
        assert response.status_code == 200, response.text
        record = record_of(gateway, response)
        assert record["official_cost"] == 6000, (model, extra, record)
        assert record["amount"] == amount, (model, extra, record)
        assert Decimal(record["multiplier"]) == Decimal(multiplier), (model, extra, record)
    assert wallet(gateway, key.user_id) == (START - 21_000, 0)


def test_flex_stream_costs_half(gateway: Gateway, fake: FakeOpenAI) -> None:
    flex = priced_model(gateway, fake, input="2.00", output="8.00", multiplier="0.8", flex=True)
    key = gateway.make_user_key()
    fake.script(flex, Behaviour(prompt_tokens=1000, completion_tokens=500))
    response = chat(gateway, key.key, flex, stream=True, service_tier="flex")
    record = record_of(gateway, response)
    assert (record["official_cost"], record["amount"]) == (6000, 2400)  # × 0.8 × 0.5
    assert wallet(gateway, key.user_id) == (START - 2400, 0)


def test_key_counters_follow_charges(gateway: Gateway, fake: FakeOpenAI) -> None:
    model = priced_model(gateway, fake, input="1.00", output="8.00", multiplier="1.5")
    key = gateway.make_user_key()
    other = gateway.make_user_key(user_id=key.user_id)
    shapes = [(100, 10), (2000, 700), (33, 1)]
    for prompt, completion in shapes:
        fake.script(model, Behaviour(prompt_tokens=prompt, completion_tokens=completion))
    records = [
        record_of(gateway, chat(gateway, key.key, model)),
        record_of(gateway, chat(gateway, key.key, model, stream=True)),
        record_of(gateway, chat(gateway, key.key, model)),
    ]
    amounts = [r["amount"] for r in records]
    assert amounts == [270, 11_400, 62], amounts  # 1.5 × (p + 8c); 61.5 → 62 (half up)
    keys = {k["id"]: k for k in gateway.op("GET", f"/users/{key.user_id}/keys")}
    assert keys[key.id]["used_times"] == len(records)
    assert keys[key.id]["used_fee"] == sum(amounts)
    assert (keys[other.id]["used_times"], keys[other.id]["used_fee"]) == (0, 0)
    assert wallet(gateway, key.user_id) == (START - sum(amounts), 0)


def test_price_update_and_removal_apply_to_next_call(gateway: Gateway, fake: FakeOpenAI) -> None:
    model = priced_model(gateway, fake, input="2.00", output="8.00")
    key = gateway.make_user_key()
    fake.script(model, *[Behaviour(prompt_tokens=1000, completion_tokens=500)] * 3)
    assert record_of(gateway, chat(gateway, key.key, model))["amount"] == 6000
    gateway.op("PUT", f"/models/{model}", json={"input": "4.00", "output": "8.00"})
    assert record_of(gateway, chat(gateway, key.key, model))["amount"] == 8000
    gateway.op("DELETE", f"/models/{model}")
    free = record_of(gateway, chat(gateway, key.key, model))
    assert (free["official_cost"], free["amount"]) == (0, 0)
    assert [e["amount"] for e in charges(gateway, key.user_id)] == [-8000, -6000]
    assert wallet(gateway, key.user_id) == (START - 14_000, 0)


def test_model_rates_show_the_catalogue(gateway: Gateway, fake: FakeOpenAI) -> None:
    half = priced_model(gateway, fake, input="1.00", multiplier="0.5")
    dear = priced_model(gateway, fake, input="1.00", multiplier="1.25")
    key = gateway.make_user_key()
    with gateway.http(key.key) as http:
        response = http.get("/api/v1/pay/model-rates")
        anonymous = httpx.get(gateway.url + "/api/v1/pay/model-rates")
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert data["models"][half] == 0.5
    assert data["models"][dear] == 1.25
    assert data["flex"] == 0.5
    assert data["routes"] == {
        route: float(v) for route, v in gateway.settings.route_multipliers.items()
    }
    catalogue = {row["model"]: row for row in gateway.op("GET", "/models")}
    for model, rate in data["models"].items():
        assert Decimal(str(rate)) == Decimal(catalogue[model]["multiplier"]), model
    assert anonymous.status_code == 401
    gateway.op("DELETE", f"/models/{half}")
    with gateway.http(key.key) as http:
        after = http.get("/api/v1/pay/model-rates").json()["data"]
    assert half not in after["models"] and dear in after["models"]
