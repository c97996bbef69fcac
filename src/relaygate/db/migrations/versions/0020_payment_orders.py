"""Top-up orders (``payment_orders``) and the provider webhook events already processed
(``payment_webhook_events``, keyed by the provider's event id: each is applied once).

Revision ID: 0020
Revises: 0019
"""

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "payment_orders",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column(
            "user_id", sa.Integer(), sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("provider", sa.String(32), nullable=False),
        sa.Column("method", sa.String(16), nullable=False),
        sa.Column("provider_ref", sa.String(255), nullable=True),
        sa.Column("payment_ref", sa.String(255), nullable=True),
        sa.Column("pay_url", sa.String(2000), nullable=False),
        sa.Column("receipt_url", sa.String(2000), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(8), nullable=False),
        sa.Column("refunded_minor", sa.BigInteger(), nullable=False),
        sa.Column("disputed_minor", sa.BigInteger(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("paid_at", sa.DateTime(), nullable=True),
    )
    op.create_index("ix_payment_orders_user", "payment_orders", ["user_id", "id"])
    op.create_index("ix_payment_orders_state", "payment_orders", ["state", "id"])
    op.create_index(
        "ix_payment_orders_provider_ref",
        "payment_orders",
        ["provider", "provider_ref"],
        unique=True,
    )
    op.create_index("ix_payment_orders_payment_ref", "payment_orders", ["provider", "payment_ref"])
    op.create_table(
        "payment_webhook_events",
        sa.Column("provider", sa.String(32), primary_key=True),
        sa.Column("event_id", sa.String(255), primary_key=True),
        sa.Column("type", sa.String(100), nullable=False),
        sa.Column("outcome", sa.String(32), nullable=False),
        sa.Column("waiting_for", sa.String(255), nullable=True),
        sa.Column("order_id", sa.Integer(), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("received_at", sa.DateTime(), nullable=False),
    )
    op.create_index(
        "ix_payment_webhook_events_waiting", "payment_webhook_events", ["provider", "waiting_for"]
    )


def downgrade() -> None:
    op.drop_table("payment_webhook_events")
    op.drop_table("payment_orders")
