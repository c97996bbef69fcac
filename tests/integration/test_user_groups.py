"""The user-group multiplier: an operator prices a group of users differently."""

from __future__ import annotations

from collections.abc import Callable

from tests.fakes.openai_payloads import Behaviour
from tests.fakes.openai_upstream import FakeOpenAI
from tests.harness import Gateway
from tests.integration.test_money import books, chat, priced_model, record_of


def test_a_group_multiplier_applies_to_its_users(
    gateway_factory: Callable[..., Gateway], fake: FakeOpenAI
) -> None:
    gateway = gateway_factory(group_multipliers={"partner": "0.5"})
    model = priced_model(gateway, fake, input="2.00", output="8.00")
    fake.default = Behaviour(prompt_tokens=1000, completion_tokens=500)  # official 6,000
    regular = gateway.make_user_key()
    partner = gateway.make_user_key()
    changed = gateway.op("PATCH", f"/users/{partner.user_id}", json={"group": "partner"})
    assert changed["group"] == "partner"
    assert record_of(gateway, chat(gateway, regular.key, model))["amount"] == 6000
    record = record_of(gateway, chat(gateway, partner.key, model))
    assert (record["amount"], record["multiplier"]) == (3000, "0.5")
    books(gateway, partner.user_id)
