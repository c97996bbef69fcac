"""The audit trail: one line per change made to the platform, by whom, to whose account.

The services that make a change write its line in the change's own transaction
(:func:`stage`), so a change is never committed without its line nor a line without its
change; the routes and pages only say who is acting (``actor_id``). Lines hold what
changed and the new values, never a secret: a channel's upstream keys and an API key's
value are named, not shown.

Reads are newest first, a page at a time, continued below the last line's id (keyset, as
the usage listing: core/pagination.py), within one user or over everyone.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from relaygate.accounts.models import AuditEntry
from relaygate.core.clock import utcnow
from relaygate.core.pagination import Position
from relaygate.db.engine import Database

__all__ = ["SECRET", "AuditLine", "AuditPage", "AuditTrail", "changes_detail", "stage"]

SECRET = "***"  # what a line shows for a value that must not be stored
_SECRET_FIELDS = frozenset({"api_key", "key", "key_hash", "password", "token"})


@dataclass(frozen=True, slots=True)
class AuditLine:
    """One change. ``actor_id`` None: the system (start-up, the config file, a listener
    such as the referral reward); ``subject_user_id`` None: nobody's account (a channel,
    a price)."""

    id: int
    at: datetime
    actor_id: int | None
    subject_user_id: int | None
    action: str  # "<thing>.<verb>", e.g. "key.create", "balance.credit", "price.edit"
    detail: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class AuditPage:
    """Lines newest first; ``next`` continues the listing (None: this is the last page)."""

    lines: tuple[AuditLine, ...]
    next: Position | None


def _plain(value: Any) -> Any:
    """A value as JSON holds it (times as ISO text; anything else unknown as text)."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return str(value)


def changes_detail(changes: Mapping[str, Any]) -> dict[str, Any]:
    """The new values of a change, secrets replaced by :data:`SECRET`."""
    return {
        name: SECRET if name in _SECRET_FIELDS else _plain(value) for name, value in changes.items()
    }


def stage(
    session: AsyncSession,
    action: str,
    *,
    actor_id: int | None,
    subject_user_id: int | None,
    detail: Mapping[str, Any] | None = None,
) -> None:
    """Add a line to ``session``'s transaction: it commits (or not) with the change."""
    session.add(
        AuditEntry(
            at=utcnow(),
            actor_id=actor_id,
            subject_user_id=subject_user_id,
            action=action,
            detail=_plain(dict(detail or {})),
        )
    )


def _line(row: AuditEntry) -> AuditLine:
    return AuditLine(
        row.id, row.at, row.actor_id, row.subject_user_id, row.action, dict(row.detail or {})
    )


class AuditTrail:
    """Writes lines of its own (:meth:`record`) and reads the trail."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def record(
        self,
        action: str,
        *,
        actor_id: int | None,
        subject_user_id: int | None,
        detail: Mapping[str, Any] | None = None,
    ) -> None:
        """Write one line in its own transaction (for a change that has none of its own
        in this database, e.g. a sign-in); a change made here uses :func:`stage`."""
        async with self.db.session() as session, session.begin():
            stage(
                session, action, actor_id=actor_id, subject_user_id=subject_user_id, detail=detail
            )

    async def list_for(
        self, user_id: int, *, limit: int = 50, after: Position | None = None
    ) -> AuditPage:
        """Lines about ``user_id``'s account, newest first (index (subject_user_id, id))."""
        return await self._page(AuditEntry.subject_user_id == user_id, limit, after)

    async def list_all(self, *, limit: int = 50, after: Position | None = None) -> AuditPage:
        """Every line, newest first (the primary key's order)."""
        return await self._page(None, limit, after)

    async def _page(self, where: Any, limit: int, after: Position | None) -> AuditPage:
        query = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit + 1)
        if where is not None:
            query = query.where(where)
        if after is not None:
            query = query.where(AuditEntry.id < after.id)
        async with self.db.session() as session:
            rows = list(await session.scalars(query))
        lines = tuple(_line(row) for row in rows[:limit])
        more = len(rows) > limit
        return AuditPage(lines, Position(lines[-1].at, lines[-1].id) if more else None)
