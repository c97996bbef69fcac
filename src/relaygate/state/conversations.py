"""Conversation use cases: create, read, change and delete conversations and their items.

A conversation is an ordered list of items that several responses share: the relay
reads all of it before a call made with ``conversation`` and appends the call's input
and output after it (:meth:`Conversations.append`, inside the relay's save).
"""

from __future__ import annotations

from typing import Any

from relaygate.core.clock import utcnow
from relaygate.db.engine import Database
from relaygate.state import errors
from relaygate.state.items import check_sizes, new_id, normalise_item
from relaygate.state.models import Conversation, ConversationItem
from relaygate.state.repository import StateRepository
from relaygate.state.schemas import Page, PageQuery, check_metadata

__all__ = ["Conversations", "conversation_out"]


def conversation_out(row: Conversation) -> dict[str, Any]:
    return {
        "id": row.id,
        "object": "conversation",
        "created_at": int(row.created_at.timestamp()),
        "metadata": row.meta,
    }


class Conversations:
    def __init__(self, db: Database, max_item_bytes: int) -> None:
        self.db = db
        self.max_item_bytes = max_item_bytes

    def normalise(self, items: list[Any], param: str) -> list[dict[str, Any]]:
        """Items in their stored form (ids given), each within the size limit."""
        stored = [normalise_item(item, f"{param}[{i}]") for i, item in enumerate(items)]
        check_sizes(stored, param, self.max_item_bytes)
        return stored

    async def append(
        self,
        repo: StateRepository,
        user_id: int,
        conversation_id: str,
        items: list[dict[str, Any]],
        response_id: str | None = None,
        *,
        once: bool = False,
    ) -> None:
        """Append ``items`` at the end, as added by ``response_id`` if given.

        ``once``: skip if that response's items are there already (an unstored response
        has no row of its own to tell that its save is a replay).
        """
        if once and response_id and await repo.has_items_of(conversation_id, response_id):
            return
        now = utcnow()
        start = await repo.reserve_positions(user_id, conversation_id, len(items), now)
        if start is None:
            param = "conversation" if response_id else None
            raise errors.conversation_not_found(conversation_id, param)
        repo.add_all(
            [
                ConversationItem(
                    conversation_id=conversation_id,
                    position=start + offset,
                    item_id=str(item.get("id", "")),
                    user_id=user_id,
                    response_id=response_id,
                    created_at=now,
                    item=item,
                )
                for offset, item in enumerate(items)
            ]
        )

    async def create(self, user_id: int, items: list[Any] | None, metadata: Any) -> dict[str, Any]:
        stored = self.normalise(items or [], "items")
        now = utcnow()
        row = Conversation(
            id=new_id("conv_"),
            user_id=user_id,
            created_at=now,
            updated_at=now,
            meta=check_metadata(metadata),
            next_position=0,
        )
        async with self.db.session() as session, session.begin():
            repo = StateRepository(session)
            repo.add(row)
            await repo.flush()
            await self.append(repo, user_id, row.id, stored)
        return conversation_out(row)

    async def get(self, user_id: int, conversation_id: str) -> dict[str, Any]:
        async with self.db.session() as session:
            row = await StateRepository(session).conversation(user_id, conversation_id)
        if row is None:
            raise errors.conversation_not_found(conversation_id)
        return conversation_out(row)

    async def update(self, user_id: int, conversation_id: str, metadata: Any) -> dict[str, Any]:
        """Replace the metadata (OpenAI's update replaces it whole)."""
        meta = check_metadata(metadata)
        async with self.db.session() as session, session.begin():
            row = await StateRepository(session).conversation(user_id, conversation_id)
            if row is None:
                raise errors.conversation_not_found(conversation_id)
            row.meta = meta
            row.updated_at = utcnow()
        return conversation_out(row)

    async def delete(self, user_id: int, conversation_id: str) -> None:
        """Delete the conversation and its items; the responses that used it stay."""
        async with self.db.session() as session, session.begin():
            repo = StateRepository(session)
            if await repo.conversation(user_id, conversation_id) is None:
                raise errors.conversation_not_found(conversation_id)
            await repo.delete_conversation(conversation_id)

    async def add_items(
        self, user_id: int, conversation_id: str, items: list[Any]
    ) -> list[dict[str, Any]]:
        stored = self.normalise(items, "items")
        async with self.db.session() as session, session.begin():
            await self.append(StateRepository(session), user_id, conversation_id, stored)
        return stored

    async def all_items(
        self, user_id: int, conversation_id: str, param: str | None = None
    ) -> list[dict[str, Any]]:
        async with self.db.session() as session:
            repo = StateRepository(session)
            if await repo.conversation(user_id, conversation_id) is None:
                raise errors.conversation_not_found(conversation_id, param)
            return await repo.all_items(conversation_id)

    async def items(self, user_id: int, conversation_id: str, query: PageQuery) -> Page:
        async with self.db.session() as session:
            repo = StateRepository(session)
            if await repo.conversation(user_id, conversation_id) is None:
                raise errors.conversation_not_found(conversation_id)
            page = await repo.items(conversation_id, query)
        if page is None:
            raise errors.bad_cursor(str(query.after))
        return page

    async def item(self, user_id: int, conversation_id: str, item_id: str) -> dict[str, Any]:
        async with self.db.session() as session:
            repo = StateRepository(session)
            if await repo.conversation(user_id, conversation_id) is None:
                raise errors.conversation_not_found(conversation_id)
            found = await repo.item(conversation_id, item_id)
        if found is None:
            raise errors.item_not_found(item_id)
        return found

    async def delete_item(self, user_id: int, conversation_id: str, item_id: str) -> dict[str, Any]:
        """Remove the item (every copy of its id) and return the conversation."""
        async with self.db.session() as session, session.begin():
            repo = StateRepository(session)
            row = await repo.conversation(user_id, conversation_id)
            if row is None:
                raise errors.conversation_not_found(conversation_id)
            if not await repo.delete_item(conversation_id, item_id):
                raise errors.item_not_found(item_id)
            row.updated_at = utcnow()
        return conversation_out(row)
