"""A user's bill over HTTP: the platform's columns, filters, and the CSV export."""

from __future__ import annotations

import csv
import io
import uuid
from decimal import Decimal
from typing import Any

import httpx

from tests.fakes.openai_payloads import Behaviour
from tests.fakes.openai_upstream import FakeOpenAI
from tests.harness import Gateway
from tests.integration.test_money import chat, priced_model, record_of


def test_bills_list_filter_and_export(gateway: Gateway, fake: FakeOpenAI) -> None:
    model = priced_model(gateway, fake, input="2.00", output="8.00")
    other = priced_model(gateway, fake, input="1.00", output="1.00")
    fake.default = Behaviour(prompt_tokens=1000, completion_tokens=500)
    key = gateway.make_user_key()
    second = gateway.make_user_key(user_id=key.user_id)
    manager = gateway.make_user_key(user_id=key.user_id, is_admin=True)
    first_id = record_of(gateway, chat(gateway, key.key, model))["request_id"]
    record_of(gateway, chat(gateway, second.key, other, stream=True))
    auth = {"Authorization": f"Bearer {manager.key}"}
    with gateway.http() as http:
        everything = http.get("/api/v1/user/bills", headers=auth).json()["data"]
        by_key = http.get("/api/v1/user/bills", params={"key": key.key}, headers=auth).json()
        by_model = http.get("/api/v1/user/bills", params={"model": other}, headers=auth).json()
        exported = http.get("/api/v1/user/bills", params={"format": "csv"}, headers=auth)
        refused = http.get("/api/v1/user/bills", headers={"Authorization": f"Bearer {key.key}"})
        stranger = gateway.make_user_key(is_admin=True)
        none = http.get(
            "/api/v1/user/bills", headers={"Authorization": f"Bearer {stranger.key}"}
        ).json()["data"]
    assert len(everything) == 2
    [mine] = by_key["data"]
    assert mine["requestId"] == first_id
    assert (mine["promptTokens"], mine["completionTokens"]) == (1000, 500)
    assert mine["amount"] == "0.006000" and mine["Free"] is False
    assert isinstance(mine["RURT"], int) and float(mine["TPS"]) >= 0
    assert [b["model"] for b in by_model["data"]] == [other]
    assert exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert {r["requestId"] for r in rows} == {b["requestId"] for b in everything}
    assert {"promptTokens", "completionTokens", "RURT", "TPS", "Free", "amount"} <= set(rows[0])
    assert refused.status_code == 403
    assert none == []  # another user's bill is never visible


def _bills(gateway: Gateway, manager: str, **params: Any) -> httpx.Response:
    with gateway.http() as http:
        auth = {"Authorization": f"Bearer {manager}"}
        return http.get("/api/v1/user/bills", params=params, headers=auth)


def test_bill_lines_say_how_each_call_was_priced(gateway: Gateway, fake: FakeOpenAI) -> None:
    """Route group, each multiplier, whether a package paid, and the key's remark: in the
    JSON and the CSV, for a call on /v1 (model multiplier, then flex too) and one on the
    Claude Code route group (its multiplier; a package scoped to it pays)."""
    model = priced_model(gateway, fake, input="2.00", output="8.00", multiplier="0.5", flex=True)
    fake.default = Behaviour(prompt_tokens=1000, completion_tokens=500)  # official 0.006
    owner = gateway.make_user_key()
    remark = 'laptop, "home"'
    key = gateway.make_user_key(user_id=owner.user_id, remark=remark)
    manager = gateway.make_user_key(user_id=owner.user_id, is_admin=True)
    kind = gateway.op(
        "POST",
        "/package-types",
        json={"name": f"cc-{uuid.uuid4().hex[:8]}", "amount": "20", "scope_routes": ["cc-omg"]},
    )
    gateway.op("POST", f"/users/{owner.user_id}/packages", json={"type_id": kind["id"]})
    plain = record_of(gateway, chat(gateway, key.key, model))["request_id"]
    flex = record_of(gateway, chat(gateway, key.key, model, service_tier="flex"))["request_id"]
    with gateway.http(key.key) as http:
        routed = http.post(
            "/api/v1/ai/openai/cc-omg/v1/chat/completions",
            json={"model": model, "messages": [{"role": "user", "content": "hi"}]},
        )
    assert routed.status_code == 200, routed.text
    grouped = record_of(gateway, routed)["request_id"]
    route_rate = gateway.settings.route_multipliers["cc-omg"]

    body = _bills(gateway, manager.key, key=key.key).json()
    lines = {line["requestId"]: line for line in body["data"]}
    assert set(lines) == {plain, flex, grouped}
    expected = {
        plain: ("", "0.5", "1", "1", False, "0.003000"),
        flex: ("", "0.5", "1", "0.5", False, "0.001500"),
        grouped: ("cc-omg", "0.5", str(route_rate.normalize()), "1", True, "0.000000"),
    }
    for rid, (group, model_rate, route, tier, package, amount) in expected.items():
        line = lines[rid]
        assert line["routeGroup"] == group, line
        assert (line["modelMultiplier"], line["routeMultiplier"]) == (model_rate, route), line
        assert (line["tierMultiplier"], line["groupMultiplier"]) == (tier, "1"), line
        assert line["packagePaid"] is package and line["amount"] == amount, line
        assert line["keyRemark"] == remark
    assert Decimal(lines[grouped]["routeMultiplier"]) == route_rate == Decimal("0.2")
    assert lines[grouped]["packageAmount"] == "0.006000"

    exported = _bills(gateway, manager.key, key=key.key, format="csv")
    rows = {row["requestId"]: row for row in csv.DictReader(io.StringIO(exported.text))}
    for rid, line in lines.items():
        row = rows[rid]
        for column in ("routeGroup", "modelMultiplier", "routeMultiplier", "tierMultiplier"):
            assert row[column] == line[column], (column, row)
        assert row["keyRemark"] == remark
        for column in ("stream", "Free", "packagePaid"):
            assert row[column] == ("true" if line[column] else "false"), (column, row)
    assert rows[grouped]["packagePaid"] == "true" and rows[plain]["packagePaid"] == "false"
    assert "True" not in exported.text and "False" not in exported.text


def test_bill_csv_booleans_are_lowercase(gateway: Gateway, fake: FakeOpenAI) -> None:
    model = priced_model(gateway, fake, input="1.00", output="1.00")
    key = gateway.make_user_key()
    manager = gateway.make_user_key(user_id=key.user_id, is_admin=True)
    record_of(gateway, chat(gateway, key.key, model, stream=True))
    gateway.credit(key.user_id, "1", "free_grant")
    record_of(gateway, chat(gateway, key.key, model))
    exported = _bills(gateway, manager.key, format="csv")
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert len(rows) == 2
    assert {r["stream"] for r in rows} == {"true", "false"}
    assert {r["Free"] for r in rows} <= {"true", "false"}
    assert all(r["keyRemark"] == "" for r in rows)
