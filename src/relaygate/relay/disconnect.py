"""Stopping a call's work when its client hangs up (moved out of ``relay/api.py``).

Watching costs a task, so it starts only once the call has run for a moment: most calls
are over before anyone could hang up on them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any

from relaygate.relay.asgi import Receive
from relaygate.relay.context import CLIENT_CLOSED, CallContext

__all__ = ["until_disconnect"]

_WATCH_AFTER = 0.05  # seconds before a call starts watching for the client to leave


async def until_disconnect(work: Awaitable[None], receive: Receive, ctx: CallContext) -> None:
    """Run ``work`` but stop it, and the upstream call inside it, if the client goes away.

    A client that leaves after the answer is complete (Codex hangs up right after the
    last event) has not cancelled anything: the call stays a success.
    """
    task = asyncio.current_task()
    assert task is not None
    watchers: list[asyncio.Future[None]] = []
    timer = asyncio.get_running_loop().call_later(
        _WATCH_AFTER,
        lambda: watchers.append(asyncio.ensure_future(_watch_disconnect(receive, ctx, task))),
    )
    try:
        await work
    except asyncio.CancelledError:
        if not ctx.client_gone:
            raise
        task.uncancel()
        if not ctx.responded:
            ctx.fail(CLIENT_CLOSED, "client disconnected")
    finally:
        timer.cancel()
        for watcher in watchers:
            watcher.cancel()


async def _watch_disconnect(receive: Receive, ctx: CallContext, task: asyncio.Task[Any]) -> None:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            ctx.client_gone = True
            if not ctx.responded:
                task.cancel()
            return
