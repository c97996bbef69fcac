"""Queries over usage records. Never commits."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from relaygate.billing.models import UsageRecord
from relaygate.billing.schemas import UsageQuery

__all__ = ["UsageRepository"]


class UsageRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def search(self, query: UsageQuery) -> list[UsageRecord]:
        statement = (
            select(UsageRecord)
            .order_by(UsageRecord.id.desc())
            .limit(query.limit)
            .offset(query.offset)
        )
        if query.model is not None:
            statement = statement.where(UsageRecord.model == query.model)
        if query.since is not None:
            statement = statement.where(UsageRecord.created_at >= query.since)
        if query.until is not None:
            statement = statement.where(UsageRecord.created_at < query.until)
        if query.request_id is not None:
            statement = statement.where(UsageRecord.request_id == query.request_id)
        if query.user_id is not None:
            statement = statement.where(UsageRecord.user_id == query.user_id)
        if query.key_id is not None:
            statement = statement.where(UsageRecord.key_id == query.key_id)
        return list(await self.session.scalars(statement))
