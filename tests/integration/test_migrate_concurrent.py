"""Replicas that start together on one PostgreSQL database: each runs the migration step
the server runs at start (``upgrade_in_subprocess``, a ``relaygate migrate`` child), the
advisory lock lets one migrate while the others wait, and every one of them succeeds;
whole ``relaygate serve`` processes started together all come up (the declared operator
written once, under its own lock: db/locks.py)."""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest

from relaygate.db.engine import Database
from relaygate.db.health import DatabaseProbe, head_revisions
from relaygate.db.migrate import upgrade_in_subprocess
from tests.harness import ADMIN_KEY, create_pg_database, drop_pg_database
from tests.served import Served

REPLICAS = 3


@pytest.fixture
def fresh_pg() -> Iterator[str]:
    url = create_pg_database()
    yield url
    drop_pg_database(url)


async def test_three_replicas_migrate_a_fresh_database_at_once(fresh_pg: str) -> None:
    results = await asyncio.gather(
        *(upgrade_in_subprocess(fresh_pg) for _ in range(REPLICAS)), return_exceptions=True
    )
    assert results == [None] * REPLICAS, results  # no "relation already exists" in any
    conn = await asyncpg.connect(fresh_pg)
    try:
        versions = [r["version_num"] for r in await conn.fetch("SELECT * FROM alembic_version")]
        locks = await conn.fetchval("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'")
    finally:
        await conn.close()
    assert set(versions) == head_revisions() and len(versions) == 1
    assert locks == 0  # every run gave its lock back
    db = Database(fresh_pg)
    try:
        assert (await DatabaseProbe(db).check(5)).ok
    finally:
        await db.dispose()


async def test_the_probe_says_when_the_database_is_behind(fresh_pg: str) -> None:
    db = Database(fresh_pg)
    try:
        empty = await DatabaseProbe(db).check(5)  # no alembic_version table at all
        assert not empty.ok
        await upgrade_in_subprocess(fresh_pg)
        assert not (await DatabaseProbe(db, frozenset({"9999"})).check(5)).ok
    finally:
        await db.dispose()


def test_three_servers_start_together_on_a_fresh_database(fresh_pg: str, tmp_path: Path) -> None:
    env = {
        "RELAYGATE_KV_URL": "redis://127.0.0.1:6379/0",
        "RELAYGATE_KV_PREFIX": f"{uuid.uuid4().hex}:",
    }
    started: dict[int, Served | BaseException] = {}

    def start(index: int) -> None:
        try:
            started[index] = Served(fresh_pg, tmp_path / f"replica{index}.log", env)
        except BaseException as exc:  # noqa: BLE001 - reported below
            started[index] = exc

    threads = [threading.Thread(target=start, args=(i,)) for i in range(REPLICAS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(180)
    servers = [s for s in started.values() if isinstance(s, Served)]
    try:
        assert len(servers) == REPLICAS, started
        printed = [ADMIN_KEY in s.output() for s in servers]  # by the one that created it
        assert printed.count(True) == 1, printed
    finally:
        for server in servers:
            server.terminate()

    async def operators() -> int:
        conn = await asyncpg.connect(fresh_pg)
        try:
            return int(await conn.fetchval("SELECT count(*) FROM users WHERE is_operator"))
        finally:
            await conn.close()

    assert asyncio.run(operators()) == 1
