"""One background run: the upstream call of a ``background: true`` response, start to end.

:class:`RunDriver` calls the upstream (always streaming), taps the events
(:class:`~relaygate.relay.background_events.EventTap`) for the live client and the
store, and ends the run in one of four ways, each stored through
``StateService.background`` and recorded by the billing rules of ``relay/background.py``:

* the answer is complete: billed (durable before the terminal event is visible), then
  stored ``completed`` or ``incomplete``;
* the upstream failed or refused: stored ``failed``, not billed;
* cancelled (``Run.reason`` ``cancelled``): the upstream call is cut, the output so far
  is kept on the ``cancelled`` response, and the call is billed like a client that hung
  up (what the upstream produced; nothing when it produced nothing);
* cut by shutdown (``shutdown``): stored ``failed``, not billed.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import sys
from dataclasses import dataclass, field
from typing import Any

from relaygate.accounts.principal import Principal
from relaygate.core.errors import RelaygateError
from relaygate.relay.background_events import EventTap
from relaygate.relay.call import CallLifecycle
from relaygate.relay.context import CLIENT_CLOSED, CallContext
from relaygate.relay.crossing import StreamReader, read_reply, stream_reader, upstream_error
from relaygate.relay.dialects import RESPONSES
from relaygate.relay.dialects.openai_chat.request import RequestFacts
from relaygate.relay.dialects.openai_responses.output import failed_response, usage_object
from relaygate.relay.service import Opened, RelayService
from relaygate.relay.stream_answer import stream_usage
from relaygate.relay.turns import Turn
from relaygate.state.replay import synthesise
from relaygate.state.service import StateService

__all__ = ["CANCELLED", "SHUTDOWN", "Call", "Run", "RunDriver"]

log = logging.getLogger(__name__)

CANCELLED, SHUTDOWN = "cancelled", "shutdown"
_FLUSH_EVERY = 0.05  # seconds between two writes of a run's events
GONE = "The gateway running this response stopped before the response was complete."


@dataclass(slots=True, eq=False)
class Call:
    """An admitted ``background: true`` call (authenticated, limited, money held)."""

    lifecycle: CallLifecycle  # identified: its principal is known
    facts: RequestFacts
    payload: dict[str, Any]
    body: bytes
    turn: Turn

    @property
    def ctx(self) -> CallContext:
        return self.lifecycle.ctx

    @property
    def principal(self) -> Principal:
        principal = self.lifecycle.principal
        assert principal is not None  # an admitted call
        return principal


@dataclass(slots=True, eq=False)
class Run:
    call: Call  # its lifecycle the run's own (CallLifecycle.hand_over), the slot with it
    queued: dict[str, Any]  # the Response as first stored
    tap: EventTap
    task: asyncio.Task[None] | None = None
    flusher: asyncio.Task[None] | None = None
    reader: StreamReader | None = None
    reason: str | None = None  # why the gateway stopped it (CANCELLED, SHUTDOWN)
    started: bool = False  # the task is inside its handlers: it may be cancelled
    settling: bool = False  # the answer is complete: only storing and billing are left
    visible: int = 0  # events followers may see (a terminal one only once billed)
    over: bool = False
    changed: asyncio.Event = field(default_factory=asyncio.Event)  # for the live client
    wake: asyncio.Event = field(default_factory=asyncio.Event)  # for the flusher

    @property
    def id(self) -> str:
        return str(self.queued["id"])


class RunDriver:
    def __init__(self, relay: RelayService, state: StateService) -> None:
        self.relay = relay
        self.state = state

    async def drive(self, run: Run) -> None:
        """The run, start to end; whatever happens, the response ends stored and the call
        recorded (billed or not by the rules above)."""
        run.flusher = asyncio.create_task(self._flush_every(run))
        try:
            run.started = True
            if run.reason is None and await self.state.background.begin(run.queued):
                await self._call(run)
            else:
                run.reason = run.reason or CANCELLED
                await self._stopped(run)
        except asyncio.CancelledError:
            if run.reason is None:
                raise
            task = asyncio.current_task()
            if task is not None:
                task.uncancel()
            await self._stopped(run)
        except RelaygateError as err:
            await self._failed(run, err)
        except Exception:  # the top of a task: a bug must not leave the response running
            log.exception("background response %s failed", run.id)
            await self._failed(
                run, RelaygateError("The server had an error processing your request.")
            )
        finally:
            await self._release(run)

    async def _call(self, run: Run) -> None:
        call, ctx = run.call, run.call.ctx
        facts = dataclasses.replace(call.facts, stream=True)
        payload = {k: v for k, v in call.payload.items() if k != "background"}
        payload["stream"] = True
        opened = await self.relay.open(
            ctx, facts, payload, call.body, client=RESPONSES, endpoint=RESPONSES,
            history=call.turn.history,
        )  # fmt: skip
        try:
            if ctx.error is not None:  # an upstream 4xx the caller could act on
                raise upstream_error(opened.upstream, ctx.status, await opened.reply.read())
            if opened.reply.content_type.startswith("text/event-stream"):
                await self._pump(run, opened)
            else:  # an upstream that answered whole although asked to stream
                raw = await opened.reply.read()
                _, usage, answer = read_reply(
                    RESPONSES, opened.upstream, raw, model=facts.model, legacy=False,
                    template=call.turn.template, parsed=opened.parsed,
                )  # fmt: skip
                ctx.usage = usage
                for event in synthesise(answer or {}):
                    run.tap.add(event)
        finally:
            opened.reply.close()
        await self._complete(run)

    async def _pump(self, run: Run, opened: Opened) -> None:
        call = run.call
        reader = run.reader = stream_reader(
            RESPONSES, opened.upstream, model=call.facts.model, request_id=call.ctx.request_id,
            include_usage=False, injected=opened.injected, legacy=False,
            template=call.turn.template, upstream_model=call.ctx.upstream_model,
            mask=call.ctx.mask,
        )  # fmt: skip
        ctx, budget = call.ctx, call.ctx.budget
        limit = budget.tokens if budget is not None else sys.maxsize
        async for chunk in opened.reply.chunks():
            self._emit(run, reader.feed(chunk))
            if reader.finished:
                break
            if reader.delivered >= limit:  # the hold is used up (relay/output_cap.py)
                if not await call.lifecycle.extend():
                    ctx.usage = stream_usage(reader, call.body, whole=False)
                    self._emit(run, reader.stop_at_limit(ctx.usage))
                    return
                limit = budget.tokens if budget is not None else sys.maxsize
        self._emit(run, reader.flush())

    def _emit(self, run: Run, data: bytes) -> None:
        if not data:
            return
        run.tap.feed(data)
        run.visible = run.tap.count - (1 if run.tap.ended else 0)  # the end waits for the bill
        run.changed.set()
        run.wake.set()

    async def _complete(self, run: Run) -> None:
        """The upstream is done: bill, then let the terminal event out, then store."""
        run.settling = True
        call, ctx, reader = run.call, run.call.ctx, run.reader
        if ctx.usage is None and reader is not None:
            ctx.usage = stream_usage(reader, call.body, whole=reader.finished)
        failure = reader.error if reader is not None else None
        response = run.tap.response
        if response is None:
            failure = failure or "the upstream's stream ended before the response was complete"
            response = self._fail_events(run, failure)
        if failure:
            ctx.fail(502, f"the upstream reported an error mid-stream: {failure}")
            self.relay.broke(ctx)
        else:
            ctx.status = 200
            await call.lifecycle.finish()  # durable before anyone sees the terminal event
        await self._end(run, response)

    async def _failed(self, run: Run, err: RelaygateError) -> None:
        """The call failed (upstream error, refusal): stored ``failed``, not billed."""
        run.settling = True
        run.call.ctx.fail(err.status, err.message)
        await self._end(run, self._fail_events(run, err.message))

    async def _stopped(self, run: Run) -> None:
        """Stopped by the gateway: cancelled (billed for what was produced) or cut by
        shutdown (``failed``, not billed)."""
        run.settling = True
        call, ctx, reader = run.call, run.call.ctx, run.reader
        if run.reason == SHUTDOWN:
            ctx.fail(503, "the gateway shut down before the response was complete")
            await self._end(run, self._fail_events(run, GONE))
            return
        ctx.fail(CLIENT_CLOSED, "cancelled by POST /v1/responses/{id}/cancel")
        if reader is not None and reader.delivered > 0:  # else nothing to pay for
            ctx.usage = stream_usage(reader, call.body, whole=False)
        response = {**call.turn.template, "status": "cancelled", "output": run.tap.output()}
        if ctx.usage is not None:
            response["usage"] = usage_object(ctx.usage)
        await self._free_slot(run)
        await self._stop_flusher(run)
        await self.state.background.keep_cancelled(response, run.tap.take(run.tap.count))
        self._show_all(run)

    def _fail_events(self, run: Run, message: str) -> dict[str, Any]:
        """End the run's events with ``response.failed``; the failed Response."""
        tap, reader = run.tap, run.reader
        ended = reader.fail(message) if reader is not None and not tap.ended else None
        if ended is not None:
            tap.feed(ended)  # a translator: created first if need be, partial output
        if tap.response is not None:
            return tap.response
        template = run.call.turn.template
        response = failed_response(
            template, tap.output(), code="server_error", message=message, usage=None
        )
        if tap.count == 0:
            tap.add({"type": "response.created", "response": template})
        tap.add({"type": "response.failed", "response": response})
        return tap.response or response

    async def _release(self, run: Run) -> None:
        run.settling = run.over = True
        await self._stop_flusher(run)
        await self.state.background.record(run.id, run.tap.take(run.tap.count))
        self._show_all(run)
        await run.call.lifecycle.close()  # the slot, in flight, the record (once settled: none)

    # ------------------------------------------------------------ the event log
    async def _flush_every(self, run: Run) -> None:
        """Store the visible events at most every ``_FLUSH_EVERY`` s, until the log closes."""
        while True:
            await run.wake.wait()
            run.wake.clear()
            await self.state.background.record(run.id, run.tap.take(run.visible))
            if run.flusher is None:  # closing: that was the last batch
                return
            await asyncio.sleep(_FLUSH_EVERY)

    async def _end(self, run: Run, response: dict[str, Any]) -> None:
        """Store the final Response with the last events, then show them to the live
        client: whoever sees the terminal event finds the final status stored (and the
        key's concurrency slot free again)."""
        await self._free_slot(run)
        await self._stop_flusher(run)
        events = run.tap.take(run.tap.count)
        await self.state.background.finish(run.call.principal.user_id, response, events)
        self._show_all(run)

    async def _stop_flusher(self, run: Run) -> None:
        """Let the flusher store what is visible, and end it."""
        flusher, run.flusher = run.flusher, None
        if flusher is not None:
            run.wake.set()
            with contextlib.suppress(Exception):  # its failure was logged; store the rest
                await asyncio.shield(flusher)

    @staticmethod
    async def _free_slot(run: Run) -> None:
        await run.call.lifecycle.free_slot()

    @staticmethod
    def _show_all(run: Run) -> None:
        run.visible = run.tap.count
        run.changed.set()
