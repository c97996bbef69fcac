"""Fewer index writes per bill: every relayed call commits a usage row and a ledger entry.

``usage_records.key_id`` loses its index (a key's bills are read within its user's, which
is indexed), and ``ledger_entries.package_id`` becomes a partial index, so a charge (no
package) touches no page of it.

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_WITH_PACKAGE = sa.text("package_id IS NOT NULL")


def upgrade() -> None:
    op.drop_index("ix_usage_records_key_id", table_name="usage_records")
    op.drop_index("ix_ledger_entries_package_id", table_name="ledger_entries")
    op.create_index(
        "ix_ledger_entries_package_id",
        "ledger_entries",
        ["package_id"],
        sqlite_where=_WITH_PACKAGE,
        postgresql_where=_WITH_PACKAGE,
    )


def downgrade() -> None:
    op.drop_index("ix_ledger_entries_package_id", table_name="ledger_entries")
    op.create_index("ix_ledger_entries_package_id", "ledger_entries", ["package_id"])
    op.create_index("ix_usage_records_key_id", "usage_records", ["key_id"])
