"""What the readiness probe asks of the database: does it answer, and is it migrated?

The head revision is read from the migration files' own ``revision`` lines, not through
Alembic: the server never loads Alembic (db/migrate.py), and a replica started with
``migrate_on_start = false`` must not call itself ready against a database the migration
job has not reached yet.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from relaygate.db.engine import Database

__all__ = ["DatabaseProbe", "SchemaCheck", "head_revisions"]

_VERSIONS = Path(__file__).with_name("migrations") / "versions"
_REVISION = re.compile(r'^revision\s*=\s*["\']([^"\']+)["\']', re.MULTILINE)
_DOWN = re.compile(r"^down_revision\s*=\s*(.+)$", re.MULTILINE)
_QUOTED = re.compile(r'["\']([^"\']+)["\']')


def head_revisions(versions: Path = _VERSIONS) -> frozenset[str]:
    """The revisions no other revision builds on: what ``alembic upgrade head`` reaches."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in versions.glob("*.py"):
        source = path.read_text()
        found = _REVISION.search(source)
        if found is None:
            continue
        revisions.add(found.group(1))
        down = _DOWN.search(source)
        if down is not None:
            parents.update(_QUOTED.findall(down.group(1)))
    return frozenset(revisions - parents)


@dataclass(frozen=True, slots=True)
class SchemaCheck:
    """One look at the database: ``problem`` is None when it answered and is at head."""

    problem: str | None

    @property
    def ok(self) -> bool:
        return self.problem is None


class DatabaseProbe:
    """Answers the readiness probe's database question with one short query."""

    def __init__(self, db: Database, heads: frozenset[str] | None = None) -> None:
        self.db = db
        self.heads = head_revisions() if heads is None else heads

    async def check(self, timeout: float) -> SchemaCheck:
        """Reachable within ``timeout`` seconds and at the code's head revision. The
        reason names the kind of failure only: the probe's body is public."""
        try:
            async with asyncio.timeout(timeout):
                async with self.db.engine.connect() as connection:
                    found = await connection.execute(
                        text("SELECT version_num FROM alembic_version")
                    )
                    versions = {str(row[0]) for row in found}
        except TimeoutError:
            return SchemaCheck("database did not answer in time")
        except (SQLAlchemyError, OSError):  # the driver's errors, wrapped or not
            return SchemaCheck("database unreachable or not migrated")
        if versions != set(self.heads):
            return SchemaCheck("database schema is not at the head revision")
        return SchemaCheck(None)
