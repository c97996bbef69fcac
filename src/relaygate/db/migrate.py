"""Apply the Alembic migrations shipped inside the package."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

__all__ = ["upgrade"]

_MIGRATIONS = Path(__file__).with_name("migrations")


def upgrade(database_url: str, revision: str = "head") -> None:
    """Upgrade the database to ``revision``; runs its own event loop, so call it from sync code."""
    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    config.attributes["database_url"] = database_url
    command.upgrade(config, revision)
