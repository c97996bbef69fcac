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
    """Migrate in a child process. The URL (which may carry a password) goes to the child
    on its standard input, never on its command line, where ``ps`` would show it; the
    child's error text is returned with the password hidden."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "relaygate",
        "migrate",
        "--database-url",
        "-",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate(database_url.encode() + b"\n")
    if process.returncode != 0:
        text = err.decode(errors="replace").replace(database_url, _shown(database_url))
        raise RuntimeError(f"database migration failed:\n{text}")


def _shown(database_url: str) -> str:
    """The URL as it may be printed: its password replaced by ``***``."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        return make_url(database_url).render_as_string(hide_password=True)
    except ArgumentError:  # not a URL SQLAlchemy reads: print none of it
        return "[database url]"
