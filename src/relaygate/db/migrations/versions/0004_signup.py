"""Sign-up: magic-link login tokens, sessions, invite codes and referrals.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def _user_fk(column: str, table: str, primary_key: bool = False) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(
        column,
        sa.Integer(),
        sa.ForeignKey("users.id", ondelete="CASCADE", name=f"fk_{table}_{column}_users"),
        nullable=False,
        primary_key=primary_key,
    )


def upgrade() -> None:
    op.create_table(
        "login_tokens",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("invite_code", sa.String(16), nullable=True),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("used_at", sa.DateTime(), nullable=True),
        sa.UniqueConstraint("token_hash", name="uq_login_tokens_token_hash"),
    )
    op.create_index("ix_login_tokens_email", "login_tokens", ["email"])
    op.create_table(
        "sessions",
        sa.Column("id", sa.Integer(), primary_key=True),
        _user_fk("user_id", "sessions"),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.UniqueConstraint("token_hash", name="uq_sessions_token_hash"),
    )
    op.create_index("ix_sessions_user_id", "sessions", ["user_id"])
    op.create_table(
        "invite_codes",
        _user_fk("user_id", "invite_codes", primary_key=True),
        sa.Column("code", sa.String(16), nullable=False),
        sa.UniqueConstraint("code", name="uq_invite_codes_code"),
    )
    op.create_table(
        "referrals",
        sa.Column("id", sa.Integer(), primary_key=True),
        _user_fk("inviter_id", "referrals"),
        _user_fk("invitee_id", "referrals"),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("rewarded", sa.Boolean(), nullable=False),
        sa.UniqueConstraint("invitee_id", name="uq_referrals_invitee_id"),
    )
    op.create_index("ix_referrals_inviter_id", "referrals", ["inviter_id"])


def downgrade() -> None:
    op.drop_index("ix_referrals_inviter_id", table_name="referrals")
    op.drop_table("referrals")
    op.drop_table("invite_codes")
    op.drop_index("ix_sessions_user_id", table_name="sessions")
    op.drop_table("sessions")
    op.drop_index("ix_login_tokens_email", table_name="login_tokens")
    op.drop_table("login_tokens")
