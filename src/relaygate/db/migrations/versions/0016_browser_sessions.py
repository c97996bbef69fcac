"""Browser sessions for the console: idle timeout, CSRF secret, and what the session list shows.

``sessions`` gains ``last_seen_at`` (the idle timeout counts from it; rows made before
this revision read as seen when created), ``csrf_secret`` (the per-session token every
state-changing console request must echo; empty for older rows, which then cannot post
forms until the next sign-in), and a short ``user_agent`` and ``ip`` so a user can tell
their sessions apart before revoking one. Revoking deletes the row.

Revision ID: 0016
Revises: 0015
"""

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("sessions") as batch:
        batch.add_column(sa.Column("last_seen_at", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("csrf_secret", sa.String(64), nullable=False, server_default=""))
        batch.add_column(sa.Column("user_agent", sa.String(200), nullable=False, server_default=""))
        batch.add_column(sa.Column("ip", sa.String(64), nullable=False, server_default=""))
    op.execute("UPDATE sessions SET last_seen_at = created_at")
    with op.batch_alter_table("sessions") as batch:
        batch.alter_column("last_seen_at", existing_type=sa.DateTime(), nullable=False)


def downgrade() -> None:
    with op.batch_alter_table("sessions") as batch:
        batch.drop_column("ip")
        batch.drop_column("user_agent")
        batch.drop_column("csrf_secret")
        batch.drop_column("last_seen_at")
