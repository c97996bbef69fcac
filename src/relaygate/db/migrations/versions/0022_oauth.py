"""The OAuth open API (docs/oauth.md): apps, authorization codes, access tokens and the
charges' idempotency records.

Revision ID: 0022
Revises: 0021
"""

import sqlalchemy as sa
from alembic import op

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None

_AUTO = {"sqlite_autoincrement": True}


def _users_fk() -> sa.ForeignKey:
    return sa.ForeignKey("users.id", ondelete="CASCADE")


def _apps_fk() -> sa.ForeignKey:
    return sa.ForeignKey("oauth_apps.id", ondelete="CASCADE")


def upgrade() -> None:
    op.create_table(
        "oauth_apps",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("owner_id", sa.Integer(), _users_fk(), nullable=False, index=True),
        sa.Column("client_id", sa.String(24), nullable=False),
        sa.Column("secret_hash", sa.String(64), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("logo_url", sa.String(500), nullable=False),
        sa.Column("homepage", sa.String(500), nullable=False),
        sa.Column("redirect_domains", sa.JSON(), nullable=False),
        sa.Column("scope", sa.String(200), nullable=False),
        sa.Column("public", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.UniqueConstraint("client_id", name="uq_oauth_apps_client_id"),
        **_AUTO,
    )
    op.create_table(
        "oauth_codes",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("code_hash", sa.String(64), nullable=False),
        sa.Column("app_id", sa.Integer(), _apps_fk(), nullable=False),
        sa.Column("user_id", sa.Integer(), _users_fk(), nullable=False),
        sa.Column("redirect_uri", sa.String(2000), nullable=False),
        sa.Column("scope", sa.String(200), nullable=False),
        sa.Column("challenge", sa.String(128), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("used_at", sa.DateTime(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.UniqueConstraint("code_hash", name="uq_oauth_codes_code_hash"),
        **_AUTO,
    )
    op.create_table(
        "oauth_tokens",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("app_id", sa.Integer(), _apps_fk(), nullable=False),
        sa.Column("user_id", sa.Integer(), _users_fk(), nullable=False, index=True),
        sa.Column("code_id", sa.Integer(), nullable=False, index=True),
        sa.Column("scope", sa.String(200), nullable=False),
        sa.Column("revoked_at", sa.DateTime(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.UniqueConstraint("token_hash", name="uq_oauth_tokens_token_hash"),
        **_AUTO,
    )
    op.create_table(
        "oauth_charges",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("app_id", sa.Integer(), nullable=False, index=True),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("idempotency_key", sa.String(100), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("commission", sa.BigInteger(), nullable=False),
        sa.Column("balance_after", sa.BigInteger(), nullable=False),
        sa.Column("remark", sa.String(500), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.UniqueConstraint(
            "app_id",
            "user_id",
            "idempotency_key",
            name="uq_oauth_charges_app_id_user_id_idempotency_key",
        ),
        **_AUTO,
    )


def downgrade() -> None:
    for table in ("oauth_charges", "oauth_tokens", "oauth_codes", "oauth_apps"):
        op.drop_table(table)
