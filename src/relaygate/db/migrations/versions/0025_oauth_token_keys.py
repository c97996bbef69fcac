"""OAuth tokens are API keys too (docs/oauth.md "The token as an API key").

``oauth_tokens.api_key_id`` names the ``api_keys`` row (``purpose`` "oauth") whose digest
is the token's, so the relay authenticates a token like any key and bills its calls to
the user under it; ``admin_key_id`` names the management key handed to the app under the
``admin_token`` scope. Both are plain integers (no foreign key): a key the operator
deletes leaves the token row as it was, refused on the relay.

The live tokens issued before this migration get their key now: the token's SHA-256 is
the key's digest, so no secret is needed (their hint shows no last characters).

Revision ID: 0025
Revises: 0024
"""

import sqlalchemy as sa
from alembic import op

revision = "0025"
down_revision = "0024"
branch_labels = None
depends_on = None

_TOKENS = sa.table(
    "oauth_tokens",
    sa.column("id", sa.Integer()),
    sa.column("token_hash", sa.String()),
    sa.column("app_id", sa.Integer()),
    sa.column("user_id", sa.Integer()),
    sa.column("scope", sa.String()),
    sa.column("revoked_at", sa.DateTime()),
    sa.column("created_at", sa.DateTime()),
    sa.column("api_key_id", sa.Integer()),
)
_APPS = sa.table("oauth_apps", sa.column("id", sa.Integer()), sa.column("name", sa.String()))
_KEYS = sa.table(
    "api_keys",
    sa.column("id", sa.Integer()),
    sa.column("user_id", sa.Integer()),
    sa.column("key_hash", sa.String()),
    sa.column("hint", sa.String()),
    sa.column("remark", sa.String()),
    sa.column("is_disabled", sa.Boolean()),
    sa.column("is_admin", sa.Boolean()),
    sa.column("max_fee", sa.BigInteger()),
    sa.column("used_fee", sa.BigInteger()),
    sa.column("used_times", sa.BigInteger()),
    sa.column("created_at", sa.DateTime()),
    sa.column("purpose", sa.String()),
)


def upgrade() -> None:
    with op.batch_alter_table("oauth_tokens") as batch:
        batch.add_column(sa.Column("api_key_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("admin_key_id", sa.Integer(), nullable=True))
    _backfill()


def _backfill() -> None:
    bind = op.get_bind()
    live = bind.execute(
        sa.select(
            _TOKENS.c.id,
            _TOKENS.c.token_hash,
            _TOKENS.c.user_id,
            _TOKENS.c.scope,
            _TOKENS.c.created_at,
            _APPS.c.name,
        )
        .join(_APPS, _APPS.c.id == _TOKENS.c.app_id)
        .where(_TOKENS.c.revoked_at.is_(None))
        .order_by(_TOKENS.c.id)
    ).all()
    for token_id, digest, user_id, scope, created_at, name in live:
        if "general_api_access" not in str(scope).split():
            continue
        bind.execute(
            sa.insert(_KEYS).values(
                user_id=user_id,
                key_hash=digest,
                hint="omg-oat…",
                remark=f"OAuth: {name}"[:500],
                is_disabled=False,
                is_admin=False,
                max_fee=0,
                used_fee=0,
                used_times=0,
                created_at=created_at,
                purpose="oauth",
            )
        )
        key_id = bind.execute(sa.select(_KEYS.c.id).where(_KEYS.c.key_hash == digest)).scalar_one()
        bind.execute(sa.update(_TOKENS).where(_TOKENS.c.id == token_id).values(api_key_id=key_id))


def downgrade() -> None:
    op.execute("DELETE FROM api_keys WHERE purpose = 'oauth'")
    with op.batch_alter_table("oauth_tokens") as batch:
        batch.drop_column("admin_key_id")
        batch.drop_column("api_key_id")
