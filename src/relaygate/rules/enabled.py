"""Who has enabled override rules: what the relay's rule cache starts from (rules/cache.py),
so that every other user's calls skip the rules with one set lookup."""

from __future__ import annotations

from sqlalchemy import select

from relaygate.db.engine import Database
from relaygate.rules.models import OverrideRule

__all__ = ["users_with_rules"]


async def users_with_rules(db: Database) -> set[int]:
    """The ids of the users that have at least one enabled rule."""
    query = select(OverrideRule.user_id).where(OverrideRule.enabled.is_(True)).distinct()
    async with db.session() as session:
        return set((await session.scalars(query)).all())
