"""Bad input is a 400 naming the field (or a 404), never a 500: numbers past what a
database column holds, ``null`` for a field that cannot be empty, amounts no column can
hold. Each case here was a 500 found by the fuzz run of issue 11; they run on SQLite and
on PostgreSQL, whose INTEGER ids overflow at 2**31 where SQLite's overflow at 2**63."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.harness import Gateway

HUGE = "100000000000000000000"  # past 64 bits
PAST_INT32 = "4294967296"  # fits SQLite's INTEGER, not PostgreSQL's


def _refused(response: httpx.Response, field: str) -> dict[str, Any]:
    """A 400 in the platform envelope whose message names ``field``."""
    assert response.status_code == 400, (response.status_code, response.text)
    body: dict[str, Any] = response.json()
    assert body["statusCode"] == 400 and body["data"] is None, body
    assert body["errorType"] == "invalid_request_error", body
    assert field in body["message"], body
    return body


@pytest.mark.parametrize("number", [HUGE, PAST_INT32, "0", "-1"])
@pytest.mark.parametrize(
    ("method", "path", "field"),
    [
        ("GET", "/users/{}", "user_id"),
        ("GET", "/users/{}/keys", "user_id"),
        ("GET", "/users/{}/packages", "user_id"),
        ("GET", "/users/{}/balance", "user_id"),
        ("GET", "/users/{}/ledger", "user_id"),
        ("GET", "/channels/{}", "channel_id"),
        ("DELETE", "/channels/{}", "channel_id"),
    ],
)
def test_an_id_no_row_can_have_is_a_400_naming_it(
    gateway: Gateway, method: str, path: str, field: str, number: str
) -> None:
    _refused(gateway.operator.request(method, path.format(number)), field)


def test_an_id_in_a_body_or_a_query_is_bounded_too(gateway: Gateway) -> None:
    user = gateway.create_user()
    grant = gateway.operator.post(f"/users/{user['id']}/packages", json={"type_id": int(HUGE)})
    _refused(grant, "type_id")
    _refused(gateway.operator.patch(f"/keys/{PAST_INT32}", json={"remark": "x"}), "key_id")
    _refused(gateway.operator.get("/usage", params={"user_id": HUGE}), "user_id")


def test_an_offset_past_64_bits_is_a_400(gateway: Gateway) -> None:
    _refused(gateway.operator.get("/users", params={"offset": "99999999999999999999"}), "offset")
    key = gateway.make_user_key(is_admin=True)
    with gateway.http(key.key) as client:
        bills = client.get("/api/v1/user/bills", params={"offset": "99999999999999999999"})
    _refused(bills, "offset")


@pytest.mark.parametrize("max_fee", ["1e30", "Infinity", "NaN", "-1", "0.0000001", "ten"])
def test_a_max_fee_no_column_can_hold_is_a_400(gateway: Gateway, max_fee: str) -> None:
    key = gateway.make_user_key(is_admin=True)
    form = {"expired_at": "", "max_fee": max_fee}
    with gateway.http(key.key) as client:
        _refused(client.post("/api/v1/user/admin/new-api-token", data=form), "max_fee")


def test_an_operator_max_fee_past_64_bits_is_a_400(gateway: Gateway) -> None:
    user = gateway.create_user()
    body = {"max_fee": 10**20}
    _refused(gateway.operator.post(f"/users/{user['id']}/keys", json=body), "max_fee")
    key = gateway.make_user_key(user_id=int(user["id"]))
    _refused(gateway.operator.patch(f"/keys/{key.id}", json=body), "max_fee")


@pytest.mark.parametrize("field", ["remark", "is_disabled", "max_fee"])
def test_null_for_a_key_field_that_cannot_be_empty_is_a_400(gateway: Gateway, field: str) -> None:
    key = gateway.make_user_key()
    _refused(gateway.operator.patch(f"/keys/{key.id}", json={field: None}), field)


def test_null_where_it_means_something_is_accepted(gateway: Gateway) -> None:
    """``expired_at: null`` is "never expires", ``permissions: null`` "every model"."""
    key = gateway.make_user_key(["gpt-4o"], expired_at="2099-01-01T00:00:00Z", rpm_limit=5)
    changes = {"expired_at": None, "permissions": None, "rpm_limit": None}
    row = gateway.op("PATCH", f"/keys/{key.id}", json=changes)
    assert (row["expired_at"], row["permissions"], row["rpm_limit"]) == (None, None, None)
    assert gateway.op("PATCH", f"/keys/{key.id}", json={})["remark"] == row["remark"]


@pytest.mark.parametrize("field", ["name", "group", "is_disabled"])
def test_null_for_a_user_field_is_a_400(gateway: Gateway, field: str) -> None:
    user = gateway.create_user()
    _refused(gateway.operator.patch(f"/users/{user['id']}", json={field: None}), field)


@pytest.mark.parametrize("field", ["name", "api_key", "models", "priority", "enabled", "options"])
def test_null_for_a_channel_field_is_a_400(gateway: Gateway, field: str) -> None:
    channel = gateway.op(
        "POST", "/channels", json={"name": f"null-{field}-{id(gateway)}", "type": "echo"}
    )
    _refused(gateway.operator.patch(f"/channels/{channel['id']}", json={field: None}), field)
    gateway.op("DELETE", f"/channels/{channel['id']}")


def test_a_channel_priority_past_32_bits_is_a_400(gateway: Gateway) -> None:
    body = {"name": f"prio-{id(gateway)}", "type": "echo", "priority": 2**31}
    _refused(gateway.operator.post("/channels", json=body), "priority")


def test_a_time_with_no_utc_equivalent_is_a_400(gateway: Gateway) -> None:
    user = gateway.create_user()
    early = "0001-01-01T00:00:00+01:00"
    refused = gateway.operator.post(f"/users/{user['id']}/keys", json={"expired_at": early})
    _refused(refused, "expired_at")
    key = gateway.make_user_key(is_admin=True)
    form = {"expired_at": early, "max_fee": "1"}
    with gateway.http(key.key) as client:
        _refused(client.post("/api/v1/user/admin/new-api-token", data=form), "expired_at")


def test_a_stream_position_past_32_bits_is_an_openai_400(gateway: Gateway) -> None:
    key = gateway.make_user_key()
    with gateway.http(key.key) as client:
        answer = client.get(
            "/v1/responses/resp_x", params={"stream": "true", "starting_after": HUGE}
        )
    assert answer.status_code == 400, answer.text
    error = answer.json()["error"]
    assert error["param"] == "starting_after" and error["type"] == "invalid_request_error"


def test_the_operator_cannot_lock_themselves_out(gateway: Gateway) -> None:
    """The key a request is made with cannot be disabled or expired by that request, nor
    its user disabled (the CLI would be the only way back in); another key can."""
    me = gateway.op("GET", "/users", params={"limit": 1})[0]
    my_key = next(k for k in gateway.op("GET", f"/users/{me['id']}/keys") if k["is_admin"])
    for change in ({"is_disabled": True}, {"expired_at": "2000-01-01T00:00:00Z"}):
        refused = gateway.operator.patch(f"/keys/{my_key['id']}", json=change)
        assert refused.status_code == 409, refused.text
        assert refused.json()["errorType"] == "invalid_request_error"
    refused = gateway.operator.patch(f"/users/{me['id']}", json={"is_disabled": True})
    assert refused.status_code == 409, refused.text
    assert gateway.op("PATCH", f"/keys/{my_key['id']}", json={"remark": "mine"})["remark"] == "mine"
    assert gateway.op("GET", f"/users/{me['id']}")["is_disabled"] is False


def test_a_missing_body_is_named(gateway: Gateway) -> None:
    body = _refused(gateway.operator.post("/users"), "body")
    assert body["message"].startswith("body:"), body
