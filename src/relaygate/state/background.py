"""The stored side of background responses (``background: true``), docs/state.md.

The relay stores a background Response as ``queued`` before it answers (with
``StateService.save_response``) and then runs the turn as a task; everything after that
is here. Status moves by conditional updates only, so a run, a cancel and the stale
sweep can race for a response and exactly one wins each move::

    queued -> in_progress -> completed | incomplete | failed     (the run)
    queued | in_progress  -> cancelled                           (the cancel route)
    queued | in_progress  -> failed                              (shutdown, stale sweep)

The run stores its stream events as it goes (:meth:`record`; the last ones with the
final status, :meth:`finish`), so any replica can replay them, live while the run goes
on (:meth:`replay`): it reads what is stored, then waits for the run's ``events``
signal (or its next poll) and reads again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from relaygate.core.errors import InvalidRequest
from relaygate.db.engine import Database
from relaygate.state import errors
from relaygate.state.conversations import Conversations
from relaygate.state.items import check_sizes, with_id
from relaygate.state.models import ResponseEvents, ResponseItem, StoredResponse
from relaygate.state.replay import RUNNING, TERMINAL_EVENTS, closing_event, frame, synthesise
from relaygate.state.repository import StateRepository
from relaygate.state.signals import Signals

__all__ = ["BackgroundResponses"]

log = logging.getLogger(__name__)

_POLL = 1.0  # seconds a follower waits for a signal before it reads again anyway
_KEEPALIVE = 15.0  # seconds of silence before a follower gets an SSE comment
_CANCELLED = frozenset({"cancelled"})


class BackgroundResponses:
    def __init__(
        self, db: Database, conversations: Conversations, signals: Signals, max_item_bytes: int
    ) -> None:
        self.db = db
        self.conversations = conversations
        self.signals = signals
        self.max_item_bytes = max_item_bytes

    # ------------------------------------------------------------ the run's calls
    async def begin(self, response: dict[str, Any]) -> bool:
        """``queued`` -> ``in_progress``; False when it is no longer queued (cancelled)."""
        body = {**response, "status": "in_progress"}
        async with self.db.session() as session, session.begin():
            return await StateRepository(session).transition(
                str(response["id"]), frozenset({"queued"}), "in_progress", body
            )

    async def finish(
        self, user_id: int, response: dict[str, Any], events: list[dict[str, Any]]
    ) -> str:
        """Store the run's final Response with its last ``events`` (one transaction, so a
        follower sees the terminal event and the final status together); returns the
        status the response now has.

        A response cancelled meanwhile stays ``cancelled`` (with what the run produced);
        otherwise its output items are stored and, with a conversation, its input and
        output items appended to it, as for any response.
        """
        response_id = str(response["id"])
        outputs = [with_id(item) for item in response.get("output") or []]
        check_sizes(outputs, "output", self.max_item_bytes)
        body = {**response, "output": outputs}
        status = str(body.get("status") or "completed")
        async with self.db.session() as session, session.begin():
            repo = StateRepository(session)
            if await repo.transition(response_id, RUNNING, status, body):
                _add_events(repo, response_id, events)
                await self._add_outputs(repo, user_id, response_id, outputs)
            else:
                status = await self._after_cancel(repo, user_id, body, events)
        await self._signal(response_id, events)
        return status

    async def _add_outputs(
        self, repo: StateRepository, user_id: int, response_id: str, outputs: list[dict[str, Any]]
    ) -> None:
        """The output items after the input ones, and both to the conversation if any."""
        start = await repo.item_count(response_id)
        repo.add_all(
            [
                ResponseItem(
                    response_id=response_id,
                    position=start + offset,
                    item_id=str(item.get("id", "")),
                    user_id=user_id,
                    role="output",
                    item=item,
                )
                for offset, item in enumerate(outputs)
            ]
        )
        row = await repo.response(user_id, response_id)
        if row is not None and row.conversation_id is not None:
            inputs = await repo.items_of(response_id, "input")
            await self.conversations.append(
                repo, user_id, row.conversation_id, inputs + outputs, response_id
            )

    async def _after_cancel(
        self,
        repo: StateRepository,
        user_id: int,
        body: dict[str, Any],
        events: list[dict[str, Any]],
    ) -> str:
        """The run lost the race: a cancelled response keeps its output (a deleted one
        is gone, and its run's last events with it)."""
        response_id = str(body["id"])
        row = await repo.response(user_id, response_id)
        if row is None:
            return "deleted"
        if row.status == "cancelled":
            await self._keep(repo, body, events)
        return row.status

    async def keep_cancelled(self, response: dict[str, Any], events: list[dict[str, Any]]) -> None:
        """A cancelled run's last word: the output and usage it got before it stopped,
        and its last events."""
        async with self.db.session() as session, session.begin():
            await self._keep(StateRepository(session), response, events)
        await self._signal(str(response["id"]), events)

    @staticmethod
    async def _keep(
        repo: StateRepository, response: dict[str, Any], events: list[dict[str, Any]]
    ) -> None:
        response_id = str(response["id"])
        body = {**response, "status": "cancelled", "completed_at": None}
        if await repo.transition(response_id, _CANCELLED, "cancelled", body):
            _add_events(repo, response_id, events)

    async def record(self, response_id: str, events: list[dict[str, Any]]) -> None:
        """Store a batch of stream events (numbered) and tell the followers. Replay is
        best effort: a batch the database refuses is logged and lost, the run goes on."""
        if not events:
            return
        try:
            async with self.db.session() as session, session.begin():
                _add_events(StateRepository(session), response_id, events)
        except SQLAlchemyError:
            log.warning("%d events of %s were not stored", len(events), response_id)
            return
        await self._signal(response_id, events)

    async def _signal(self, response_id: str, events: list[dict[str, Any]]) -> None:
        if events:
            with contextlib.suppress(Exception):  # a lost signal only delays the followers
                await self.signals.stored_events(response_id)

    # ------------------------------------------------------------ cancel
    async def cancel(self, user_id: int, response_id: str) -> dict[str, Any]:
        """``POST /v1/responses/{id}/cancel``: a queued or running background response
        becomes ``cancelled`` and its run is told to stop, wherever it runs. Cancelling
        it again returns it unchanged; any other response is a 400."""
        async with self.db.session() as session, session.begin():
            repo = StateRepository(session)
            row = await repo.response(user_id, response_id)
            if row is None:
                raise errors.response_not_found(response_id)
            if not row.background:
                raise InvalidRequest(
                    "Only responses created with background=true can be cancelled."
                )
            body = {**row.body, "status": "cancelled"}
            if row.status in RUNNING and await repo.transition(
                response_id, RUNNING, "cancelled", body
            ):
                won = True
            else:
                await session.refresh(row)
                won, body = False, row.body
                if row.status != "cancelled":
                    raise InvalidRequest(f"Cannot cancel a response with status '{row.status}'.")
        if won:
            await self.signals.cancelled(response_id)
        return body

    # ------------------------------------------------------------ shutdown and crashes
    async def fail(self, response_id: str, message: str) -> bool:
        """Mark a response that will never finish ``failed`` (if it is still running)."""
        async with self.db.session() as session, session.begin():
            repo = StateRepository(session)
            row = await session.get(StoredResponse, response_id)
            if row is None or row.status not in RUNNING:
                return False
            error = {"code": "server_error", "message": message}
            body = {**row.body, "status": "failed", "error": error}
            return await repo.transition(response_id, RUNNING, "failed", body)

    async def running(self, created_before: datetime) -> list[str]:
        """Background responses still queued or in progress, created before the time."""
        async with self.db.session() as session:
            return await StateRepository(session).running(RUNNING, created_before)

    async def stopped_among(self, response_ids: list[str]) -> set[str]:
        """Those no longer queued or in progress (cancelled, or deleted) in the database."""
        if not response_ids:
            return set()
        async with self.db.session() as session:
            running = await StateRepository(session).with_status(response_ids, RUNNING)
        return set(response_ids) - running

    # ------------------------------------------------------------ replay
    async def replay(
        self, user_id: int, response_id: str, starting_after: int
    ) -> AsyncIterator[bytes]:
        """The response's events after ``starting_after`` as SSE frames (404 first if
        the response is not the user's): stored ones, then, while it runs, the rest."""
        async with self.db.session() as session:
            row = await StateRepository(session).response(user_id, response_id)
        if row is None:
            raise errors.response_not_found(response_id)
        after = starting_after
        if not row.background:
            return _frames([e for e in synthesise(row.body) if e["sequence_number"] > after])
        return self._follow(response_id, after)

    async def _follow(self, response_id: str, after: int) -> AsyncIterator[bytes]:
        clock = asyncio.get_running_loop().time
        last = clock()
        with self.signals.watch(response_id) as woken:
            while True:
                woken.clear()
                row, events = await self._read(response_id, after)
                if events:
                    last = clock()
                elif clock() - last >= _KEEPALIVE:  # proxies cut silent streams
                    last = clock()
                    yield b": keep-alive\n\n"
                for event in events:
                    after = int(event["sequence_number"])
                    yield frame(event)
                    if event.get("type") in TERMINAL_EVENTS:
                        return
                if row is None:  # deleted meanwhile
                    return
                if row[0] not in RUNNING:  # finished: its events were all stored before
                    closing = await self._closing(response_id, row[1])
                    if closing is not None and closing["sequence_number"] > after:
                        yield frame(closing)
                    return
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(woken.wait(), _POLL)

    async def _closing(self, response_id: str, response: dict[str, Any]) -> dict[str, Any] | None:
        """The terminal event a finished response's stored events lack (its run was cut
        off by a crash), made from the stored Response; None when they have it."""
        async with self.db.session() as session:
            last = await StateRepository(session).last_event(response_id)
        if last is not None and last.get("type") in TERMINAL_EVENTS:
            return None
        return closing_event(response, 0 if last is None else int(last["sequence_number"]) + 1)

    async def _read(
        self, response_id: str, after: int
    ) -> tuple[tuple[str, dict[str, Any]] | None, list[dict[str, Any]]]:
        """The status first, then the events: a run stores its last events before its
        final status, so a finished status means every event is readable."""
        async with self.db.session() as session:
            row = await session.get(StoredResponse, response_id)
            state = None if row is None else (row.status, row.body)
            return state, await StateRepository(session).events_after(response_id, after)


def _add_events(repo: StateRepository, response_id: str, events: list[dict[str, Any]]) -> None:
    if events:
        first, last = events[0]["sequence_number"], events[-1]["sequence_number"]
        repo.add(ResponseEvents(response_id=response_id, first=first, last=last, events=events))


async def _frames(events: list[dict[str, Any]]) -> AsyncIterator[bytes]:
    for event in events:
        yield frame(event)
