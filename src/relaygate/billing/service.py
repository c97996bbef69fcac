"""Use cases over usage records (the bill)."""

from __future__ import annotations

from relaygate.billing.models import UsageRecord
from relaygate.billing.repository import UsageRepository
from relaygate.db.engine import Database

__all__ = ["UsageService"]


class UsageService:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def search(
        self,
        *,
        request_id: str | None = None,
        user_id: int | None = None,
        key_id: int | None = None,
        limit: int = 100,
    ) -> list[UsageRecord]:
        async with self.db.session() as session:
            return await UsageRepository(session).search(
                request_id=request_id, user_id=user_id, key_id=key_id, limit=limit
            )
