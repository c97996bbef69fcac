"""PostgreSQL session advisory locks that serialise what replicas do once at start.

Replicas started together (a compose file's ``replicas: 3``, a Deployment's rollout) each
run the migrations and then write the declared operator, channels and prices. Both are
"look, then insert" on shared tables: side by side, one replica's insert fails on the
other's unique row and its start fails. Holding a lock with a fixed number around each
step queues them: the first does the work, the next ones find it done. SQLite serves one
process (its own file lock covers the rest), so there these are no-ops.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import text

from relaygate.db.engine import Database

__all__ = ["MIGRATION_LOCK", "STARTUP_LOCK", "advisory_lock"]

# One number each for every replica of every version ("relaygat", "relaygas" in ASCII).
MIGRATION_LOCK = 0x72656C6179676174  # db/migrations/env.py: around `alembic upgrade`
STARTUP_LOCK = 0x72656C6179676173  # build.py: around the declared operator, channels, prices


@asynccontextmanager
async def advisory_lock(db: Database, key: int) -> AsyncIterator[None]:
    """Hold the session lock ``key`` for the block (waiting for it first), on a
    connection of its own; PostgreSQL only."""
    if db.is_sqlite:
        yield
        return
    async with db.engine.connect() as connection:
        await connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": key})
        await connection.commit()
        try:
            yield
        finally:
            await connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": key})
            await connection.commit()
