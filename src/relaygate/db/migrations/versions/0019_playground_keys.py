"""API keys say what made them: ``api_keys.purpose`` ("" for a key a person or the API
created, "playground" for the console playground's short-lived key).

The playground makes a key per browser visit and deletes the user's previous one, so its
keys do not pile up; telling them apart by remark would delete a user's own key that
happens to be called "Playground".

Revision ID: 0019
Revises: 0018
"""

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("api_keys") as batch:
        batch.add_column(sa.Column("purpose", sa.String(16), nullable=False, server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("api_keys") as batch:
        batch.drop_column("purpose")
