"""Resource packages over HTTP: spent first at official price, the rest multiplied, the
402 rule untouched, every change in the ledger (both databases)."""

from __future__ import annotations

import uuid
from typing import Any

from tests.fakes.openai_payloads import Behaviour
from tests.fakes.openai_upstream import FakeOpenAI
from tests.harness import Gateway
from tests.integration.test_money import START, books, chat, record_of, wallet


def _package_type(gw: Gateway, amount: str, models: list[str]) -> dict[str, Any]:
    body = {"name": f"pkg-{uuid.uuid4().hex[:8]}", "amount": amount, "scope_models": models}
    data: dict[str, Any] = gw.op("POST", "/package-types", json=body)
    return data


def _model(gw: Gateway, fake: FakeOpenAI) -> str:
    model = f"pkgmodel-{uuid.uuid4().hex[:8]}"
    gw.add_channel(fake, models=[model])
    gw.op("PUT", f"/models/{model}", json={"input": "2.00", "output": "8.00", "multiplier": "0.5"})
    fake.default = Behaviour(prompt_tokens=1000, completion_tokens=500)  # official 0.006000
    return model


def _packages_balanced(gw: Gateway, user_id: int) -> dict[str, Any]:
    data = books(gw, user_id)
    for package in data["packages"].values():
        assert package["remaining"] == package["ledger_sum"], data
    return data


def test_a_call_in_scope_is_paid_from_the_package_unmultiplied(
    gateway: Gateway, fake: FakeOpenAI
) -> None:
    model = _model(gateway, fake)
    kind = _package_type(gateway, "20", [model])
    key = gateway.make_user_key()
    granted = gateway.op("POST", f"/users/{key.user_id}/packages", json={"type_id": kind["id"]})
    assert granted["remaining"] == "20.000000"
    record = record_of(gateway, chat(gateway, key.key, model))
    assert (record["official_cost"], record["package_amount"], record["amount"]) == (6000, 6000, 0)
    assert wallet(gateway, key.user_id) == (START, 0)  # the bill shows 0, the balance is intact
    data = _packages_balanced(gateway, key.user_id)
    assert data["packages"][str(granted["id"])]["remaining"] == 20_000_000 - 6000


def test_a_package_running_out_mid_call_sends_the_rest_to_the_balance(
    gateway: Gateway, fake: FakeOpenAI
) -> None:
    model = _model(gateway, fake)
    kind = _package_type(gateway, "0.001", [model])  # 1,000 micro of the 6,000 official
    key = gateway.make_user_key()
    gateway.op("POST", f"/users/{key.user_id}/packages", json={"type_name": kind["name"]})
    record = record_of(gateway, chat(gateway, key.key, model, stream=True))
    assert record["package_amount"] == 1000
    assert record["amount"] == 2500  # (6000 - 1000) x 0.5
    assert wallet(gateway, key.user_id) == (START - 2500, 0)
    follow = record_of(gateway, chat(gateway, key.key, model))
    assert (follow["package_amount"], follow["amount"]) == (0, 3000)  # the package is empty
    _packages_balanced(gateway, key.user_id)


def test_out_of_scope_calls_pay_the_multiplied_price(gateway: Gateway, fake: FakeOpenAI) -> None:
    model = _model(gateway, fake)
    kind = _package_type(gateway, "20", ["claude-*"])
    key = gateway.make_user_key()
    gateway.op("POST", f"/users/{key.user_id}/packages", json={"type_id": kind["id"]})
    record = record_of(gateway, chat(gateway, key.key, model))
    assert (record["package_amount"], record["amount"]) == (0, 3000)
    _packages_balanced(gateway, key.user_id)


def test_packages_do_not_lift_the_402_rule(gateway: Gateway, fake: FakeOpenAI) -> None:
    model = _model(gateway, fake)
    kind = _package_type(gateway, "20", [model])
    user = gateway.create_user()
    key = gateway.make_user_key(user_id=user["id"])
    gateway.op("POST", f"/users/{user['id']}/packages", json={"type_id": kind["id"]})
    response = chat(gateway, key.key, model)
    assert response.status_code == 402, response.text
    assert response.json()["error"]["type"] == "insufficient_balance_error"
    gateway.credit(user["id"], "0.01")
    assert chat(gateway, key.key, model).status_code == 200
    _packages_balanced(gateway, user["id"])


def test_users_list_their_packages_with_the_management_key(
    gateway: Gateway, fake: FakeOpenAI
) -> None:
    model = _model(gateway, fake)
    kind = _package_type(gateway, "5", [model])
    key = gateway.make_user_key()
    manager = gateway.make_user_key(user_id=key.user_id, is_admin=True)
    gateway.op("POST", f"/users/{key.user_id}/packages", json={"type_id": kind["id"]})
    chat(gateway, key.key, model)
    with gateway.http() as http:
        listed = http.get(
            "/api/v1/user/packages", headers={"Authorization": f"Bearer {manager.key}"}
        ).json()
        refused = http.get("/api/v1/user/packages", headers={"Authorization": f"Bearer {key.key}"})
    assert listed["statusCode"] == 200
    [package] = listed["data"]
    assert (package["amount"], package["remaining"]) == ("5.000000", "4.994000")  # exact
    assert refused.status_code == 403
