"""The console's read models: the audit trail, a daily roll-up of usage, and an index
over the ledger's credits.

``audit_log``: who changed what (keys, money, packages, a user's group or state,
channels, prices), one row per change, written by the service that makes it
(accounts/audit.py).

``usage_daily``: one row per UTC day and ``level`` (0: a user's calls of one model, 1: a
user's calls of every model, 2: every user's calls of one model; the collapsed side is
0 or ""), kept by the bill writer in the transaction of the bills it counts, so the
dashboard and the operator overview read a few hundred rows instead of a month of
usage records. Rows already written are rolled up here.

``ix_ledger_entries_credits``: a partial index over the entries that add money (top-ups,
free grants, adjustments), by time, holding what the overview sums; a charge (one per
priced call) writes no entry in it.

``ix_usage_records_user_failed``: a user's failed calls (``status >= 400``) by
``(user_id, created_at, id)``, for the bills page's status filters (a user's 5xx were a
scan of their whole history); a successful call writes no entry in it.

Revision ID: 0017
Revises: 0016
"""

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

_FAILED = sa.text("status >= 400")
_CREDITS = sa.text("kind IN ('topup', 'free_grant', 'adjustment')")
_SUMS = (
    "calls",
    "failed",
    "prompt_tokens",
    "completion_tokens",
    "amount",
    "official_cost",
    "package_amount",
    "free_amount",
)


def _backfill() -> None:
    """Roll up the usage rows already written (SQLite stores times as ISO text)."""
    bind = op.get_bind()
    day = (
        "substr(created_at, 1, 10)"
        if bind.dialect.name == "sqlite"
        else "to_char(created_at, 'YYYY-MM-DD')"
    )
    sums = (
        "COUNT(*), SUM(CASE WHEN status >= 400 THEN 1 ELSE 0 END), SUM(prompt_tokens), "
        "SUM(completion_tokens), SUM(amount), SUM(official_cost), SUM(package_amount), "
        "SUM(free_amount)"
    )
    columns = f"level, user_id, day, model, {', '.join(_SUMS)}"
    for level, user, model, where in (
        (0, "user_id", "model", "user_id IS NOT NULL"),
        (1, "user_id", "''", "user_id IS NOT NULL"),
        (2, "0", "model", "1 = 1"),
    ):
        groups = ", ".join(term for term in (user, day, model) if term not in ("0", "''"))
        op.execute(
            f"INSERT INTO usage_daily ({columns}) "
            f"SELECT {level}, {user}, {day}, {model}, {sums} FROM usage_records "
            f"WHERE {where} GROUP BY {groups}"
        )


def upgrade() -> None:
    op.create_table(
        "audit_log",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("subject_user_id", sa.Integer(), nullable=True),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_audit_log"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_audit_log_subject_user_id_id", "audit_log", ["subject_user_id", "id"])
    op.create_table(
        "usage_daily",
        sa.Column("level", sa.SmallInteger(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.String(10), nullable=False),
        sa.Column("model", sa.String(200), nullable=False),
        *(sa.Column(name, sa.BigInteger(), nullable=False, server_default="0") for name in _SUMS),
        sa.PrimaryKeyConstraint("level", "user_id", "day", "model", name="pk_usage_daily"),
        sqlite_with_rowid=False,  # the rows live in the key's order: a scan reads no other page
    )
    op.create_index(
        "ix_ledger_entries_credits",
        "ledger_entries",
        ["created_at", "kind", "amount", "free_amount"],  # covering: the overview reads no row
        sqlite_where=_CREDITS,
        postgresql_where=_CREDITS,
    )
    op.create_index(
        "ix_usage_records_user_failed",
        "usage_records",
        ["user_id", "created_at", "id"],
        sqlite_where=_FAILED,
        postgresql_where=_FAILED,
    )
    _backfill()


def downgrade() -> None:
    op.drop_index("ix_usage_records_user_failed", table_name="usage_records")
    op.drop_index("ix_ledger_entries_credits", table_name="ledger_entries")
    op.drop_table("usage_daily")
    op.drop_index("ix_audit_log_subject_user_id_id", table_name="audit_log")
    op.drop_table("audit_log")
