"""Compaction summaries and the gateway's own secrets.

``compaction_summaries``: what Relaygate keeps when it compacts a Responses conversation
with the model itself (``POST /v1/responses/compact`` or a ``compaction_trigger`` item on
a channel that does not serve the Responses API natively; docs/state.md). The client
holds a sealed reference to a row; the row holds the summary text, per user.

``server_secrets``: secrets the gateway generates on first use and shares between its
replicas and restarts (the HMAC key of those references).

Revision ID: 0014
Revises: 0013
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "compaction_summaries",
        sa.Column("id", sa.String(100), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("model", sa.String(200), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name="fk_compaction_summaries_user_id_users",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_compaction_summaries"),
    )
    op.create_index("ix_compaction_summaries_user_id", "compaction_summaries", ["user_id"])
    op.create_index("ix_compaction_summaries_created_at", "compaction_summaries", ["created_at"])
    op.create_table(
        "server_secrets",
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("value", sa.String(200), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_server_secrets"),
    )


def downgrade() -> None:
    op.drop_table("server_secrets")
    op.drop_index("ix_compaction_summaries_created_at", table_name="compaction_summaries")
    op.drop_index("ix_compaction_summaries_user_id", table_name="compaction_summaries")
    op.drop_table("compaction_summaries")
