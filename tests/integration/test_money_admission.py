"""Who is let in (402 rules), free balance first, and what failed calls cost: nothing."""

from __future__ import annotations

import uuid

import pytest

from tests.fakes.openai_upstream import Behaviour, FakeOpenAI
from tests.harness import ADMIN_KEY, Gateway
from tests.integration.assertions import assert_envelope_error, assert_openai_error
from tests.integration.test_money import (
    START,
    books,
    charges,
    chat,
    funded_key,
    priced_model,
    record_of,
    wallet,
)

COST = 3000  # 1000 in × 2.00 + 500 out × 8.00 = 6000, × 0.5


def _model(gw: Gateway, fake: FakeOpenAI) -> str:
    model = priced_model(gw, fake, input="2.00", output="8.00", multiplier="0.5")
    fake.default = Behaviour(prompt_tokens=1000, completion_tokens=500)
    return model


def _assert_402(gw: Gateway, response: object) -> None:
    error = assert_openai_error(response, 402, "insufficient_balance")  # type: ignore[arg-type]
    assert error["type"] == "insufficient_balance_error"
    record = record_of(gw, response)  # type: ignore[arg-type]
    assert (record["status"], record["amount"], record["free_amount"]) == (402, 0, 0)


def test_free_balance_is_spent_first(gateway: Gateway, fake: FakeOpenAI) -> None:
    model = _model(gateway, fake)
    key = funded_key(gateway, free_grant="0.002", topup="1.00")
    assert wallet(gateway, key.user_id) == (1_000_000, 2000)
    first = record_of(gateway, chat(gateway, key.key, model))
    assert (first["amount"], first["free_amount"]) == (COST, 2000)
    assert wallet(gateway, key.user_id) == (1_000_000 - 1000, 0)
    [entry] = charges(gateway, key.user_id)
    assert (entry["amount"], entry["free_amount"]) == (-1000, -2000)
    assert entry["request_id"] == first["request_id"]
    second = record_of(gateway, chat(gateway, key.key, model, stream=True))
    assert (second["amount"], second["free_amount"]) == (COST, 0)
    assert wallet(gateway, key.user_id) == (1_000_000 - 1000 - COST, 0)


def test_free_balance_alone_admits_and_pays(gateway: Gateway, fake: FakeOpenAI) -> None:
    model = _model(gateway, fake)
    key = funded_key(gateway, free_grant="1.00")
    response = chat(gateway, key.key, model)
    assert response.status_code == 200, response.text
    record = record_of(gateway, response)
    assert (record["amount"], record["free_amount"]) == (COST, COST)
    assert wallet(gateway, key.user_id) == (0, 1_000_000 - COST)


def test_zero_balance_is_refused_then_topup_serves(gateway: Gateway, fake: FakeOpenAI) -> None:
    model = _model(gateway, fake)
    key = funded_key(gateway)  # never credited: no wallet at all
    for stream in (False, True):
        _assert_402(gateway, chat(gateway, key.key, model, stream=stream))
    assert not fake.requests, "a refused call reached the upstream"
    assert wallet(gateway, key.user_id) == (0, 0)
    gateway.credit(key.user_id, "0.01")
    response = chat(gateway, key.key, model)
    assert response.status_code == 200, response.text
    assert wallet(gateway, key.user_id) == (10_000 - COST, 0)


def test_exactly_zero_after_spending_is_refused(gateway: Gateway, fake: FakeOpenAI) -> None:
    model = _model(gateway, fake)
    key = funded_key(gateway, topup="0.003")  # exactly one call
    assert chat(gateway, key.key, model).status_code == 200
    assert wallet(gateway, key.user_id) == (0, 0)
    _assert_402(gateway, chat(gateway, key.key, model))
    assert len(fake.requests) == 1


def test_negative_balance_is_refused(gateway: Gateway, fake: FakeOpenAI) -> None:
    model = _model(gateway, fake)
    key = funded_key(gateway, topup="1.00", adjustment="-1.50")
    assert wallet(gateway, key.user_id) == (-500_000, 0)
    _assert_402(gateway, chat(gateway, key.key, model))
    # free balance does not rescue a debt larger than it
    gateway.credit(key.user_id, "0.25", "free_grant")
    _assert_402(gateway, chat(gateway, key.key, model, stream=True))
    gateway.credit(key.user_id, "1.00")
    assert chat(gateway, key.key, model).status_code == 200
    assert wallet(gateway, key.user_id) == (500_000, 250_000 - COST)
    assert not [e for e in books(gateway, key.user_id)["entries"] if e["kind"] == "charge"][1:]


def test_upstream_failure_is_not_charged(gateway: Gateway, fake: FakeOpenAI) -> None:
    model = _model(gateway, fake)
    key = gateway.make_user_key()
    for stream in (False, True):
        fake.script(model, Behaviour(status=500))
        response = chat(gateway, key.key, model, stream=stream)
        assert_openai_error(response, 502)
        record = record_of(gateway, response)
        assert (record["status"], record["amount"], record["free_amount"]) == (502, 0, 0)
    assert wallet(gateway, key.user_id) == (START, 0)
    assert charges(gateway, key.user_id) == []
    [row] = gateway.op("GET", f"/users/{key.user_id}/keys")
    assert row["used_fee"] == 0


def test_upstream_400_passthrough_is_not_charged(gateway: Gateway, fake: FakeOpenAI) -> None:
    model = _model(gateway, fake)
    key = gateway.make_user_key()
    fake.script(model, Behaviour(status=400))
    response = chat(gateway, key.key, model)
    assert response.status_code == 400
    assert response.json()["error"]["message"] == "fake upstream says the request is invalid"
    record = record_of(gateway, response)
    assert (record["status"], record["amount"]) == (400, 0)
    assert wallet(gateway, key.user_id) == (START, 0)
    assert charges(gateway, key.user_id) == []


def test_upstream_breaking_mid_stream_is_not_charged(gateway: Gateway, fake: FakeOpenAI) -> None:
    model = _model(gateway, fake)
    key = gateway.make_user_key()
    fake.script(model, Behaviour(text="one two three four five", break_after=2))
    response = chat(gateway, key.key, model, stream=True)
    assert response.status_code == 200  # the headers were out before the upstream broke
    record = record_of(gateway, response)
    assert record["status"] == 502 and record["amount"] == 0, record
    assert wallet(gateway, key.user_id) == (START, 0)


def _operator_id(gw: Gateway) -> int:
    users = gw.op("GET", "/users", params={"limit": 1000})
    rows = users["items"] if isinstance(users, dict) else users
    return next(int(u["id"]) for u in rows if u["is_operator"])


def test_operator_is_the_house(gateway: Gateway, fake: FakeOpenAI) -> None:
    model = _model(gateway, fake)
    operator_id = _operator_id(gateway)
    # a debt on the house account refuses nothing
    gateway.credit(operator_id, "-5.00", "adjustment")
    try:
        before = wallet(gateway, operator_id)
        assert before[0] < 0
        charged_before = len(charges(gateway, operator_id))
        rids = []
        for stream in (False, True):
            response = chat(gateway, ADMIN_KEY, model, stream=stream)
            assert response.status_code == 200, response.text
            record = record_of(gateway, response)
            rids.append(record["request_id"])
            assert record["user_id"] == operator_id
            assert (record["official_cost"], record["amount"]) == (6000, COST), record
        books(gateway, operator_id)
        # docs/billing.md: "never refused and never charged to a balance"
        assert wallet(gateway, operator_id) == before, "the house was charged"
        assert len(charges(gateway, operator_id)) == charged_before, rids
    finally:
        gateway.credit(operator_id, "5.00", "adjustment")


@pytest.mark.parametrize(
    "body",
    [
        {"amount": "0", "kind": "topup"},
        {"amount": "-1", "kind": "topup"},
        {"amount": "-1", "kind": "free_grant"},
        {"amount": "1.0000001", "kind": "topup"},
        {"amount": "1", "kind": "gift"},
        {"amount": "abc"},
        {"amount": "NaN", "kind": "adjustment"},
        {"amount": "Infinity", "kind": "adjustment"},
    ],
)
def test_credit_rejects_bad_amounts(gateway: Gateway, body: dict[str, str]) -> None:
    key = gateway.make_user_key()
    response = gateway.operator.post(f"/users/{key.user_id}/credit", json=body)
    assert_envelope_error(response, (400, 422))
    assert wallet(gateway, key.user_id) == (START, 0)


def test_credit_unknown_user_is_404(gateway: Gateway) -> None:
    response = gateway.operator.post("/users/987654321/credit", json={"amount": "1"})
    assert response.status_code == 404, response.text


@pytest.mark.parametrize(
    "body",
    [
        {"input": "-2.00", "output": "8.00"},
        {"input": "2.00", "output": "-8.00"},
        {"input": "2.00", "cached_input": "-0.5"},
        {"input": "2.00", "per_call": "-0.01"},
        {"input": "2.00", "multiplier": "-1"},
        {"input": "2.0000001"},
    ],
)
def test_price_rejects_negative_or_too_precise(gateway: Gateway, body: dict[str, str]) -> None:
    """A negative price would pay users for calls: the operator API must refuse it."""
    model = f"never-negative-{uuid.uuid4().hex[:8]}"
    response = gateway.operator.put(f"/models/{model}", json=body)
    if response.status_code == 200:  # keep the shared catalogue clean for other tests
        gateway.op("DELETE", f"/models/{model}")
    assert_envelope_error(response, (400, 422))


def test_a_call_never_adds_money(gateway: Gateway, fake: FakeOpenAI) -> None:
    """Whatever the catalogue says, relaying a call must not raise a balance."""
    model = f"negative-{uuid.uuid4().hex[:8]}"
    gateway.add_channel(fake, models=[model])
    saved = gateway.operator.put(f"/models/{model}", json={"input": "2.00", "output": "-8.00"})
    key = gateway.make_user_key()
    fake.default = Behaviour(prompt_tokens=1000, completion_tokens=500)
    try:
        if saved.status_code == 200:
            response = chat(gateway, key.key, model)
            if response.status_code == 200:
                record = record_of(gateway, response)
                assert record["amount"] >= 0 and record["free_amount"] >= 0, record
    finally:
        if saved.status_code == 200:
            gateway.op("DELETE", f"/models/{model}")
    balance, free = wallet(gateway, key.user_id)
    assert balance <= START and free <= 0, (balance, free)
