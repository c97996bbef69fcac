"""Queries of the storage capability (the service owns the transactions)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, delete, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from relaygate.storage.models import FileTag, StoredFile

__all__ = ["FileFilter", "FileRepository", "UserBytes"]


@dataclass(frozen=True, slots=True)
class FileFilter:
    """A listing's filters; ``None`` (or empty) leaves one out. ``tags``: files having
    every one of them; ``name``: a case-insensitive part of the file name."""

    purpose: int | None = None
    tags: tuple[str, ...] = ()
    is_public: bool | None = None
    name: str | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None


@dataclass(frozen=True, slots=True)
class UserBytes:
    user_id: int
    size: int


def live(now: datetime) -> ColumnElement[bool]:
    """Not expired: an expired file is gone for every route before the sweep deletes it."""
    return or_(StoredFile.expires_at.is_(None), StoredFile.expires_at > now)


class FileRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def by_uid(self, uid: str, now: datetime) -> StoredFile | None:
        return await self.session.scalar(select(StoredFile).where(StoredFile.uid == uid, live(now)))

    async def owned(self, user_id: int, uids: Sequence[str], now: datetime) -> list[StoredFile]:
        query = select(StoredFile).where(
            StoredFile.user_id == user_id, StoredFile.uid.in_(uids), live(now)
        )
        return list(await self.session.scalars(query))

    async def stored_bytes(self, user_id: int) -> int:
        """Everything the user's rows hold, expired-but-unswept files included (their
        bytes are still on disk)."""
        total = await self.session.scalar(
            select(func.coalesce(func.sum(StoredFile.size), 0)).where(StoredFile.user_id == user_id)
        )
        return int(total or 0)

    async def page(
        self, user_id: int, filters: FileFilter, now: datetime, offset: int, limit: int
    ) -> tuple[int, list[StoredFile]]:
        conditions = [StoredFile.user_id == user_id, live(now), *_conditions(filters)]
        total = await self.session.scalar(select(func.count()).where(*conditions))
        query = (
            select(StoredFile)
            .where(*conditions)
            .order_by(StoredFile.created_at.desc(), StoredFile.id.desc())
            .offset(offset)
            .limit(limit)
        )
        return int(total or 0), list(await self.session.scalars(query))

    def add(self, row: StoredFile) -> None:
        self.session.add(row)

    async def set_tags(self, file_id: int, tags: Sequence[str]) -> None:
        await self.session.execute(delete(FileTag).where(FileTag.file_id == file_id))
        self.session.add_all(FileTag(file_id=file_id, tag=tag) for tag in tags)

    async def delete_owned(self, user_id: int, uids: Sequence[str]) -> list[str]:
        """Delete the user's files among ``uids``; the uids deleted (this transaction's)."""
        deleted = await self.session.scalars(
            delete(StoredFile)
            .where(StoredFile.user_id == user_id, StoredFile.uid.in_(uids))
            .returning(StoredFile.uid)
        )
        return list(deleted)

    async def delete_expired(self, now: datetime, limit: int) -> list[str]:
        """Delete up to ``limit`` expired files; the uids this statement deleted, so two
        sweeps that overlap never both delete one blob's row (and only one removes it)."""
        ids = select(StoredFile.id).where(StoredFile.expires_at <= now).limit(limit)
        deleted = await self.session.scalars(
            delete(StoredFile)
            .where(StoredFile.id.in_(ids.scalar_subquery()), StoredFile.expires_at <= now)
            .returning(StoredFile.uid)
        )
        return list(deleted)

    async def bytes_per_user(self) -> list[UserBytes]:
        rows = await self.session.execute(
            select(StoredFile.user_id, func.sum(StoredFile.size)).group_by(StoredFile.user_id)
        )
        return [UserBytes(int(user), int(size or 0)) for user, size in rows]


def _conditions(filters: FileFilter) -> list[ColumnElement[bool]]:
    out: list[ColumnElement[bool]] = []
    if filters.purpose is not None:
        out.append(StoredFile.purpose == filters.purpose)
    if filters.is_public is not None:
        out.append(StoredFile.is_public.is_(filters.is_public))
    if filters.name:
        pattern = filters.name.lower()
        out.append(func.lower(StoredFile.filename).contains(pattern, autoescape=True))
    if filters.created_after is not None:
        out.append(StoredFile.created_at >= filters.created_after)
    if filters.created_before is not None:
        out.append(StoredFile.created_at < filters.created_before)
    if filters.tags:
        wanted = sorted(set(filters.tags))
        having = (
            select(FileTag.file_id)
            .where(FileTag.tag.in_(wanted))
            .group_by(FileTag.file_id)
            .having(func.count() == len(wanted))
        )
        out.append(StoredFile.id.in_(having.scalar_subquery()))
    return out
