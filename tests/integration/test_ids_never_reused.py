"""Ids are never handed out twice (issue 11): a new key must not inherit a deleted key's
bills, on SQLite (AUTOINCREMENT, migration 0012) and PostgreSQL (sequences).

Users and packages have no delete route; the tests delete them in the database, as an
operator cleaning up by hand would.
"""

from __future__ import annotations

import sqlite3
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import text

from relaygate.db.engine import Database
from relaygate.db.migrate import upgrade
from tests.harness import Gateway, run_sync, start_gateway

ECHO = "relaygate-echo"


@dataclass(frozen=True)
class _Nowhere:
    """An upstream never called: the channel tests only create and delete channels."""

    base_url: str = "http://127.0.0.1:9/v1"


_NOWHERE = _Nowhere()


def _sql(gw: Gateway, statement: str, **params: Any) -> None:
    async def go() -> None:
        db = Database(gw.db_url)
        try:
            async with db.engine.begin() as connection:
                await connection.execute(text(statement), params)
        finally:
            await db.dispose()

    run_sync(go())


def _platform(gw: Gateway, manager: str, route: str, **form: str) -> dict[str, Any]:
    with gw.http(manager) as client:
        response = client.post(f"/api/v1/user/admin/{route}", data=form)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_a_new_key_never_gets_a_deleted_keys_id_or_bills(gateway: Gateway) -> None:
    manager = gateway.make_user_key(is_admin=True)
    first = gateway.make_user_key(user_id=manager.user_id)
    newest = gateway.make_user_key(user_id=manager.user_id)
    gateway.openai(newest.key).chat.completions.create(
        model=ECHO, messages=[{"role": "user", "content": "hi"}]
    )
    gateway.wait_for_records(key_id=newest.id)
    _platform(gateway, manager.key, "del-api-token", key=newest.key)

    created = gateway.make_user_key(user_id=manager.user_id)

    assert created.id not in (first.id, newest.id)
    assert created.id > newest.id
    with gateway.http(manager.key) as client:
        bills = client.get("/api/v1/user/bills", params={"key": created.key}).json()["data"]
    assert bills == []


def test_a_new_channel_never_gets_a_deleted_channels_id(gateway: Gateway) -> None:
    first = gateway.add_channel(_NOWHERE)
    newest = gateway.add_channel(_NOWHERE)
    gateway.op("DELETE", f"/channels/{newest['id']}")

    created = gateway.add_channel(_NOWHERE)

    assert created["id"] not in (first["id"], newest["id"])
    assert created["id"] > newest["id"]
    gateway.op("DELETE", f"/channels/{first['id']}")
    gateway.op("DELETE", f"/channels/{created['id']}")


def test_a_new_user_never_gets_a_deleted_users_id(gateway: Gateway) -> None:
    first = gateway.create_user()
    newest = gateway.create_user()
    _sql(gateway, "DELETE FROM users WHERE id = :id", id=newest["id"])

    created = gateway.create_user()

    assert created["id"] not in (first["id"], newest["id"])
    assert created["id"] > newest["id"]


def test_a_new_package_never_gets_a_deleted_packages_id(gateway: Gateway) -> None:
    kind = gateway.op(
        "POST", "/package-types", json={"name": f"ids-{uuid.uuid4().hex[:8]}", "amount": "1"}
    )
    user = gateway.create_user()
    path = f"/users/{user['id']}/packages"
    first = gateway.op("POST", path, json={"type_id": kind["id"]})
    newest = gateway.op("POST", path, json={"type_id": kind["id"]})
    _sql(gateway, "DELETE FROM packages WHERE id = :id", id=newest["id"])

    created = gateway.op("POST", path, json={"type_id": kind["id"]})

    assert created["id"] not in (first["id"], newest["id"])
    assert created["id"] > newest["id"]


# ---------------------------------------------------------------- migration 0012

_NOW = "2026-01-01 00:00:00"


def _insert_user(db: sqlite3.Connection, user_id: int) -> None:
    db.execute(
        'INSERT INTO users (id, email, name, is_operator, is_disabled, created_at, "group") '
        "VALUES (?, ?, '', 0, 0, ?, '')",
        (user_id, f"u{user_id}@example.test", _NOW),
    )


def _insert_key(db: sqlite3.Connection, key_id: int | None, user_id: int) -> int:
    cursor = db.execute(
        "INSERT INTO api_keys (id, user_id, key_hash, hint, remark, is_disabled, is_admin, "
        "max_fee, used_fee, used_times, created_at) VALUES (?, ?, ?, 'sk-…', '', 0, 0, 0, 0, 0, ?)",
        (key_id, user_id, uuid.uuid4().hex, _NOW),
    )
    assert cursor.lastrowid is not None
    return cursor.lastrowid


def _insert_bill(db: sqlite3.Connection, user_id: int, key_id: int, channel_id: int) -> None:
    db.execute(
        "INSERT INTO usage_records (request_id, created_at, user_id, key_id, model, "
        "upstream_model, channel_id, endpoint, status, stream, prompt_tokens, "
        "completion_tokens, cached_tokens, reasoning_tokens, usage_estimated, rurt_ms, "
        "duration_ms, client_ip) VALUES (?, ?, ?, ?, 'm', 'm', ?, 'chat/completions', 200, "
        "0, 0, 0, 0, 0, 0, 0, 0, '')",
        (uuid.uuid4().hex, _NOW, user_id, key_id, channel_id),
    )


def _connect(path: Path) -> sqlite3.Connection:
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA foreign_keys=ON")
    return db


def test_migration_0012_stops_reuse_in_an_existing_sqlite_database(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    upgrade(f"sqlite:///{path}", "0011")
    db = _connect(path)
    for user_id in (1, 2):
        _insert_user(db, user_id)
    _insert_key(db, 1, 1)
    _insert_key(db, 2, 2)
    _insert_key(db, 3, 2)
    _insert_bill(db, 2, 3, 7)  # key 3 and channel 7 were used...
    _insert_bill(db, 2, 5, 7)  # ... and so was key 5, deleted long ago
    db.execute("DELETE FROM api_keys WHERE id = 3")  # the newest key, deleted before 0012
    db.close()

    upgrade(f"sqlite:///{path}")

    db = _connect(path)
    assert db.execute("SELECT id, user_id FROM api_keys ORDER BY id").fetchall() == [(1, 1), (2, 2)]
    assert _insert_key(db, None, 1) == 6  # above key 5, which bills still name
    db.execute("DELETE FROM api_keys WHERE id = 6")
    assert _insert_key(db, None, 1) == 7
    _insert_user(db, 3)
    db.execute("DELETE FROM users WHERE id = 3")
    db.execute(
        "INSERT INTO users (email, name, is_operator, is_disabled, created_at) "
        "VALUES ('new@example.test', '', 0, 0, ?)",
        (_NOW,),
    )
    assert db.execute("SELECT MAX(id) FROM users").fetchone() == (4,)
    # foreign keys and indexes survived the rebuild: deleting a user still removes its keys
    db.execute("DELETE FROM users WHERE id = 2")
    assert db.execute("SELECT COUNT(*) FROM api_keys WHERE user_id = 2").fetchone() == (0,)
    indexes = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type='index'")}
    assert {"ix_api_keys_user_id", "ix_packages_user_id"} <= indexes
    assert db.execute("PRAGMA foreign_key_check").fetchall() == []
    db.close()


def test_the_gateway_serves_after_migrating_an_old_database(tmp_path: Path) -> None:
    """A database left at 0011 with a deleted newest channel starts and never reuses it."""
    path = tmp_path / "gw.db"
    upgrade(f"sqlite:///{path}", "0011")
    db = _connect(path)
    _insert_bill(db, 1, 1, 40)  # channel 40 existed once
    db.close()
    gw = start_gateway(f"sqlite:///{path}")
    try:
        assert gw.add_channel(_NOWHERE)["id"] > 40
        assert httpx.get(gw.url + "/healthz").status_code == 200
    finally:
        gw.stop()
