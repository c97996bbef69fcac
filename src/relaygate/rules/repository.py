"""Queries of the override rules. Never commits (the service owns the transaction)."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from relaygate.accounts.models import ApiKey, User
from relaygate.rules.models import OverrideRule, OverrideRuleHit

__all__ = ["HitTotal", "RuleRepository"]


@dataclass(frozen=True, slots=True)
class HitTotal:
    hits: int
    last_hit_at: datetime | None


class RuleRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def lock_owner(self, user_id: int) -> None:
        """Serialise a user's rule-count checks (PostgreSQL; SQLite writes one at a time)."""
        await self.session.execute(select(User.id).where(User.id == user_id).with_for_update())

    async def of_user(self, user_id: int) -> list[OverrideRule]:
        """Every rule of the user in the order they run: priority, then id."""
        query = (
            select(OverrideRule)
            .where(OverrideRule.user_id == user_id)
            .order_by(OverrideRule.priority, OverrideRule.id)
        )
        return list(await self.session.scalars(query))

    async def enabled_of(self, user_id: int) -> list[OverrideRule]:
        query = (
            select(OverrideRule)
            .where(OverrideRule.user_id == user_id, OverrideRule.enabled.is_(True))
            .order_by(OverrideRule.priority, OverrideRule.id)
        )
        return list(await self.session.scalars(query))

    async def count(self, user_id: int) -> int:
        query = select(func.count()).select_from(OverrideRule)
        return int(await self.session.scalar(query.where(OverrideRule.user_id == user_id)) or 0)

    async def owned(self, user_id: int, ids: Collection[int]) -> dict[int, OverrideRule]:
        """The rules of ``ids`` that belong to the user (another user's are simply absent)."""
        if not ids:
            return {}
        query = select(OverrideRule).where(
            OverrideRule.user_id == user_id, OverrideRule.id.in_(list(ids))
        )
        return {row.id: row for row in await self.session.scalars(query)}

    async def names_of(self, user_id: int, ids: Collection[int]) -> dict[int, str]:
        """Id -> name of the user's rules among ``ids`` (a deleted one is absent)."""
        if not ids:
            return {}
        query = select(OverrideRule.id, OverrideRule.name).where(
            OverrideRule.user_id == user_id, OverrideRule.id.in_(list(ids))
        )
        return {row.id: row.name for row in (await self.session.execute(query)).all()}

    async def by_name(self, user_id: int, name: str) -> OverrideRule | None:
        query = select(OverrideRule).where(
            OverrideRule.user_id == user_id, OverrideRule.name == name
        )
        return await self.session.scalar(query)

    async def names(self, user_id: int) -> dict[str, int]:
        """Name -> id of the user's rules."""
        query = select(OverrideRule.name, OverrideRule.id).where(OverrideRule.user_id == user_id)
        return {row.name: row.id for row in (await self.session.execute(query)).all()}

    async def own_key_ids(self, user_id: int, key_ids: Collection[int]) -> set[int]:
        if not key_ids:
            return set()
        query = select(ApiKey.id).where(ApiKey.user_id == user_id, ApiKey.id.in_(list(key_ids)))
        return set(await self.session.scalars(query))

    def add(self, row: OverrideRule) -> None:
        self.session.add(row)

    async def delete_ids(self, user_id: int, ids: Collection[int]) -> int:
        query = delete(OverrideRule).where(
            OverrideRule.user_id == user_id, OverrideRule.id.in_(list(ids))
        )
        result = await self.session.execute(query)
        return int(getattr(result, "rowcount", 0) or 0)

    async def hits_since(self, user_id: int, since: date) -> list[OverrideRuleHit]:
        """The user's daily hit rows from ``since`` on (one per rule and day)."""
        query = (
            select(OverrideRuleHit)
            .where(OverrideRuleHit.user_id == user_id, OverrideRuleHit.day >= since)
            .order_by(OverrideRuleHit.rule_id, OverrideRuleHit.day)
        )
        return list(await self.session.scalars(query))

    async def totals(self, user_id: int, since: date) -> dict[int, HitTotal]:
        """Rule id -> its hits from ``since`` on and its last hit."""
        query = (
            select(
                OverrideRuleHit.rule_id,
                func.sum(OverrideRuleHit.hits),
                func.max(OverrideRuleHit.last_hit_at),
            )
            .where(OverrideRuleHit.user_id == user_id, OverrideRuleHit.day >= since)
            .group_by(OverrideRuleHit.rule_id)
        )
        rows = (await self.session.execute(query)).all()
        return {rule_id: HitTotal(int(total or 0), last) for rule_id, total, last in rows}
