"""Use cases of the state the gateway owns: stored Responses (and their chains),
Conversations and stored chat completions.

Why the gateway stores them itself: a ``previous_response_id`` or a ``conversation``
must work on every upstream (an Anthropic or local model cannot resolve OpenAI's ids),
so the history lives here, per user, and the relay replays it to whichever channel
answers. The relay calls :meth:`StateService.history` / :meth:`conversation_items`
before the upstream call and :meth:`save_response` / :meth:`save_chat_completion`
before the answer completes; the HTTP routes (``state/api.py``) read and edit the rest.
Each method is one transaction. Another user's id is "not found", never "forbidden".
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from relaygate.core.clock import utcnow
from relaygate.core.tasks import cancel_and_wait
from relaygate.db.engine import Database
from relaygate.kv.protocols import PubSub
from relaygate.state import errors
from relaygate.state.background import BackgroundResponses
from relaygate.state.compactions import Compactions
from relaygate.state.completions import StoredCompletions
from relaygate.state.conversations import Conversations
from relaygate.state.items import check_sizes, with_id
from relaygate.state.models import ResponseItem, StoredResponse
from relaygate.state.replay import RUNNING
from relaygate.state.repository import StateRepository
from relaygate.state.schemas import Page, PageQuery
from relaygate.state.signals import Signals

__all__ = ["StateService"]

log = logging.getLogger(__name__)


class StateService:
    """The one entry point to stored state, for the relay and for the HTTP routes.

    ``max_item_bytes`` bounds any one stored item (an input or output item, a chat
    message, a completion); ``retention_days`` (0: keep until deleted) is enforced by
    :meth:`sweep`. Conversations, stored chat completions and background responses have
    their own use-case objects (``conversations``, ``completions``, ``background``).
    ``pubsub`` carries the background responses' signals between replicas (in-process
    when not given).
    """

    def __init__(
        self,
        db: Database,
        *,
        max_item_bytes: int,
        retention_days: int,
        pubsub: PubSub | None = None,
        compaction_secret: str | None = None,
    ) -> None:
        self.db = db
        self.max_item_bytes = max_item_bytes
        self.retention_days = retention_days
        self.conversations = Conversations(db, max_item_bytes)
        self.completions = StoredCompletions(db, max_item_bytes)
        self.compactions = Compactions(db, compaction_secret)  # compacted conversations
        self.signals = Signals(pubsub)
        self.background = BackgroundResponses(db, self.conversations, self.signals, max_item_bytes)
        self._sweeper: asyncio.Task[None] | None = None

    async def start(self, sweep_interval: float) -> None:
        """Listen for the background signals and start the retention sweep (with
        ``retention_days`` 0 there is nothing to sweep)."""
        await self.signals.start()
        await self.compactions.secret()  # generated now, not by the first compaction
        if self.retention_days > 0 and self._sweeper is None:
            self._sweeper = asyncio.create_task(self.sweep_every(sweep_interval))

    async def close(self) -> None:
        await cancel_and_wait(self._sweeper)
        self._sweeper = None
        await self.signals.close()

    def check_items(self, items: list[Any], param: str) -> None:
        """Refuse (400) an item larger than the gateway stores; the relay may call this
        before the upstream call, so a too-large item never costs a call."""
        check_sizes(items, param, self.max_item_bytes)

    # ------------------------------------------------------------ the relay's calls
    async def history(self, user_id: int, previous_response_id: str) -> list[dict[str, Any]]:
        """The chain's items oldest first: each response's input items, then its output."""
        async with self.db.session() as session:
            repo = StateRepository(session)
            if await repo.response(user_id, previous_response_id) is None:
                raise errors.previous_response_not_found(previous_response_id)
            return await repo.chain_items(user_id, previous_response_id)

    async def conversation_items(self, user_id: int, conversation_id: str) -> list[dict[str, Any]]:
        """All the conversation's items, oldest first (404, param ``conversation``)."""
        return await self.conversations.all_items(user_id, conversation_id, "conversation")

    async def save_response(
        self,
        user_id: int,
        response: dict[str, Any],
        input_items: list[dict[str, Any]],
        *,
        conversation_id: str | None,
    ) -> None:
        """Store the Response (unless ``store`` is false) and append its input and output
        items to ``conversation_id`` (even when not stored, as OpenAI does).

        One transaction; saving the same response id again changes nothing.
        """
        response_id = str(response["id"])
        inputs = self.conversations.normalise(input_items, "input")
        outputs = [with_id(item) for item in response.get("output") or []]
        self.check_items(outputs, "output")
        body = {**response, "output": outputs}
        stored = response.get("store") is not False
        try:
            async with self.db.session() as session, session.begin():
                repo = StateRepository(session)
                if stored:
                    if await repo.response_known(response_id):
                        return  # saved before, conversation items included
                    repo.add(_response_row(user_id, body))
                    await repo.flush()
                    repo.add_all(_response_items(user_id, response_id, inputs, outputs))
                if conversation_id is not None:
                    await self.conversations.append(
                        repo,
                        user_id,
                        conversation_id,
                        inputs + outputs,
                        response_id,
                        once=not stored,
                    )
        except IntegrityError:  # a concurrent save of the same response won the race
            log.info("response %s was saved concurrently; keeping the first", response_id)

    async def save_chat_completion(
        self, user_id: int, request: dict[str, Any], completion: dict[str, Any]
    ) -> None:
        """Store a ``store: true`` chat completion with the request's messages and metadata;
        saving the same completion id again for the same user changes nothing."""
        await self.completions.save(user_id, request, completion)

    # ------------------------------------------------------------ stored responses
    async def response(self, user_id: int, response_id: str) -> dict[str, Any]:
        async with self.db.session() as session:
            row = await StateRepository(session).response(user_id, response_id)
        if row is None:
            raise errors.response_not_found(response_id)
        return row.body

    async def delete_response(self, user_id: int, response_id: str) -> None:
        """Delete the response and its items; responses chained after it stay, and their
        history now starts after it. Conversation items it added stay in the conversation.
        A background response still running is stopped as if cancelled."""
        async with self.db.session() as session, session.begin():
            repo = StateRepository(session)
            row = await repo.response(user_id, response_id)
            running = row is not None and row.background and row.status in RUNNING
            if not await repo.delete_response(user_id, response_id):
                raise errors.response_not_found(response_id)
        if running:
            await self.signals.cancelled(response_id)

    async def input_items(self, user_id: int, response_id: str, query: PageQuery) -> Page:
        async with self.db.session() as session:
            repo = StateRepository(session)
            if await repo.response(user_id, response_id) is None:
                raise errors.response_not_found(response_id)
            page = await repo.input_items(response_id, query)
        if page is None:
            raise errors.bad_cursor(str(query.after))
        return page

    async def cancel_response(self, user_id: int, response_id: str) -> dict[str, Any]:
        """Cancel a queued or running background response (see ``background.cancel``)."""
        return await self.background.cancel(user_id, response_id)

    # ------------------------------------------------------------ retention
    async def sweep(self, now: datetime | None = None) -> int:
        """Delete state older than ``retention_days``: responses and stored completions by
        creation, conversations by their last change. Returns the objects removed."""
        if self.retention_days <= 0:
            return 0
        cutoff = (now or utcnow()) - timedelta(days=self.retention_days)
        async with self.db.session() as session, session.begin():
            return await StateRepository(session).sweep(cutoff)

    async def sweep_every(self, interval: float) -> None:
        """Run :meth:`sweep` periodically; every replica may run it (deletes are idempotent)."""
        while True:
            await asyncio.sleep(interval)
            try:
                removed = await self.sweep()
            except SQLAlchemyError:
                log.warning("the state retention sweep failed; retrying later", exc_info=True)
            else:
                if removed:
                    log.info("retention: removed %d stored objects", removed)


def _response_row(user_id: int, body: dict[str, Any]) -> StoredResponse:
    conversation = body.get("conversation")
    return StoredResponse(
        id=str(body["id"]),
        user_id=user_id,
        created_at=utcnow(),
        model=str(body.get("model") or ""),
        status=str(body.get("status") or "completed"),
        background=bool(body.get("background")),
        previous_response_id=body.get("previous_response_id"),
        conversation_id=conversation.get("id") if isinstance(conversation, dict) else None,
        body=body,
    )


def _response_items(
    user_id: int,
    response_id: str,
    inputs: list[dict[str, Any]],
    outputs: list[dict[str, Any]],
) -> list[ResponseItem]:
    roles = [("input", item) for item in inputs] + [("output", item) for item in outputs]
    return [
        ResponseItem(
            response_id=response_id,
            position=position,
            item_id=str(item.get("id", "")),
            user_id=user_id,
            role=role,
            item=item,
        )
        for position, (role, item) in enumerate(roles)
    ]
