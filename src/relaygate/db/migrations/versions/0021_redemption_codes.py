"""Redemption codes: batches the operator generates, their codes, and each redemption.

``redemption_codes.code`` is kept as issued (the operator exports a batch as CSV more
than once); ``used`` counts redemptions and only moves by a conditional UPDATE, so two
users racing for a single-use code cannot both win. ``redemptions`` holds one row per
(code, user): a user redeems a code once, whatever its ``max_redemptions``.

Revision ID: 0021
Revises: 0020
"""

import sqlalchemy as sa
from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "redemption_batches",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("package_type_id", sa.Integer(), nullable=True),
        sa.Column("max_redemptions", sa.Integer(), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False, server_default=sa.true()),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "redemption_codes",
        sa.Column("id", _ID, primary_key=True),
        sa.Column(
            "batch_id",
            sa.Integer(),
            sa.ForeignKey("redemption_batches.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("code", sa.String(32), nullable=False, unique=True),
        sa.Column("used", sa.Integer(), nullable=False),
    )
    op.create_index("ix_redemption_codes_batch_id", "redemption_codes", ["batch_id"])
    op.create_table(
        "redemptions",
        sa.Column("id", _ID, primary_key=True),
        sa.Column(
            "code_id",
            _ID,
            sa.ForeignKey("redemption_codes.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("batch_id", sa.Integer(), nullable=False),
        sa.Column(
            "user_id", sa.Integer(), sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("package_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.UniqueConstraint("code_id", "user_id", name="uq_redemptions_code_user"),
    )
    op.create_index("ix_redemptions_batch_id", "redemptions", ["batch_id"])
    op.create_index("ix_redemptions_user_id", "redemptions", ["user_id"])


def downgrade() -> None:
    op.drop_table("redemptions")
    op.drop_table("redemption_codes")
    op.drop_table("redemption_batches")
