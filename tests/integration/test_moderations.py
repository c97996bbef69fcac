"""``POST /v1/moderations`` through the gateway with the openai SDK, billed per call."""

from __future__ import annotations

import uuid

from tests.fakes.openai_upstream import Behaviour, FakeOpenAI
from tests.harness import Gateway
from tests.integration.test_money import books


def test_moderation_is_relayed_and_billed_per_call(gateway: Gateway, fake: FakeOpenAI) -> None:
    model = f"mod-{uuid.uuid4().hex[:8]}"
    gateway.add_channel(fake, models=[model])
    gateway.op("PUT", f"/models/{model}", json={"per_call": "0.002"})
    key = gateway.make_user_key()
    fake.script(model, Behaviour(text="awful"))
    result = gateway.openai(key.key).moderations.create(
        model=model, input=["you are awful", "have a nice day"]
    )
    assert [r.flagged for r in result.results] == [True, False]
    assert fake.requests[-1].path == "/v1/moderations"
    record = gateway.usage(user_id=key.user_id)[0]
    assert record["endpoint"] == "moderations" and record["status"] == 200
    assert record["official_cost"] == 2_000 and record["amount"] == 2_000
    books(gateway, key.user_id)


def test_echo_model_answers_moderations(gateway: Gateway) -> None:
    key = gateway.make_user_key()
    result = gateway.openai(key.key).moderations.create(model="relaygate-echo", input="hello")
    assert len(result.results) == 1 and result.results[0].flagged is False


def test_moderation_cannot_stream(gateway: Gateway, fake: FakeOpenAI) -> None:
    model = f"mod-{uuid.uuid4().hex[:8]}"
    gateway.add_channel(fake, models=[model])
    with gateway.http(gateway.make_user_key().key) as http:
        refused = http.post("/v1/moderations", json={"model": model, "input": "x", "stream": True})
    assert refused.status_code == 400 and refused.json()["error"]["param"] == "stream"
