"""Queries over usage records. Never commits."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from relaygate.billing.models import UsageRecord

__all__ = ["UsageRepository"]


class UsageRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def search(
        self,
        *,
        request_id: str | None = None,
        user_id: int | None = None,
        key_id: int | None = None,
        limit: int = 100,
    ) -> list[UsageRecord]:
        query = select(UsageRecord).order_by(UsageRecord.id.desc()).limit(limit)
        if request_id is not None:
            query = query.where(UsageRecord.request_id == request_id)
        if user_id is not None:
            query = query.where(UsageRecord.user_id == user_id)
        if key_id is not None:
            query = query.where(UsageRecord.key_id == key_id)
        return list(await self.session.scalars(query))
