"""Apply the Alembic migrations shipped inside the package.

The server migrates through a child process (:func:`upgrade_in_subprocess`): Alembic and
its template engine would otherwise stay loaded in the gateway for its whole life, about
12 MB of a budget of 80.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

__all__ = ["upgrade", "upgrade_in_subprocess"]

_MIGRATIONS = Path(__file__).with_name("migrations")


def upgrade(database_url: str, revision: str = "head") -> None:
    """Upgrade the database to ``revision``; runs its own event loop, so call it from sync code."""
    from alembic import command  # imported here only: see the module docstring
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    config.attributes["database_url"] = database_url
    command.upgrade(config, revision)


async def upgrade_in_subprocess(database_url: str) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "relaygate",
        "migrate",
        "--database-url",
        database_url,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    if process.returncode != 0:
        raise RuntimeError(f"database migration failed:\n{err.decode(errors='replace')}")
