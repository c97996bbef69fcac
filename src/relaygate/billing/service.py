"""Use cases over usage records (the bill)."""

from __future__ import annotations

from relaygate.billing.models import UsageRecord
from relaygate.billing.repository import UsageRepository
from relaygate.billing.schemas import UsageQuery
from relaygate.db.engine import Database

__all__ = ["UsageService"]


class UsageService:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def search(self, query: UsageQuery) -> list[UsageRecord]:
        async with self.db.session() as session:
            return await UsageRepository(session).search(query)
