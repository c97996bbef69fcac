"""Queries over stored responses, conversations and chat completions. Never commits.

Every read of a parent filters on its owner; items are read through a parent already
checked, by position (the primary key), so a page costs one index range scan.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    CursorResult,
    Integer,
    Select,
    and_,
    delete,
    func,
    literal_column,
    or_,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from relaygate.state.models import (
    CompactionSummary,
    Conversation,
    ConversationItem,
    ResponseEvents,
    ResponseItem,
    StoredCompletion,
    StoredResponse,
)
from relaygate.state.schemas import Page, PageQuery

__all__ = ["CompletionFilter", "StateRepository"]

CompletionFilter = tuple[str | None, dict[str, str]]  # model, metadata pairs
_MAX_CHAIN = 100_000  # a guard only: chains are acyclic by construction


class StateRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def add(self, row: object) -> None:
        self.session.add(row)

    def add_all(self, rows: list[Any]) -> None:
        self.session.add_all(rows)

    async def flush(self) -> None:
        await self.session.flush()

    # ------------------------------------------------------------------ responses
    async def response(self, user_id: int, response_id: str) -> StoredResponse | None:
        row = await self.session.get(StoredResponse, response_id)
        return row if row is not None and row.user_id == user_id else None

    async def response_known(self, response_id: str) -> bool:
        """Whether any user's response has this id (a replayed save is a no-op)."""
        return await self.session.get(StoredResponse, response_id) is not None

    async def chain_items(self, user_id: int, response_id: str) -> list[dict[str, Any]]:
        """The items of ``response_id`` and its ancestors, oldest response first.

        One recursive query walks ``previous_response_id``; a deleted ancestor ends the
        chain there, as it does at OpenAI.
        """
        top = (
            select(
                StoredResponse.id,
                StoredResponse.previous_response_id,
                literal_column("0", Integer).label("depth"),
            )
            .where(StoredResponse.id == response_id, StoredResponse.user_id == user_id)
            .cte("chain", recursive=True)
        )
        parent = select(
            StoredResponse.id, StoredResponse.previous_response_id, top.c.depth + 1
        ).where(
            StoredResponse.id == top.c.previous_response_id,
            StoredResponse.user_id == user_id,
            top.c.depth < _MAX_CHAIN,
        )
        chain = top.union_all(parent)
        statement = (
            select(ResponseItem.item)
            .join(chain, ResponseItem.response_id == chain.c.id)
            .order_by(chain.c.depth.desc(), ResponseItem.position)
        )
        return list(await self.session.scalars(statement))

    async def input_items(self, response_id: str, query: PageQuery) -> Page | None:
        where = [ResponseItem.response_id == response_id, ResponseItem.role == "input"]
        return await self._item_page(ResponseItem, where, query)

    async def delete_response(self, user_id: int, response_id: str) -> bool:
        if await self.response(user_id, response_id) is None:
            return False
        await self.session.execute(
            delete(ResponseItem).where(ResponseItem.response_id == response_id)
        )
        await self.session.execute(
            delete(ResponseEvents).where(ResponseEvents.response_id == response_id)
        )
        await self.session.execute(delete(StoredResponse).where(StoredResponse.id == response_id))
        return True

    # ------------------------------------------------------------------ background runs
    async def transition(
        self, response_id: str, among: frozenset[str], status: str, body: dict[str, Any]
    ) -> bool:
        """Set status and body if the status is one of ``among``; False if it was not.

        One conditional ``UPDATE``: of a run finishing and a cancel racing for the same
        response, exactly one wins (the loser's row lock waits, then re-checks).
        """
        result = await self.session.execute(
            update(StoredResponse)
            .where(StoredResponse.id == response_id, StoredResponse.status.in_(among))
            .values(status=status, body=body)
        )
        return bool(cast(CursorResult[Any], result).rowcount)

    async def items_of(self, response_id: str, role: str) -> list[dict[str, Any]]:
        statement = (
            select(ResponseItem.item)
            .where(ResponseItem.response_id == response_id, ResponseItem.role == role)
            .order_by(ResponseItem.position)
        )
        return [dict(item) for item in await self.session.scalars(statement)]

    async def item_count(self, response_id: str) -> int:
        count = await self.session.scalar(
            select(func.count()).where(ResponseItem.response_id == response_id)
        )
        return int(count or 0)

    async def events_after(self, response_id: str, after: int) -> list[dict[str, Any]]:
        """Stored stream events numbered above ``after``, in order."""
        statement = (
            select(ResponseEvents.events)
            .where(ResponseEvents.response_id == response_id, ResponseEvents.last > after)
            .order_by(ResponseEvents.first)
        )
        batches = await self.session.scalars(statement)
        return [e for batch in batches for e in batch if int(e["sequence_number"]) > after]

    async def last_event(self, response_id: str) -> dict[str, Any] | None:
        statement = (
            select(ResponseEvents.events)
            .where(ResponseEvents.response_id == response_id)
            .order_by(ResponseEvents.first.desc())
            .limit(1)
        )
        batch = await self.session.scalar(statement)
        return dict(batch[-1]) if batch else None

    async def running(self, among: frozenset[str], created_before: datetime) -> list[str]:
        statement = select(StoredResponse.id).where(
            StoredResponse.status.in_(among),
            StoredResponse.background.is_(True),
            StoredResponse.created_at < created_before,
        )
        return list(await self.session.scalars(statement))

    async def with_status(self, ids: list[str], among: frozenset[str]) -> set[str]:
        statement = select(StoredResponse.id).where(
            StoredResponse.id.in_(ids), StoredResponse.status.in_(among)
        )
        return set(await self.session.scalars(statement))

    # ------------------------------------------------------------------ conversations
    async def conversation(self, user_id: int, conversation_id: str) -> Conversation | None:
        row = await self.session.get(Conversation, conversation_id)
        return row if row is not None and row.user_id == user_id else None

    async def reserve_positions(
        self, user_id: int, conversation_id: str, count: int, now: datetime
    ) -> int | None:
        """Take ``count`` positions at the end of the conversation; None if not the user's.

        ``UPDATE … RETURNING`` locks the row until commit, so concurrent appends queue.
        """
        end = await self.session.scalar(
            update(Conversation)
            .where(Conversation.id == conversation_id, Conversation.user_id == user_id)
            .values(next_position=Conversation.next_position + count, updated_at=now)
            .returning(Conversation.next_position)
        )
        return None if end is None else int(end) - count

    async def has_items_of(self, conversation_id: str, response_id: str) -> bool:
        found = await self.session.scalar(
            select(ConversationItem.position)
            .where(
                ConversationItem.conversation_id == conversation_id,
                ConversationItem.response_id == response_id,
            )
            .limit(1)
        )
        return found is not None

    async def all_items(self, conversation_id: str) -> list[dict[str, Any]]:
        statement = (
            select(ConversationItem.item)
            .where(ConversationItem.conversation_id == conversation_id)
            .order_by(ConversationItem.position)
        )
        return list(await self.session.scalars(statement))

    async def items(self, conversation_id: str, query: PageQuery) -> Page | None:
        where = [ConversationItem.conversation_id == conversation_id]
        return await self._item_page(ConversationItem, where, query)

    async def item(self, conversation_id: str, item_id: str) -> dict[str, Any] | None:
        found = await self.session.scalar(
            select(ConversationItem.item)
            .where(
                ConversationItem.conversation_id == conversation_id,
                ConversationItem.item_id == item_id,
            )
            .order_by(ConversationItem.position)
            .limit(1)
        )
        return None if found is None else dict(found)

    async def delete_item(self, conversation_id: str, item_id: str) -> bool:
        result = await self.session.execute(
            delete(ConversationItem).where(
                ConversationItem.conversation_id == conversation_id,
                ConversationItem.item_id == item_id,
            )
        )
        return bool(cast(CursorResult[Any], result).rowcount)

    async def delete_conversation(self, conversation_id: str) -> None:
        await self.session.execute(
            delete(ConversationItem).where(ConversationItem.conversation_id == conversation_id)
        )
        await self.session.execute(delete(Conversation).where(Conversation.id == conversation_id))

    # ------------------------------------------------------------------ chat completions
    async def completion(self, user_id: int, completion_id: str) -> StoredCompletion | None:
        return await self.session.get(StoredCompletion, (user_id, completion_id))

    async def completions(
        self, user_id: int, where: CompletionFilter, query: PageQuery
    ) -> list[StoredCompletion] | None:
        """A page of the user's completions in creation order (``limit + 1`` rows)."""
        model, metadata = where
        statement = select(StoredCompletion).where(StoredCompletion.user_id == user_id)
        if model is not None:
            statement = statement.where(StoredCompletion.model == model)
        for key, value in metadata.items():
            field = cast(Any, StoredCompletion.meta)[key].as_string()
            statement = statement.where(field == value)
        if query.after is not None:
            anchor = await self.completion(user_id, query.after)
            if anchor is None:
                return None
            statement = statement.where(_beyond(anchor, query.descending))
        created, ident = StoredCompletion.created_at, StoredCompletion.id
        order = (created.desc(), ident.desc()) if query.descending else (created, ident)
        return list(await self.session.scalars(statement.order_by(*order).limit(query.limit + 1)))

    async def delete_completion(self, user_id: int, completion_id: str) -> bool:
        result = await self.session.execute(
            delete(StoredCompletion).where(
                StoredCompletion.user_id == user_id, StoredCompletion.id == completion_id
            )
        )
        return bool(cast(CursorResult[Any], result).rowcount)

    # ------------------------------------------------------------------ retention
    async def sweep(self, cutoff: datetime) -> int:
        """Delete what was last written before ``cutoff``; returns the parents removed."""
        old_responses = select(StoredResponse.id).where(StoredResponse.created_at < cutoff)
        old_conversations = select(Conversation.id).where(Conversation.updated_at < cutoff)
        await self.session.execute(
            delete(ResponseItem).where(ResponseItem.response_id.in_(old_responses))
        )
        await self.session.execute(
            delete(ResponseEvents).where(ResponseEvents.response_id.in_(old_responses))
        )
        await self.session.execute(
            delete(ConversationItem).where(ConversationItem.conversation_id.in_(old_conversations))
        )
        removed = 0
        for statement in (
            delete(StoredResponse).where(StoredResponse.created_at < cutoff),
            delete(Conversation).where(Conversation.updated_at < cutoff),
            delete(StoredCompletion).where(StoredCompletion.created_at < cutoff),
            delete(CompactionSummary).where(CompactionSummary.created_at < cutoff),
        ):
            result = await self.session.execute(statement)
            removed += cast(CursorResult[Any], result).rowcount
        return removed

    # ------------------------------------------------------------------ paging
    async def _item_page(
        self,
        model: type[ResponseItem] | type[ConversationItem],
        where: list[ColumnElement[bool]],
        query: PageQuery,
    ) -> Page | None:
        """A page by position after the item ``query.after``; None if it is not there."""
        position = model.position
        statement: Select[Any] = select(model.item).where(*where)
        if query.after is not None:
            anchor = await self.session.scalar(
                select(position)
                .where(*where, model.item_id == query.after)
                .order_by(position)
                .limit(1)
            )
            if anchor is None:
                return None
            statement = statement.where(
                position < anchor if query.descending else position > anchor
            )
        order = position.desc() if query.descending else position
        rows = list(await self.session.scalars(statement.order_by(order).limit(query.limit + 1)))
        return Page([dict(r) for r in rows[: query.limit]], len(rows) > query.limit)


def _beyond(anchor: StoredCompletion, descending: bool) -> ColumnElement[bool]:
    """Rows after ``anchor`` in (created_at, id) order, or before it when descending."""
    created, ident = StoredCompletion.created_at, StoredCompletion.id
    if descending:
        return or_(
            created < anchor.created_at,
            and_(created == anchor.created_at, ident < anchor.id),
        )
    return or_(created > anchor.created_at, and_(created == anchor.created_at, ident > anchor.id))
