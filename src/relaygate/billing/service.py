"""Use cases over usage records (the bill)."""

from __future__ import annotations

from dataclasses import dataclass, replace

from relaygate.billing.models import UsageRecord
from relaygate.billing.repository import BillLine, UsageRepository
from relaygate.billing.schemas import UsageQuery
from relaygate.core.pagination import Position
from relaygate.db.engine import Database

__all__ = ["UsagePage", "UsageService"]


@dataclass(frozen=True, slots=True)
class UsagePage:
    """One page of a listing; ``next`` is where the next page starts (None: the last)."""

    records: list[UsageRecord]
    next: Position | None


class UsageService:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def search(self, query: UsageQuery) -> list[UsageRecord]:
        async with self.db.session() as session:
            return await UsageRepository(session).search(query)

    async def page(self, query: UsageQuery) -> UsagePage:
        """Up to ``query.limit`` records; one more is read to learn whether more follow."""
        async with self.db.session() as session:
            rows = await UsageRepository(session).search(replace(query, limit=query.limit + 1))
        if len(rows) <= query.limit:
            return UsagePage(rows, None)
        rows = rows[: query.limit]
        return UsagePage(rows, Position(rows[-1].created_at, rows[-1].id))

    async def bill_lines(self, query: UsageQuery) -> list[BillLine]:
        async with self.db.session() as session:
            return await UsageRepository(session).bill_lines(query)
