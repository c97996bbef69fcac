"""Queries of the channels capability. Never commits."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from relaygate.channels.models import Channel

__all__ = ["ChannelRepository"]


class ChannelRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def all(self) -> list[Channel]:
        return list(await self.session.scalars(select(Channel).order_by(Channel.id)))

    async def get(self, channel_id: int) -> Channel | None:
        return await self.session.get(Channel, channel_id)

    async def by_name(self, name: str) -> Channel | None:
        return await self.session.scalar(select(Channel).where(Channel.name == name))

    def add(self, channel: Channel) -> None:
        self.session.add(channel)

    async def delete(self, channel: Channel) -> None:
        await self.session.delete(channel)
