"""Queries of the accounts capability. Never commits: the service owns the transaction."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from relaygate.accounts.models import ApiKey, User

__all__ = ["AccountRepository"]


class AccountRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def key_with_user(self, key_hash: str) -> tuple[ApiKey, User] | None:
        row = (
            await self.session.execute(
                select(ApiKey, User)
                .join(User, User.id == ApiKey.user_id)
                .where(ApiKey.key_hash == key_hash)
            )
        ).first()
        return None if row is None else (row[0], row[1])

    async def operator(self) -> User | None:
        return await self.session.scalar(
            select(User).where(User.is_operator.is_(True)).order_by(User.id).limit(1)
        )

    async def user(self, user_id: int) -> User | None:
        return await self.session.get(User, user_id)

    async def user_by_email(self, email: str) -> User | None:
        return await self.session.scalar(select(User).where(User.email == email))

    async def users(self, offset: int, limit: int) -> list[User]:
        rows = await self.session.scalars(
            select(User).order_by(User.id).offset(offset).limit(limit)
        )
        return list(rows)

    async def key(self, key_id: int) -> ApiKey | None:
        return await self.session.get(ApiKey, key_id)

    async def key_by_hash(self, key_hash: str) -> ApiKey | None:
        return await self.session.scalar(select(ApiKey).where(ApiKey.key_hash == key_hash))

    async def keys_of(self, user_id: int) -> list[ApiKey]:
        rows = await self.session.scalars(
            select(ApiKey).where(ApiKey.user_id == user_id).order_by(ApiKey.id)
        )
        return list(rows)

    async def personal_keys_of(self, user_id: int) -> list[ApiKey]:
        """The keys a person made (``purpose`` empty), not those the console or an OAuth
        grant made for itself."""
        rows = await self.session.scalars(
            select(ApiKey)
            .where(ApiKey.user_id == user_id, or_(ApiKey.purpose == "", ApiKey.purpose.is_(None)))
            .order_by(ApiKey.id)
        )
        return list(rows)

    async def key_count(self, user_id: int) -> int:
        count = await self.session.scalar(
            select(func.count()).select_from(ApiKey).where(ApiKey.user_id == user_id)
        )
        return int(count or 0)

    def add(self, obj: Any) -> None:
        self.session.add(obj)
