"""Alembic environment: runs migrations over the same async driver the gateway uses.

On SQLite, foreign keys are switched off for the run: a batch migration rebuilds a table
by copying it, dropping the original and renaming the copy, and with foreign keys on,
dropping a referenced table (``users``) would cascade-delete every row that points to it.
The pragma is a no-op inside a transaction, so it is set before the transaction begins;
before the transaction commits, ``PRAGMA foreign_key_check`` proves no reference broke.

On PostgreSQL the run holds a session advisory lock (``MIGRATION_LOCK``) from before it
reads the database's version until after its transaction commits: replicas that start
together queue on it, the first migrates, and each one after finds the head already
there and does nothing (docs/deploy.md). SQLite serves one process; its file lock is enough.
"""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy.engine import Connection

from relaygate.db.engine import Database
from relaygate.db.locks import MIGRATION_LOCK


def _check_foreign_keys(connection: Connection) -> None:
    broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
    if broken:
        raise RuntimeError(f"a migration broke foreign keys: {broken[:5]}")


def _run(connection: Connection) -> None:
    sqlite = connection.dialect.name == "sqlite"
    if sqlite:
        connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
        connection.commit()
    context.configure(connection=connection, render_as_batch=sqlite, compare_type=True)
    with context.begin_transaction():
        context.run_migrations()
        if sqlite:
            _check_foreign_keys(connection)


def _advisory(connection: Connection, call: str) -> None:
    """Take or give back the migration lock (PostgreSQL only), outside any transaction."""
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql(f"SELECT {call}({MIGRATION_LOCK})")
        connection.commit()


async def _main() -> None:
    database = Database(context.config.attributes["database_url"])
    async with database.engine.connect() as connection:
        await connection.run_sync(_advisory, "pg_advisory_lock")  # waits for another replica
        try:
            await connection.run_sync(_run)
            await connection.commit()
        finally:
            await connection.rollback()  # a failed run's transaction, so the unlock can run
            await connection.run_sync(_advisory, "pg_advisory_unlock")
    await database.dispose()


asyncio.run(_main())
