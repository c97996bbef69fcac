"""Ids are never reused: users, API keys, channels, packages and package types get
SQLite's ``AUTOINCREMENT``.

Without it SQLite hands out ``max(rowid) + 1``, so deleting the newest key and creating
another gave the new key the old one's id, and with it the old key's bills. SQLite can add
``AUTOINCREMENT`` only by rebuilding a table, so each is rebuilt (batch mode,
``recreate="always"``; data, indexes and foreign keys kept). The sequence is then seeded
above every id the table ever handed out that is still referenced somewhere: a row deleted
before this migration may have had a higher id than any row left, and its bills and
ledger entries still carry that id.

The rebuild drops and renames tables that other tables reference, so it needs
``PRAGMA foreign_keys=OFF`` (set by migrations/env.py before the transaction; checked
here, since with it on, dropping ``users`` would cascade-delete every user's rows).

PostgreSQL sequences never hand out a value twice: nothing to do there.

Revision ID: 0012
Revises: 0011
"""

from dataclasses import dataclass

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


@dataclass(frozen=True)
class _Table:
    name: str
    # (table, column) pairs that hold this table's ids without a foreign key
    referenced_by: tuple[tuple[str, str], ...]


# parents before children does not matter with foreign keys off; referencing tables are
# read before any rebuild, so the order below is only for readability
TABLES = (
    _Table("users", (("usage_records", "user_id"), ("ledger_entries", "user_id"))),
    _Table("api_keys", (("usage_records", "key_id"),)),
    _Table("channels", (("usage_records", "channel_id"),)),
    _Table("package_types", (("packages", "type_id"),)),
    _Table("packages", (("ledger_entries", "package_id"),)),
)


def _highest_id(connection: sa.Connection, table: _Table) -> int:
    """The highest id the table holds or any bill, ledger entry or package refers to."""
    sources = [(table.name, "id"), *table.referenced_by]
    found = [
        connection.execute(sa.text(f'SELECT MAX("{column}") FROM "{name}"')).scalar()
        for name, column in sources
    ]
    return max((int(value) for value in found if value is not None), default=0)


def _seed(connection: sa.Connection, name: str, highest: int) -> None:
    connection.execute(sa.text("DELETE FROM sqlite_sequence WHERE name = :n"), {"n": name})
    connection.execute(
        sa.text("INSERT INTO sqlite_sequence (name, seq) VALUES (:n, :s)"),
        {"n": name, "s": highest},
    )


def upgrade() -> None:
    connection = op.get_bind()
    if connection.dialect.name != "sqlite":
        return
    if connection.execute(sa.text("PRAGMA foreign_keys")).scalar():
        raise RuntimeError("migration 0012 rebuilds tables: run it with foreign keys off")
    highest = {table.name: _highest_id(connection, table) for table in TABLES}
    for table in TABLES:
        with op.batch_alter_table(
            table.name, recreate="always", table_kwargs={"sqlite_autoincrement": True}
        ):
            pass
        _seed(connection, table.name, highest[table.name])


def downgrade() -> None:
    connection = op.get_bind()
    if connection.dialect.name != "sqlite":
        return
    if connection.execute(sa.text("PRAGMA foreign_keys")).scalar():
        raise RuntimeError("migration 0012 rebuilds tables: run it with foreign keys off")
    for table in reversed(TABLES):
        with op.batch_alter_table(
            table.name, recreate="always", table_kwargs={"sqlite_autoincrement": False}
        ):
            pass
        connection.execute(
            sa.text("DELETE FROM sqlite_sequence WHERE name = :n"), {"n": table.name}
        )
