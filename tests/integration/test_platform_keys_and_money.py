"""The platform key API's admin rule and money on the wire (issue 11), both databases.

* ``is_admin=true`` on ``new-api-token`` / ``update-api-token`` is a 403 in the platform
  envelope (it was silently ignored).
* Money reads the same, exact with six decimals, on every route that shows it: a balance
  of 1.234567 was "1.23" on the balance routes and a package's ``remaining`` and a key's
  ``used_fee``/``max_fee`` were rounded the same way, while bills used six decimals.
"""

from __future__ import annotations

import csv
import io
import time
import uuid
from typing import Any

import httpx
import pytest

from tests.fakes.openai_upstream import FakeOpenAI
from tests.harness import ADMIN_KEY, Gateway, IssuedKey
from tests.integration.test_money import chat, priced_model, record_of

LATER = "2099-01-01T00:00:00Z"


def _post(gw: Gateway, key: str, route: str, **kwargs: Any) -> httpx.Response:
    with gw.http(key) as client:
        return client.post(f"/api/v1/user/admin/{route}", **kwargs)


def _ok(response: httpx.Response) -> Any:
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["statusCode"] == 200, body
    return body["data"]


def _funded_manager(gw: Gateway, amount: str) -> IssuedKey:
    user_id = int(gw.create_user()["id"])
    gw.credit(user_id, amount)
    return gw.make_user_key(user_id=user_id, is_admin=True)


def _assert_forbidden(response: httpx.Response) -> None:
    assert response.status_code == 403, response.text
    body = response.json()
    assert body["statusCode"] == 403
    assert body["data"] is None
    assert body["errorType"] == "permission_error"
    assert "admin" in body["message"]


def _key_count(gw: Gateway, user_id: int) -> int:
    return len(gw.op("GET", f"/users/{user_id}/keys"))


# ---------------------------------------------------------------- is_admin


@pytest.mark.parametrize("value", ["true", "1", "True"])
def test_creating_an_admin_key_is_a_403(gateway: Gateway, value: str) -> None:
    manager = _funded_manager(gateway, "1")
    form = {"expired_at": LATER, "max_fee": "0", "is_admin": value}
    _assert_forbidden(_post(gateway, manager.key, "new-api-token", data=form))
    _assert_forbidden(
        _post(gateway, manager.key, "create-api-token", json={**form, "is_admin": True})
    )
    assert _key_count(gateway, manager.user_id) == 1  # only the manager itself


def test_the_operators_key_cannot_mint_admin_keys_here_either(gateway: Gateway) -> None:
    """The operator issues management keys through the operator API, not this route."""
    form = {"expired_at": LATER, "max_fee": "0", "is_admin": "true"}
    _assert_forbidden(_post(gateway, ADMIN_KEY, "new-api-token", data=form))
    manager = _funded_manager(gateway, "1")
    assert manager.data["is_admin"] is True  # POST /api/v1/operator/users/{id}/keys does


def test_is_admin_false_still_creates_an_ordinary_key(gateway: Gateway) -> None:
    manager = _funded_manager(gateway, "1")
    form = {"expired_at": LATER, "max_fee": "0", "is_admin": "false"}
    key = _ok(_post(gateway, manager.key, "new-api-token", data=form))
    assert key.startswith("sk-")
    keys = gateway.op("GET", f"/users/{manager.user_id}/keys")
    assert sorted(k["is_admin"] for k in keys) == [False, True]


def test_promoting_a_key_to_admin_is_a_403(gateway: Gateway) -> None:
    manager = _funded_manager(gateway, "1")
    ordinary = gateway.make_user_key(user_id=manager.user_id)
    form = {"key": ordinary.key, "is_admin": "true", "remark": "promoted?"}
    _assert_forbidden(_post(gateway, manager.key, "update-api-token", data=form))
    [row] = [
        k for k in gateway.op("GET", f"/users/{manager.user_id}/keys") if k["id"] == ordinary.id
    ]
    assert (row["is_admin"], row["remark"]) == (False, "")


def test_a_malformed_is_admin_is_a_400(gateway: Gateway) -> None:
    manager = _funded_manager(gateway, "1")
    form = {"expired_at": LATER, "max_fee": "0", "is_admin": "maybe"}
    response = _post(gateway, manager.key, "new-api-token", data=form)
    assert response.status_code == 400, response.text
    assert "is_admin" in response.json()["message"]


# ---------------------------------------------------------------- money


def _wait_for_used_fee(gw: Gateway, user_id: int, key_id: int) -> None:
    """Key counters are written with the bill; poll the operator route (the platform's
    listing allows one call a second)."""
    deadline = time.monotonic() + 10
    while True:
        keys = gw.op("GET", f"/users/{user_id}/keys")
        if any(k["id"] == key_id and k["used_fee"] > 0 for k in keys):
            return
        assert time.monotonic() < deadline, keys
        time.sleep(0.05)


def test_a_balance_reads_the_same_exact_amount_on_every_route(gateway: Gateway) -> None:
    user_id = int(gateway.create_user()["id"])
    credited = gateway.credit(user_id, "1.234567")
    manager = gateway.make_user_key(user_id=user_id, is_admin=True)

    shown = gateway.op("GET", f"/users/{user_id}/balance")
    mine = _ok(_post(gateway, manager.key, "balance"))

    assert credited["balance"] == shown["balance"] == mine["balance"] == "1.234567"
    assert shown["topped_up_total"] == "1.234567"
    assert shown["free_balance"] == mine["free_balance"] == "0.000000"


def test_key_fees_packages_and_bills_share_the_format(gateway: Gateway, fake: FakeOpenAI) -> None:
    manager = _funded_manager(gateway, "1.234567")
    model = priced_model(gateway, fake, per_call="0.001234")
    form = {"expired_at": LATER, "max_fee": "1.234567", "remark": "spender"}
    secret = _ok(_post(gateway, manager.key, "new-api-token", data=form))
    [key] = [
        k for k in gateway.op("GET", f"/users/{manager.user_id}/keys") if k["remark"] == "spender"
    ]
    assert key["max_fee"] == 1_234_567  # the operator API counts micro-units

    record = record_of(gateway, chat(gateway, secret, model))
    _wait_for_used_fee(gateway, manager.user_id, key["id"])

    [listed] = [
        k for k in _ok(_post(gateway, manager.key, "get-api-tokens")) if k["remark"] == "spender"
    ]
    assert (listed["max_fee"], listed["used_fee"]) == ("1.234567", "0.001234")
    assert _ok(_post(gateway, manager.key, "balance"))["balance"] == "1.233333"
    with gateway.http(manager.key) as client:
        params = {"key": secret}
        [bill] = client.get("/api/v1/user/bills", params=params).json()["data"]
        exported = client.get("/api/v1/user/bills", params={**params, "format": "csv"}).text
    assert bill["requestId"] == record["request_id"]
    assert bill["amount"] == "0.001234"
    [row] = list(csv.DictReader(io.StringIO(exported)))
    assert (row["amount"], row["packageAmount"]) == ("0.001234", "0.000000")


def test_package_amounts_read_exactly_everywhere(gateway: Gateway) -> None:
    name = f"exact-{uuid.uuid4().hex[:8]}"
    kind = gateway.op("POST", "/package-types", json={"name": name, "amount": "1.234567"})
    manager = _funded_manager(gateway, "1")
    granted = gateway.op("POST", f"/users/{manager.user_id}/packages", json={"type_id": kind["id"]})
    [listed] = gateway.op("GET", f"/users/{manager.user_id}/packages")
    with gateway.http(manager.key) as client:
        [mine] = client.get("/api/v1/user/packages").json()["data"]
    [typed] = [t for t in gateway.op("GET", "/package-types") if t["name"] == name]
    assert kind["amount"] == typed["amount"] == "1.234567"
    for package in (granted, listed, mine):
        assert (package["amount"], package["remaining"]) == ("1.234567", "1.234567"), package


def test_a_fee_with_seven_decimals_is_refused_not_rounded(gateway: Gateway) -> None:
    manager = _funded_manager(gateway, "1")
    form = {"expired_at": LATER, "max_fee": "0.0000001"}
    response = _post(gateway, manager.key, "new-api-token", data=form)
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["data"] is None and "max_fee" in body["message"]
