"""A key's max_fee caps its spend; VIP-only models need a current membership."""

from __future__ import annotations

from tests.fakes.openai_payloads import Behaviour
from tests.fakes.openai_upstream import FakeOpenAI
from tests.harness import Gateway
from tests.integration.test_money import books, chat, priced_model, record_of


def test_max_fee_stops_a_key_at_its_cap(gateway: Gateway, fake: FakeOpenAI) -> None:
    model = priced_model(gateway, fake, input="2.00", output="8.00")
    fake.default = Behaviour(prompt_tokens=1000, completion_tokens=500)  # 6,000 micro a call
    capped = gateway.make_user_key(max_fee=10_000)  # micro-units: room for two calls' holds
    free_key = gateway.make_user_key(user_id=capped.user_id)
    statuses = []
    for _ in range(4):
        response = chat(gateway, capped.key, model, max_tokens=100)
        statuses.append(response.status_code)
        if response.status_code == 200:
            record_of(gateway, response)
    assert statuses[0] == 200 and statuses[-1] == 402, statuses
    refused = chat(gateway, capped.key, model, max_tokens=100)
    assert refused.json()["error"]["code"] == "key_quota_exceeded"
    assert chat(gateway, free_key.key, model).status_code == 200  # the user is not blocked
    keys = {k["id"]: k for k in gateway.op("GET", f"/users/{capped.user_id}/keys")}
    assert keys[capped.id]["used_fee"] <= 10_000 + 6000  # at most one call past the cap
    books(gateway, capped.user_id)


def test_vip_only_models_need_a_membership(gateway: Gateway, fake: FakeOpenAI) -> None:
    model = priced_model(gateway, fake, input="1.00", output="1.00", vip_only=True)
    member = gateway.make_user_key()  # topped up 100: VIP (and more) from today
    user = gateway.create_user()
    gateway.credit(user["id"], "5")  # below the first threshold (20)
    outsider = gateway.make_user_key(user_id=user["id"])
    assert chat(gateway, member.key, model).status_code == 200
    refused = chat(gateway, outsider.key, model)
    assert refused.status_code == 403, refused.text
    assert "membership" in refused.json()["error"]["message"]
    gateway.credit(user["id"], "15")  # cumulative 20: VIP for a month
    assert chat(gateway, outsider.key, model).status_code == 200
