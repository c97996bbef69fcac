"""The operator's usage listing pages by (created_at, id), and bill rows say how they
were priced.

Indexes (docs/operator-api.md#usage-records): the single-column ``created_at`` and
``user_id`` indexes become ``(created_at, id)`` and ``(user_id, created_at, id)``, so a
page, newest first, is one index range read with or without a user (a key resolves to its
user) and a time window; a partial ``(created_at, id)`` index over failed calls
(``status >= 400``) serves the error filters. A successful call writes no entry in it, so
a relayed call still touches two secondary indexes as before (plus the unique
``request_id``).

Columns: the route group the call came through (``""`` for ``/v1``) and each multiplier
applied, as exact decimal strings (model, route group, service tier, user group). Rows
written before this revision read as ``""`` and ``"1"``: their product stays in
``multiplier``.

Revision ID: 0013
Revises: 0012
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

_FAILED = sa.text("status >= 400")
_MULTIPLIERS = ("model_multiplier", "route_multiplier", "tier_multiplier", "group_multiplier")


def upgrade() -> None:
    with op.batch_alter_table("usage_records") as batch:
        batch.add_column(sa.Column("route_group", sa.String(32), nullable=False, server_default=""))
        for name in _MULTIPLIERS:
            batch.add_column(sa.Column(name, sa.String(32), nullable=False, server_default="1"))
    op.drop_index("ix_usage_records_created_at", table_name="usage_records")
    op.drop_index("ix_usage_records_user_id", table_name="usage_records")
    op.create_index("ix_usage_records_created_at_id", "usage_records", ["created_at", "id"])
    op.create_index(
        "ix_usage_records_user_id_created_at_id", "usage_records", ["user_id", "created_at", "id"]
    )
    op.create_index(
        "ix_usage_records_failed",
        "usage_records",
        ["created_at", "id"],
        sqlite_where=_FAILED,
        postgresql_where=_FAILED,
    )


def downgrade() -> None:
    op.drop_index("ix_usage_records_failed", table_name="usage_records")
    op.drop_index("ix_usage_records_user_id_created_at_id", table_name="usage_records")
    op.drop_index("ix_usage_records_created_at_id", table_name="usage_records")
    op.create_index("ix_usage_records_user_id", "usage_records", ["user_id"])
    op.create_index("ix_usage_records_created_at", "usage_records", ["created_at"])
    with op.batch_alter_table("usage_records") as batch:
        for name in reversed(_MULTIPLIERS):
            batch.drop_column(name)
        batch.drop_column("route_group")
