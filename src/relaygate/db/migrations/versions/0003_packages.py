"""Resource packages: types, grants, and package amounts in the ledger and usage records.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "package_types",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("scope_routes", sa.JSON(), nullable=False),
        sa.Column("scope_models", sa.JSON(), nullable=False),
        sa.Column("validity_days", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.UniqueConstraint("name", name="uq_package_types_name"),
    )
    op.create_table(
        "packages",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "user_id",
            sa.Integer(),
            sa.ForeignKey("users.id", ondelete="CASCADE", name="fk_packages_user_id_users"),
            nullable=False,
        ),
        sa.Column("type_id", sa.Integer(), nullable=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("remaining", sa.BigInteger(), nullable=False),
        sa.Column("scope_routes", sa.JSON(), nullable=False),
        sa.Column("scope_models", sa.JSON(), nullable=False),
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_packages_user_id", "packages", ["user_id"])
    with op.batch_alter_table("ledger_entries") as batch:
        batch.add_column(sa.Column("package_id", sa.Integer(), nullable=True))
        batch.add_column(
            sa.Column("package_amount", sa.BigInteger(), nullable=False, server_default="0")
        )
        batch.drop_constraint("uq_ledger_entries_kind_request_id", type_="unique")
        batch.create_unique_constraint(
            "uq_ledger_entries_kind_request_id", ["kind", "request_id", "package_id"]
        )
        batch.create_index("ix_ledger_entries_package_id", ["package_id"])
    with op.batch_alter_table("usage_records") as batch:
        batch.add_column(
            sa.Column("package_amount", sa.BigInteger(), nullable=False, server_default="0")
        )


def downgrade() -> None:
    with op.batch_alter_table("usage_records") as batch:
        batch.drop_column("package_amount")
    with op.batch_alter_table("ledger_entries") as batch:
        batch.drop_index("ix_ledger_entries_package_id")
        batch.drop_constraint("uq_ledger_entries_kind_request_id", type_="unique")
        batch.create_unique_constraint("uq_ledger_entries_kind_request_id", ["kind", "request_id"])
        batch.drop_column("package_amount")
        batch.drop_column("package_id")
    op.drop_index("ix_packages_user_id", table_name="packages")
    op.drop_table("packages")
    op.drop_table("package_types")
