"""Media units: a bill row's upstream attempts and the images, characters and
milliseconds of audio it was billed for; a model's per-image, per-character and
per-second prices (docs/media.md).

Revision ID: 0011
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

_USAGE = ("attempts", "images", "characters", "audio_ms")
_PRICES = ("per_image", "per_character", "per_second")


def upgrade() -> None:
    with op.batch_alter_table("usage_records") as batch:
        for name in _USAGE:
            batch.add_column(sa.Column(name, sa.Integer(), nullable=False, server_default="0"))
    with op.batch_alter_table("model_prices") as batch:
        for name in _PRICES:
            batch.add_column(sa.Column(name, sa.BigInteger(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("model_prices") as batch:
        for name in reversed(_PRICES):
            batch.drop_column(name)
    with op.batch_alter_table("usage_records") as batch:
        for name in reversed(_USAGE):
            batch.drop_column(name)
