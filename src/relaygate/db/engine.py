"""Engine and session factory for the two supported databases.

Users give plain URLs (``sqlite:///file.db``, ``postgresql://user@host/db``); the async
driver is chosen here. SQLite runs in WAL mode with ``synchronous=NORMAL``: a killed
process loses nothing that was committed (a power cut may lose the last transactions).
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import ConnectionPoolEntry

__all__ = ["Database", "async_url"]


def async_url(url: str) -> str:
    """Map a user-facing database URL to its async-driver form."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise ValueError(f"not a database URL: {url!r}")
    base = scheme.split("+", 1)[0]
    if base == "sqlite":
        return f"sqlite+aiosqlite://{rest}"
    if base in ("postgresql", "postgres"):
        return f"postgresql+asyncpg://{rest}"
    raise ValueError(f"unsupported database {base!r}: use sqlite:// or postgresql://")


def _level(name: str) -> int:
    return logging.getLogger(name).level


def _sqlite_pragmas(dbapi_connection: DBAPIConnection, _record: ConnectionPoolEntry) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


class Database:
    """Owns the engine; services open sessions (and so transactions) through it."""

    def __init__(self, url: str, **engine_options: Any) -> None:
        self.url = async_url(url)
        self.is_sqlite = self.url.startswith("sqlite")
        # the file of a SQLite database (for code that opens its own connection), or None
        self.sqlite_path = self.url.partition(":///")[2] or None if self.is_sqlite else None
        # hide_parameters: SQLAlchemy's logs (at INFO and DEBUG) and its error messages
        # would otherwise print every statement's values: channel keys, password hashes.
        options: dict[str, Any] = {"pool_pre_ping": not self.is_sqlite, "hide_parameters": True}
        options.update(engine_options)
        self.engine: AsyncEngine = create_async_engine(self.url, **options)
        if self.is_sqlite:
            event.listen(self.engine.sync_engine, "connect", _sqlite_pragmas)
            # aiosqlite logs every statement with its values at DEBUG: kept at INFO, so a
            # gateway run with DEBUG logging does not print channel keys (docs/errors.md)
            logging.getLogger("aiosqlite").setLevel(max(logging.INFO, _level("aiosqlite")))
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)

    def session(self) -> AsyncSession:
        return self.sessions()

    async def dispose(self) -> None:
        await self.engine.dispose()
