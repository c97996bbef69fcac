"""Replicas that start together on one PostgreSQL database: each runs the migration step
the server runs at start (``upgrade_in_subprocess``, a ``relaygate migrate`` child), the
advisory lock lets one migrate while the others wait, and every one of them succeeds."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import asyncpg
import pytest

from relaygate.db.engine import Database
from relaygate.db.health import DatabaseProbe, head_revisions
from relaygate.db.migrate import upgrade_in_subprocess
from tests.harness import create_pg_database, drop_pg_database

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
