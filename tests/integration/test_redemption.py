"""Redemption codes over HTTP (both databases): a batch generated and exported, codes
redeemed once and refused after, the same refusal for every bad code, concurrent
redemptions of one single-use code crediting once, guessing throttled per user and per
IP, and the ledger equal to the balance after every scenario."""

from __future__ import annotations

import asyncio
import csv
import io
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from tests.harness import Gateway
from tests.integration.test_money import START, books, wallet

ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"


def _later(**delta: float) -> str:
    return (datetime.now(UTC) + timedelta(**delta)).isoformat()


def _batch(gw: Gateway, **fields: Any) -> dict[str, Any]:
    body = {"name": f"batch-{uuid.uuid4().hex[:8]}", "expires_at": _later(days=30), **fields}
    if "package_type_id" not in body:
        body.setdefault("amount", "5")
    data: dict[str, Any] = gw.op("POST", "/redemption-batches", json=body)
    return data


def _codes(gw: Gateway, batch_id: int) -> list[dict[str, str]]:
    response = gw.operator.get(f"/redemption-batches/{batch_id}/codes.csv")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    return list(csv.DictReader(io.StringIO(response.text)))


def _manager(gw: Gateway) -> tuple[int, str]:
    """A new user (balance START) and their management key."""
    key = gw.make_user_key()
    admin = gw.make_user_key(user_id=key.user_id, is_admin=True)
    return key.user_id, admin.key


def _redeem(gw: Gateway, key: str, code: str) -> httpx.Response:
    with gw.http(key) as http:
        return http.post("/api/v1/user/redeem", json={"code": code})


def _refusal(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 400, response.text
    body: dict[str, Any] = response.json()
    return body


def test_a_batch_is_generated_exported_and_each_code_redeemed_once(gateway: Gateway) -> None:
    batch = _batch(gateway, amount="2.5", quantity=3)
    assert (batch["quantity"], batch["redeemed"], batch["active"]) == (3, 0, True)
    rows = _codes(gateway, batch["id"])
    assert len(rows) == 3 and len({row["code"] for row in rows}) == 3
    for row in rows:
        plain = row["code"].replace("-", "")
        assert len(plain) == 16 and set(plain) <= set(ALPHABET), row
        assert (row["value"], row["used"], row["max_redemptions"]) == ("2.500000", "0", "1")
    user, key = _manager(gateway)
    done = _redeem(gateway, key, rows[0]["code"].lower().replace("-", " "))
    assert done.status_code == 200, done.text
    assert done.json()["data"]["amount"] == "2.500000"
    assert wallet(gateway, user) == (START + 2_500_000, 0)
    entries = books(gateway, user)["entries"]
    assert [e["kind"] for e in entries].count("redeem") == 1
    again = _refusal(_redeem(gateway, key, rows[0]["code"]))
    other, other_key = _manager(gateway)
    taken = _refusal(_redeem(gateway, other_key, rows[0]["code"]))
    assert again == taken
    assert wallet(gateway, user) == (START + 2_500_000, 0)
    assert wallet(gateway, other) == (START, 0)
    listed = {b["id"]: b for b in gateway.op("GET", "/redemption-batches")}
    assert (listed[batch["id"]]["redeemed"], listed[batch["id"]]["codes_used_up"]) == (1, 1)
    assert _codes(gateway, batch["id"])[0]["used"] == "1"
    with gateway.http(key) as http:
        history = http.get("/api/v1/user/redemptions").json()["data"]
    assert [h["batch"] for h in history] == [batch["name"]]


def test_every_refusal_is_the_same_answer(gateway: Gateway) -> None:
    soon = _batch(gateway, expires_at=_later(seconds=2))
    disabled = _batch(gateway)
    gateway.op("POST", f"/redemption-batches/{disabled['id']}/disable")
    expiring = _codes(gateway, soon["id"])[0]["code"]
    user, key = _manager(gateway)
    time.sleep(2.5)  # the batch's expiry passes
    answers = [
        _refusal(_redeem(gateway, key, expiring)),
        _refusal(_redeem(gateway, key, _codes(gateway, disabled["id"])[0]["code"])),
        _refusal(_redeem(gateway, key, "2345-6789-ABCD-EFGH")),  # well formed, unknown
        _refusal(_redeem(gateway, key, "not a code")),
    ]
    assert all(answer == answers[0] for answer in answers), answers
    assert answers[0]["message"] == "This code is invalid, already used or expired."
    assert wallet(gateway, user) == (START, 0)
    gateway.op("POST", f"/redemption-batches/{disabled['id']}/enable")
    code = _codes(gateway, disabled["id"])[0]["code"]
    assert _redeem(gateway, key, code).status_code == 200
    assert wallet(gateway, user) == (START + 5_000_000, 0)


def test_a_multi_use_code_serves_each_user_once_up_to_its_maximum(gateway: Gateway) -> None:
    batch = _batch(gateway, amount="1", max_redemptions=2)
    code = _codes(gateway, batch["id"])[0]["code"]
    users = [_manager(gateway) for _ in range(3)]
    first, second, third = (_redeem(gateway, key, code) for _, key in users)
    assert (first.status_code, second.status_code) == (200, 200)
    _refusal(third)
    _refusal(_redeem(gateway, users[0][1], code))  # the same user again
    for (user, _), expected in zip(users, (1_000_000, 1_000_000, 0), strict=True):
        assert wallet(gateway, user) == (START + expected, 0)
    assert _codes(gateway, batch["id"])[0]["used"] == "2"


def test_twenty_concurrent_redemptions_of_a_single_use_code_credit_once(
    gateway: Gateway,
) -> None:
    code = _codes(gateway, _batch(gateway, amount="3")["id"])[0]["code"]
    users = [_manager(gateway) for _ in range(20)]

    async def race() -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=gateway.url, timeout=30) as http:
            return await asyncio.gather(
                *(
                    http.post(
                        "/api/v1/user/redeem",
                        json={"code": code},
                        headers={"Authorization": f"Bearer {key}"},
                    )
                    for _, key in users
                )
            )

    answers = asyncio.run(race())
    assert sorted(r.status_code for r in answers) == [200] + [400] * 19
    credited = [user for user, _ in users if wallet(gateway, user)[0] != START]
    assert len(credited) == 1
    assert wallet(gateway, credited[0]) == (START + 3_000_000, 0)


def test_a_package_code_grants_the_package(gateway: Gateway) -> None:
    kind = gateway.op(
        "POST",
        "/package-types",
        json={"name": f"pkg-{uuid.uuid4().hex[:8]}", "amount": "7", "validity_days": 10},
    )
    batch = _batch(gateway, package_type_id=kind["id"])
    assert batch["amount"] is None and batch["package_name"] == kind["name"]
    rows = _codes(gateway, batch["id"])
    assert rows[0]["value"] == kind["name"]
    user, key = _manager(gateway)
    done = _redeem(gateway, key, rows[0]["code"]).json()["data"]
    assert done["package_name"] == kind["name"]
    packages = gateway.op("GET", f"/users/{user}/packages")
    assert [(p["id"], p["remaining"], p["source"]) for p in packages] == [
        (done["package_id"], "7.000000", "redeem")
    ]
    data = books(gateway, user)
    assert data["packages"][str(done["package_id"])]["ledger_sum"] == 7_000_000
    assert wallet(gateway, user) == (START, 0)


def test_batches_are_checked(gateway: Gateway) -> None:
    for body, param in (
        ({"amount": "1", "package_type_id": 1}, None),
        ({}, None),
        ({"amount": "1", "expires_at": _later(days=-1)}, "expires_at"),
        ({"amount": "1", "quantity": 10_001}, "quantity"),
    ):
        full = {"name": "x", "expires_at": _later(days=1), **body}
        response = gateway.operator.post("/redemption-batches", json=full)
        assert response.status_code == 400, (body, response.text)
        if param:
            assert param in response.json()["message"], response.text
    assert gateway.operator.post("/redemption-batches/99999/disable").status_code == 404
    assert gateway.operator.get("/redemption-batches/99999/codes.csv").status_code == 404


def test_a_user_key_cannot_reach_the_operator_routes(gateway: Gateway) -> None:
    _, key = _manager(gateway)
    with gateway.http(key) as http:
        assert http.get("/api/v1/operator/redemption-batches").status_code in (401, 403)


def test_guessing_is_throttled_per_user_and_per_ip(
    gateway_factory: Callable[..., Gateway],
) -> None:
    gw = gateway_factory(
        redeem_per_user_per_minute=3, redeem_per_user_per_hour=0, redeem_per_ip_per_minute=5
    )
    code = _codes(gw, _batch(gw, amount="1")["id"])[0]["code"]
    user, key = _manager(gw)
    wrong = [_redeem(gw, key, f"2345-6789-ABCD-EFG{c}") for c in "HJK"]
    assert len({r.text for r in wrong}) == 1 and wrong[0].status_code == 400
    throttled = _redeem(gw, key, code)  # the right code, after the limit: refused too
    assert throttled.status_code == 429, throttled.text
    assert int(throttled.headers["retry-after"]) >= 1
    assert wallet(gw, user) == (START, 0)
    other, other_key = _manager(gw)  # a fresh user from the same IP: 2 left of its 5
    assert [_redeem(gw, other_key, "2345-6789-ABCD-EFGM").status_code for _ in range(2)] == [
        400,
        400,
    ]
    assert _redeem(gw, other_key, code).status_code == 429
    assert wallet(gw, other) == (START, 0)
