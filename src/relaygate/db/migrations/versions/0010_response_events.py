"""Background responses: their stream events (for replay) and an index to find the
running ones.

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "response_events",
        sa.Column(
            "response_id",
            sa.String(100),
            sa.ForeignKey(
                "responses.id", ondelete="CASCADE", name="fk_response_events_response_id_responses"
            ),
            primary_key=True,
        ),
        sa.Column("first", sa.Integer(), primary_key=True),
        sa.Column("last", sa.Integer(), nullable=False),
        sa.Column("events", sa.JSON(), nullable=False),
    )
    op.create_index("ix_responses_status", "responses", ["status"])


def downgrade() -> None:
    op.drop_index("ix_responses_status", table_name="responses")
    op.drop_table("response_events")
