"""Package types can be disabled: ``package_types.active`` (true for every existing type).

A disabled type is kept (packages granted from it keep their ``type_id``) but the
operator can no longer grant it, through the console or the API; the referral reward
(``referral_package_type``) is granted whatever its state (billing/packages.py).

Revision ID: 0018
Revises: 0017
"""

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("package_types") as batch:
        batch.add_column(
            sa.Column("active", sa.Boolean(), nullable=False, server_default=sa.true())
        )


def downgrade() -> None:
    with op.batch_alter_table("package_types") as batch:
        batch.drop_column("active")
