"""Signals about background responses between replicas, over the kv pub/sub.

Two kinds, on one channel, so each replica holds one subscription however many
responses run or are followed:

* ``cancel <id>``: the response was cancelled; the replica running it stops the run
  (the cancel route may be answered by any replica).
* ``events <id>``: the response's run stored more stream events; replicas following it
  (``GET /v1/responses/{id}?stream=true``) read them now instead of at their next poll.

Pub/sub delivers at most once (``kv.protocols.PubSub``), so neither signal is the only
path: a run also checks the database for its cancellation, and a follower also polls.
With ``memory://`` the channel is in-process, which is all one process needs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterator

from relaygate.core.tasks import cancel_and_wait
from relaygate.kv.memory import MemoryPubSub
from relaygate.kv.protocols import PubSub

__all__ = ["CHANNEL", "Signals"]

log = logging.getLogger(__name__)

CHANNEL = "responses.background"
_RETRY = 1.0  # seconds before subscribing again after the kv failed
_READY = 5.0  # seconds start() waits for the subscription to be live


class Signals:
    def __init__(self, pubsub: PubSub | None = None) -> None:
        self.pubsub: PubSub = pubsub if pubsub is not None else MemoryPubSub()
        self._cancel_handlers: list[Callable[[str], None]] = []
        self._watchers: dict[str, set[asyncio.Event]] = {}
        self._task: asyncio.Task[None] | None = None
        self._live = asyncio.Event()

    async def start(self) -> None:
        """Subscribe (once) and wait, briefly, until the subscription is live."""
        if self._task is None:
            self._task = asyncio.create_task(self._listen(), name="response-signals")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._live.wait(), _READY)

    async def close(self) -> None:
        await cancel_and_wait(self._task)
        self._task = None

    def on_cancel(self, handler: Callable[[str], None]) -> None:
        """Call ``handler(response_id)`` for every cancel, from any replica."""
        self._cancel_handlers.append(handler)

    async def cancelled(self, response_id: str) -> None:
        await self.pubsub.publish(CHANNEL, b"cancel " + response_id.encode())

    async def stored_events(self, response_id: str) -> None:
        await self.pubsub.publish(CHANNEL, b"events " + response_id.encode())

    @contextlib.contextmanager
    def watch(self, response_id: str) -> Iterator[asyncio.Event]:
        """An event set whenever ``response_id``'s run stores events (clear it yourself)."""
        woken = asyncio.Event()
        self._watchers.setdefault(response_id, set()).add(woken)
        try:
            yield woken
        finally:
            watchers = self._watchers.get(response_id)
            if watchers is not None:
                watchers.discard(woken)
                if not watchers:
                    del self._watchers[response_id]

    def _dispatch(self, message: bytes) -> None:
        kind, _, ident = message.decode(errors="replace").partition(" ")
        if kind == "cancel":
            for handler in self._cancel_handlers:
                handler(ident)
        elif kind == "events":
            for woken in self._watchers.get(ident, ()):
                woken.set()

    async def _listen(self) -> None:
        while True:
            try:
                async with self.pubsub.subscribe(CHANNEL) as messages:
                    self._live.set()
                    async for message in messages:
                        self._dispatch(message)
            except asyncio.CancelledError:
                raise
            except Exception:  # the listener must outlive a dropped kv connection
                log.warning("background response signals: subscription lost", exc_info=True)
            self._live.clear()
            await asyncio.sleep(_RETRY)
