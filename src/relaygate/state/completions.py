"""Stored chat completions: the ones created with ``store: true``, per user.

What is kept is what OpenAI lets a caller read back: the completion as answered, the
request's messages and its metadata (the only field a caller may change afterwards).
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy.exc import IntegrityError

from relaygate.core.clock import utcnow
from relaygate.db.engine import Database
from relaygate.state import errors
from relaygate.state.items import chat_message, check_sizes
from relaygate.state.models import StoredCompletion
from relaygate.state.repository import StateRepository
from relaygate.state.schemas import Page, PageQuery, check_metadata

__all__ = ["StoredCompletions", "completion_out"]

log = logging.getLogger(__name__)


def completion_out(row: StoredCompletion) -> dict[str, Any]:
    """The completion as answered, with its current metadata."""
    return {**row.completion, "metadata": row.meta}


class StoredCompletions:
    def __init__(self, db: Database, max_item_bytes: int) -> None:
        self.db = db
        self.max_item_bytes = max_item_bytes

    async def save(self, user_id: int, request: dict[str, Any], completion: dict[str, Any]) -> None:
        """Store the completion once; saving the same id again for the user is a no-op."""
        completion_id = str(completion["id"])
        messages = list(request.get("messages") or [])
        check_sizes(messages, "messages", self.max_item_bytes)
        check_sizes([completion], "completion", self.max_item_bytes)
        metadata = request.get("metadata")
        row = StoredCompletion(
            user_id=user_id,
            id=completion_id,
            created_at=utcnow(),
            model=str(completion.get("model") or request.get("model") or ""),
            meta=dict(metadata) if isinstance(metadata, dict) else {},
            messages=messages,
            completion=completion,
        )
        try:
            async with self.db.session() as session, session.begin():
                repo = StateRepository(session)
                if await repo.completion(user_id, completion_id) is None:
                    repo.add(row)
        except IntegrityError:  # a concurrent save of the same completion won the race
            log.info("completion %s was saved concurrently; keeping the first", completion_id)

    async def search(
        self, user_id: int, model: str | None, metadata: dict[str, str], query: PageQuery
    ) -> Page:
        async with self.db.session() as session:
            rows = await StateRepository(session).completions(user_id, (model, metadata), query)
        if rows is None:
            raise errors.bad_cursor(str(query.after))
        data = [completion_out(row) for row in rows[: query.limit]]
        return Page(data, len(rows) > query.limit)

    async def get(self, user_id: int, completion_id: str) -> dict[str, Any]:
        async with self.db.session() as session:
            row = await StateRepository(session).completion(user_id, completion_id)
        if row is None:
            raise errors.completion_not_found(completion_id)
        return completion_out(row)

    async def update(self, user_id: int, completion_id: str, metadata: Any) -> dict[str, Any]:
        """Replace the metadata, the one field OpenAI lets a caller change."""
        meta = check_metadata(metadata)
        async with self.db.session() as session, session.begin():
            row = await StateRepository(session).completion(user_id, completion_id)
            if row is None:
                raise errors.completion_not_found(completion_id)
            row.meta = meta
        return completion_out(row)

    async def delete(self, user_id: int, completion_id: str) -> None:
        async with self.db.session() as session, session.begin():
            if not await StateRepository(session).delete_completion(user_id, completion_id):
                raise errors.completion_not_found(completion_id)

    async def messages(self, user_id: int, completion_id: str, query: PageQuery) -> Page:
        """A page of the request's messages (ids ``{completion_id}-{index}``)."""
        async with self.db.session() as session:
            row = await StateRepository(session).completion(user_id, completion_id)
        if row is None:
            raise errors.completion_not_found(completion_id)
        shown = [chat_message(completion_id, i, m) for i, m in enumerate(row.messages)]
        if query.descending:
            shown.reverse()
        if query.after is not None:
            ids = [m["id"] for m in shown]
            if query.after not in ids:
                raise errors.bad_cursor(query.after)
            shown = shown[ids.index(query.after) + 1 :]
        return Page(shown[: query.limit], len(shown) > query.limit)
