"""The gateway's shutdown, seen from inside: from SIGTERM on it is *draining*.

The server (cli.py) stops accepting connections and lets the requests in flight run;
the readiness probe answers 503 at once; and when the grace runs out, the callbacks
registered here end the streams still open (the keep-alive ticker knows them all), so
they close with their dialect's own ending and are billed for what they delivered,
before the server's own deadline cancels whatever is left. The signal arrives in a
signal handler, so :meth:`Drain.begin` only flips a flag and hands the timer to the loop.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

__all__ = ["Drain"]

log = logging.getLogger(__name__)


class Drain:
    def __init__(self) -> None:
        self.draining = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._at_deadline: list[Callable[[], object]] = []
        self._timer: asyncio.TimerHandle | None = None

    def attach(self, loop: asyncio.AbstractEventLoop) -> None:
        """The loop that serves (the lifespan's): the deadline's timer runs on it."""
        self._loop = loop

    def at_deadline(self, callback: Callable[[], object]) -> None:
        """Run ``callback`` (on the loop) when the grace after the signal has run out."""
        self._at_deadline.append(callback)

    def begin(self, grace: float) -> None:
        """The process was asked to stop: draining from now, the deadline in ``grace``
        seconds. Safe in a signal handler; a second call changes nothing."""
        if self.draining:
            return
        self.draining = True
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._arm, grace)

    def _arm(self, grace: float) -> None:
        assert self._loop is not None
        self._timer = self._loop.call_later(grace, self.deadline)

    def deadline(self) -> None:
        """The grace is over: run the callbacks (each once, whatever the others do)."""
        callbacks, self._at_deadline = self._at_deadline, []
        for callback in callbacks:
            try:
                callback()
            except Exception:  # shutdown clean-up: one failure must not stop the rest
                log.exception("a shutdown deadline callback failed")

    def cancel(self) -> None:
        """The lifespan ends before the deadline: nothing is left to end."""
        if self._timer is not None:
            self._timer.cancel()
        self._at_deadline.clear()
