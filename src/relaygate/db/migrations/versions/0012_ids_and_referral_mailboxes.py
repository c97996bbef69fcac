"""Ids are never reused (users, API keys, channels, packages and package types get
SQLite's ``AUTOINCREMENT``), and a mailbox earns one referral reward (``referrals.mailbox``).

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

PostgreSQL sequences never hand out a value twice: the id part does nothing there.

``referrals.mailbox`` (unique, null unless the referral paid) holds the invitee's mailbox,
so address variants (``b.o.b+2@gmail.com``, ``BOB@googlemail.com``) cannot be rewarded
twice (docs/signup-referral.md). Existing rewarded referrals are backfilled, oldest first;
a mailbox already rewarded more than once keeps its first row's mark only.

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


def _mailbox(email: str) -> str:
    """accounts.signup.mailbox as of this revision (a migration keeps its own copy)."""
    local, _, domain = email.strip().lower().rpartition("@")
    local = local.split("+", 1)[0]
    if domain in ("gmail.com", "googlemail.com"):
        domain, local = "gmail.com", local.replace(".", "")
    return f"{local}@{domain}"


def _backfill_mailboxes(connection: sa.Connection) -> None:
    rows = connection.execute(
        sa.text(
            "SELECT referrals.id, users.email FROM referrals "
            "JOIN users ON users.id = referrals.invitee_id "
            "WHERE referrals.rewarded ORDER BY referrals.id"
        )
    ).all()
    seen: dict[str, int] = {}
    for referral_id, email in rows:
        seen.setdefault(_mailbox(email), referral_id)
    for box, referral_id in seen.items():
        connection.execute(
            sa.text("UPDATE referrals SET mailbox = :m WHERE id = :i"),
            {"m": box, "i": referral_id},
        )


def _check_foreign_keys_off(connection: sa.Connection) -> None:
    if connection.execute(sa.text("PRAGMA foreign_keys")).scalar():
        raise RuntimeError("migration 0012 rebuilds tables: run it with foreign keys off")


def _autoincrement(connection: sa.Connection) -> None:
    highest = {table.name: _highest_id(connection, table) for table in TABLES}
    for table in TABLES:
        with op.batch_alter_table(
            table.name, recreate="always", table_kwargs={"sqlite_autoincrement": True}
        ):
            pass
        _seed(connection, table.name, highest[table.name])


def upgrade() -> None:
    connection = op.get_bind()
    sqlite = connection.dialect.name == "sqlite"
    if sqlite:
        _check_foreign_keys_off(connection)
    with op.batch_alter_table("referrals") as batch:
        batch.add_column(sa.Column("mailbox", sa.String(320), nullable=True))
        batch.create_unique_constraint("uq_referrals_mailbox", ["mailbox"])
    _backfill_mailboxes(connection)
    if sqlite:
        _autoincrement(connection)


def downgrade() -> None:
    connection = op.get_bind()
    sqlite = connection.dialect.name == "sqlite"
    if sqlite:
        _check_foreign_keys_off(connection)
    with op.batch_alter_table("referrals") as batch:
        batch.drop_constraint("uq_referrals_mailbox", type_="unique")
        batch.drop_column("mailbox")
    if not sqlite:
        return
    for table in reversed(TABLES):
        with op.batch_alter_table(
            table.name, recreate="always", table_kwargs={"sqlite_autoincrement": False}
        ):
            pass
        connection.execute(
            sa.text("DELETE FROM sqlite_sequence WHERE name = :n"), {"n": table.name}
        )
