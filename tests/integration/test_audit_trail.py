"""The audit trail: every change made through the operator API is a line, written by
the service that makes the change, naming who acted; secrets never reach it; the trail
pages newest first (SQLite and PostgreSQL)."""

from __future__ import annotations

import uuid
from typing import Any

from relaygate.accounts.audit import SECRET, AuditLine, AuditTrail
from relaygate.db.engine import Database
from tests.fakes.openai_upstream import FakeOpenAI
from tests.harness import Gateway, run_sync


def _lines(gw: Gateway, user_id: int | None) -> list[AuditLine]:
    async def read() -> list[AuditLine]:
        db = Database(gw.db_url)
        try:
            trail, lines, after = AuditTrail(db), [], None
            while True:
                if user_id is None:
                    page = await trail.list_all(limit=3, after=after)
                else:
                    page = await trail.list_for(user_id, limit=3, after=after)
                lines += page.lines
                if page.next is None or user_id is None:
                    return lines
                after = page.next
        finally:
            await db.dispose()

    return run_sync(read())


def test_changes_through_the_api_are_audited(gateway: Gateway, fake: FakeOpenAI) -> None:
    user_id = int(gateway.create_user()["id"])
    key = gateway.op("POST", f"/users/{user_id}/keys", json={"remark": "ci"})
    gateway.op("PATCH", f"/keys/{key['id']}", json={"is_disabled": True})
    gateway.op("POST", f"/users/{user_id}/credit", json={"amount": "5", "memo": "refund #12"})
    gateway.op("POST", f"/users/{user_id}/credit", json={"amount": "-1", "kind": "adjustment"})
    type_body = {"name": f"audit-{uuid.uuid4().hex[:8]}", "amount": "1"}
    type_id = gateway.op("POST", "/package-types", json=type_body)["id"]
    gateway.op("POST", f"/users/{user_id}/packages", json={"type_id": type_id})
    gateway.op("PATCH", f"/users/{user_id}", json={"group": "gold"})
    gateway.op("PATCH", f"/users/{user_id}", json={"is_disabled": True})
    operator_id = gateway.op("GET", "/users", params={"limit": 1})[0]["id"]

    lines = _lines(gateway, user_id)
    actions = [line.action for line in reversed(lines)]  # oldest first
    assert actions == [
        "user.create", "key.create", "key.disable", "balance.topup", "balance.adjustment",
        "package.grant", "user.group", "user.disable",
    ]  # fmt: skip
    assert {line.actor_id for line in lines} == {operator_id}
    by_action: dict[str, Any] = {line.action: line.detail for line in lines}
    assert by_action["balance.topup"] == {"amount": 5_000_000, "memo": "refund #12"}
    assert by_action["balance.adjustment"]["amount"] == -1_000_000
    assert by_action["key.disable"] == {"key_id": key["id"], "is_disabled": True}
    assert by_action["user.group"] == {"group": "gold"}
    assert key["key"] not in repr(lines)  # the key itself is never stored
    ids = [line.id for line in lines]
    assert ids == sorted(ids, reverse=True) and len(set(ids)) == len(ids)


def test_channel_and_price_changes_are_audited_without_secrets(
    gateway: Gateway, fake: FakeOpenAI
) -> None:
    channel = gateway.add_channel(fake, headers={"x-upstream-secret": "s3cr3t"})
    gateway.op("PATCH", f"/channels/{channel['id']}", json={"api_key": "sk-rotated-123"})
    model = f"audited-{uuid.uuid4().hex[:8]}"
    gateway.op("PUT", f"/models/{model}", json={"input": "1.00"})
    latest = _lines(gateway, None)
    recent = {line.action: line for line in latest}
    assert set(recent) == {"channel.create", "channel.edit", "price.edit"}
    text = repr(_lines(gateway, None)) + repr(recent)
    assert "sk-rotated-123" not in text and channel["_api_key"] not in text
    assert "s3cr3t" not in text
    assert recent["channel.edit"].detail["api_key"] == SECRET
    assert recent["price.edit"].detail["model"] == model
    assert recent["channel.create"].subject_user_id is None
