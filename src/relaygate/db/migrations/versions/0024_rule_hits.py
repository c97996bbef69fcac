"""Override rule hits (docs/rules.md): each rule's calls per day, and on the bill line the
rules that fired.

``override_rule_hits`` is written by the bill writer in the bills' own transactions (one
upsert per rule and day per batch, never one write per call); it has no foreign key, so a
deleted rule's days never hold a batch up. ``usage_records.rules`` holds the fired rule
ids of a call as a comma list ("12,15"), NULL when none fired.

Revision ID: 0024
Revises: 0023
"""

import sqlalchemy as sa
from alembic import op

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "override_rule_hits",
        sa.Column("rule_id", sa.Integer(), primary_key=True),
        sa.Column("day", sa.Date(), primary_key=True),
        sa.Column("user_id", sa.Integer(), nullable=False, index=True),
        sa.Column("hits", sa.BigInteger(), nullable=False),
        sa.Column("last_hit_at", sa.DateTime(), nullable=True),
    )
    with op.batch_alter_table("usage_records") as batch:
        batch.add_column(sa.Column("rules", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("usage_records") as batch:
        batch.drop_column("rules")
    op.drop_table("override_rule_hits")
