"""Invoices on paid top-up orders (docs/invoices.md): the requests and their state, the
orders each covers (an order on at most one live invoice: a partial unique index), the
yearly number counter and the issued PDFs.

Revision ID: 0026
Revises: 0025
"""

import sqlalchemy as sa
from alembic import op

revision = "0026"
down_revision = "0025"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "invoices",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column(
            "user_id", sa.Integer(), sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("number", sa.String(40), nullable=True),
        sa.Column("organisation", sa.String(200), nullable=False),
        sa.Column("tax_id", sa.String(64), nullable=False),
        sa.Column("address", sa.String(300), nullable=False),
        sa.Column("bank_name", sa.String(200), nullable=False),
        sa.Column("bank_account", sa.String(64), nullable=False),
        sa.Column("currency", sa.String(8), nullable=False),
        sa.Column("total", sa.BigInteger(), nullable=False),
        sa.Column("reason", sa.String(500), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("decided_at", sa.DateTime(), nullable=True),
        sa.Column("decided_by", sa.Integer(), nullable=True),
        sqlite_autoincrement=True,  # an id is never handed out twice
    )
    op.create_index("ix_invoices_user", "invoices", ["user_id", "id"])
    op.create_index("ix_invoices_state", "invoices", ["state", "id"])
    op.create_index("ix_invoices_number", "invoices", ["number"], unique=True)
    op.create_table(
        "invoice_orders",
        sa.Column(
            "invoice_id",
            sa.Integer(),
            sa.ForeignKey("invoices.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column(
            "order_id",
            sa.Integer(),
            sa.ForeignKey("payment_orders.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("paid_at", sa.DateTime(), nullable=False),
        sa.Column("live", sa.Boolean(), nullable=False),
    )
    op.create_index(
        "uq_invoice_orders_live_order",
        "invoice_orders",
        ["order_id"],
        unique=True,
        sqlite_where=sa.text("live"),
        postgresql_where=sa.text("live"),
    )
    op.create_table(
        "invoice_counters",
        sa.Column("year", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("last", sa.Integer(), nullable=False),
    )
    op.create_table(
        "invoice_files",
        sa.Column(
            "invoice_id",
            sa.Integer(),
            sa.ForeignKey("invoices.id", ondelete="CASCADE"),
            primary_key=True,
            autoincrement=False,
        ),
        sa.Column("content", sa.LargeBinary(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("invoice_files")
    op.drop_table("invoice_counters")
    op.drop_table("invoice_orders")
    op.drop_table("invoices")
