"""Background responses (``POST /v1/responses`` with ``background: true``), docs/state.md.

The turn runs as a task the gateway owns, not the caller's connection. The create call
is answered at once with the Response ``queued`` (stored first), or, with ``stream:
true``, with the run's events as they come; a client that leaves does not stop the run.
The run always streams from its upstream, whatever the caller asked: its events are
stored as they go (replayable from any replica, live), and a run cancelled mid-answer
knows what the upstream had produced.

Money follows the house rules: a completed call is billed once, before its terminal
event is visible; a failed one is not billed; a cancelled one (``POST …/cancel``) is
billed like a client that hung up, for what the upstream had produced, and not at all
when nothing was. Holds, limits and the key's concurrency slot are taken before the
create call is answered, so a refusal is an HTTP error, never a failed response; the
slot is held until the run ends.

Replicas: a cancel reaches the run through the state's signals (kv pub/sub) and, should
that message be lost, through the run's own look at the database every ``lease / 3``
seconds. A run holds a lease in the kv while it lives; a running response whose lease
is gone (its gateway was killed) is marked ``failed`` by any replica's upkeep. At
shutdown, runs get ``grace`` seconds to finish; the rest are stopped and marked failed.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from datetime import timedelta
from typing import Any

import orjson

from relaygate.core.clock import utcnow
from relaygate.core.errors import ModelNotFound
from relaygate.core.tasks import cancel_and_wait
from relaygate.kv.protocols import Counter
from relaygate.relay.asgi import Receive, Send, respond
from relaygate.relay.background_events import EventTap
from relaygate.relay.background_run import CANCELLED, GONE, SHUTDOWN, Call, Run, RunDriver
from relaygate.relay.disconnect import until_disconnect
from relaygate.relay.service import RelayService
from relaygate.relay.streaming import KeepAlive
from relaygate.state.service import StateService

__all__ = ["BackgroundRuns", "Call"]

log = logging.getLogger(__name__)

_SSE = [
    (b"content-type", b"text/event-stream"),
    (b"cache-control", b"no-cache"),
    (b"x-accel-buffering", b"no"),
]


class BackgroundRuns:
    """The background runs of this gateway process (one per process, built in app.py)."""

    def __init__(
        self,
        relay: RelayService,
        state: StateService,
        leases: Counter,
        keepalive: KeepAlive,
        *,
        grace: float,
        lease: float,
    ) -> None:
        self.relay = relay
        self.state = state
        self.leases = leases
        self.keepalive = keepalive
        self.grace = grace
        self.lease = lease
        self._driver = RunDriver(relay, state)
        self._runs: dict[str, Run] = {}
        self._upkeep: asyncio.Task[None] | None = None

    # ------------------------------------------------------------ lifecycle
    def start(self) -> None:
        self.state.signals.on_cancel(self._on_cancel)
        self._upkeep = asyncio.create_task(self._keep_up(), name="background-upkeep")

    async def close(self) -> None:
        """Give the runs ``grace`` seconds to finish, then stop the rest (``failed``)."""
        await cancel_and_wait(self._upkeep)
        tasks = [run.task for run in self._runs.values() if run.task is not None]
        if tasks:
            await asyncio.wait(tasks, timeout=self.grace)
        for run in list(self._runs.values()):
            self._stop(run, SHUTDOWN)
        tasks = [run.task for run in self._runs.values() if run.task is not None]
        if tasks:
            await asyncio.wait(tasks)

    # ------------------------------------------------------------ the create call
    async def launch(self, call: Call, send: Send, receive: Receive) -> None:
        """Store the Response ``queued``, start its run, and answer the create call."""
        if not self.relay.router.routes(call.facts.model):
            raise ModelNotFound(
                f"The model '{call.facts.model}' does not exist or you do not have access to it.",
                param="model",
            )
        await call.lifecycle.take_slot()  # held by the run until it ends (429: none free)
        queued = {**call.turn.template, "status": "queued"}
        try:
            await self.leases.set(_lease_key(str(queued["id"])), 1, ttl_s=self.lease)
            await self.state.save_response(
                call.principal.user_id, queued, call.turn.input_items, conversation_id=None
            )
        except BaseException:
            await call.lifecycle.free_slot()
            raise
        ctx = call.ctx
        run = self._begin(call, queued)
        headers = [(b"x-request-id", ctx.request_id.encode()), *ctx.headers]
        if not call.facts.stream:
            ctx.responded = True
            await respond(send, 200, orjson.dumps(queued), b"application/json", headers)
            return
        await until_disconnect(self._follow(run, send, headers), receive, ctx)

    def _begin(self, call: Call, queued: dict[str, Any]) -> Run:
        """Hand the call over to its run: from here the run records and bills it (its own
        lifecycle, counted in flight, with the slot; the create call records nothing)."""
        owned = dataclasses.replace(call, lifecycle=call.lifecycle.hand_over())
        run = Run(owned, queued, EventTap(call.turn.template))
        self._runs[run.id] = run
        run.task = asyncio.create_task(self._own(run), name=f"background-{run.id}")
        return run

    async def _own(self, run: Run) -> None:
        try:
            await self._driver.drive(run)
        finally:
            self._runs.pop(run.id, None)
            with contextlib.suppress(Exception):  # clean-up: the lease expires by itself
                await self.leases.delete(_lease_key(run.id))

    async def _follow(self, run: Run, send: Send, headers: list[tuple[bytes, bytes]]) -> None:
        """The run's events to the creating client, as they come (from memory)."""
        start = {"type": "http.response.start", "status": 200, "headers": [*_SSE, *headers]}
        await send(start)
        watch = self.keepalive.watch(send)
        sent = 0
        try:
            while True:
                run.changed.clear()
                if run.visible > sent:
                    body = b"".join(run.tap.frames[sent : run.visible])
                    sent = run.visible
                    watch.last = time.monotonic()
                    await send({"type": "http.response.body", "body": body, "more_body": True})
                if run.over and sent >= run.visible:
                    break
                await run.changed.wait()
        finally:
            self.keepalive.release(watch)
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    # ------------------------------------------------------------ cancel and upkeep
    def _on_cancel(self, response_id: str) -> None:
        run = self._runs.get(response_id)
        if run is not None:
            self._stop(run, CANCELLED)

    def _stop(self, run: Run, reason: str) -> None:
        """Stop a run that is still calling its upstream (first reason wins)."""
        if run.reason is not None or run.settling:
            return
        run.reason = reason
        if run.started and run.task is not None:
            run.task.cancel()

    async def _keep_up(self) -> None:
        """Every ``lease / 3`` s: renew this process's leases and stop the runs cancelled
        (or deleted) in the database; every ``lease`` s (and at start): fail the orphaned
        runs."""
        while True:
            try:
                await self._sweep()
                for _ in range(3):
                    await asyncio.sleep(self.lease / 3)
                    await self._heartbeat()
            except Exception:  # the top of a task: a kv or database outage, next round
                log.warning("background upkeep failed; retrying", exc_info=True)
                await asyncio.sleep(self.lease / 3)

    async def _heartbeat(self) -> None:
        ids = list(self._runs)
        for response_id in ids:
            await self.leases.set(_lease_key(response_id), 1, ttl_s=self.lease)
        for response_id in await self.state.background.stopped_among(ids):
            self._on_cancel(response_id)  # cancelled or deleted, the signal lost

    async def _sweep(self) -> None:
        cutoff = utcnow() - timedelta(seconds=self.lease)
        for response_id in await self.state.background.running(cutoff):
            if response_id in self._runs or await self.leases.get(_lease_key(response_id)):
                continue
            if await self.state.background.fail(response_id, GONE):
                log.warning("background response %s was orphaned: marked failed", response_id)


def _lease_key(response_id: str) -> str:
    return "bg-lease:" + response_id
