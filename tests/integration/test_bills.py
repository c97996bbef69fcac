"""A user's bill over HTTP: the platform's columns, filters, and the CSV export."""

from __future__ import annotations

import csv
import io

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
