"""Wallets, the ledger, the model catalogue, and money columns on usage records.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "wallets",
        sa.Column(
            "user_id",
            sa.Integer(),
            sa.ForeignKey("users.id", ondelete="CASCADE", name="fk_wallets_user_id_users"),
            primary_key=True,
        ),
        sa.Column("balance", sa.BigInteger(), nullable=False),
        sa.Column("free_balance", sa.BigInteger(), nullable=False),
        sa.Column("topped_up_total", sa.BigInteger(), nullable=False),
        sa.Column("first_topup_at", sa.DateTime(), nullable=True),
    )
    op.create_table(
        "ledger_entries",
        sa.Column("id", _ID, primary_key=True),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("free_amount", sa.BigInteger(), nullable=False),
        sa.Column("request_id", sa.String(64), nullable=True),
        sa.Column("memo", sa.String(500), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.UniqueConstraint("kind", "request_id", name="uq_ledger_entries_kind_request_id"),
    )
    op.create_index("ix_ledger_entries_user_id", "ledger_entries", ["user_id"])
    op.create_table(
        "model_prices",
        sa.Column("model", sa.String(200), primary_key=True),
        sa.Column("input", sa.BigInteger(), nullable=False),
        sa.Column("output", sa.BigInteger(), nullable=False),
        sa.Column("cached_input", sa.BigInteger(), nullable=True),
        sa.Column("cache_write", sa.BigInteger(), nullable=True),
        sa.Column("reasoning", sa.BigInteger(), nullable=True),
        sa.Column("per_call", sa.BigInteger(), nullable=False),
        sa.Column("multiplier", sa.String(32), nullable=False),
        sa.Column("flex", sa.Boolean(), nullable=False),
        sa.Column("vip_only", sa.Boolean(), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
    )
    with op.batch_alter_table("usage_records") as batch:
        batch.add_column(
            sa.Column("official_cost", sa.BigInteger(), nullable=False, server_default="0")
        )
        batch.add_column(sa.Column("amount", sa.BigInteger(), nullable=False, server_default="0"))
        batch.add_column(
            sa.Column("free_amount", sa.BigInteger(), nullable=False, server_default="0")
        )
        batch.add_column(sa.Column("multiplier", sa.String(32), nullable=False, server_default="1"))


def downgrade() -> None:
    with op.batch_alter_table("usage_records") as batch:
        for column in ("multiplier", "free_amount", "amount", "official_cost"):
            batch.drop_column(column)
    op.drop_table("model_prices")
    op.drop_index("ix_ledger_entries_user_id", table_name="ledger_entries")
    op.drop_table("ledger_entries")
    op.drop_table("wallets")
