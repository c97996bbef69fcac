"""The image tools' pipeline (Flux, ND), after the call lifecycle has admitted the call
and held the images it asks for (tools/handler.py).

**Synchronous** (the default): the upstream's task is submitted and polled
(tools/tasks.py) under ``tools_task_timeout_seconds``; its images are re-hosted
(tools/images.py), billed per image returned, and answered in the platform envelope
``{"data": {"outputs": [...]}}``. A task that fails, is refused or runs past the timeout
(a ``504``) is not billed: the hold is released. A client that leaves before the images
arrive stops the work and pays nothing.

**Asynchronous** (``async=true``): the answer is a task id at once. The call's lifecycle
is handed over (``CallLifecycle.hand_over``: its hold, its concurrency slot and its
usage record) to a background task in this process, which runs the same steps under
``tools_task_async_timeout_seconds``, bills at completion and keeps the outcome in the
kv (Redis across replicas, so any replica can answer for it) for
``tools_task_keep_seconds``, where ``GET /api/v1/ai/draw/tasks/{id}`` reads it for its
owner. If the replica running it stops, the task dies with it: its hold lapses in the
kv (the holds' own expiry), nothing is billed, and the task reads as failed once its
deadline has passed. A shutdown cancels the tasks still running, which are recorded
failed and unbilled.

The ``ohmygpt_webhook_url`` gets the outcome once, as the image routes send it
(relay/media/webhook.py): the answer's ``data`` on success, the failure otherwise (an
asynchronous task's failure carries its ``task_id`` in ``data``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

from relaygate.core.envelope import envelope, error_envelope
from relaygate.core.errors import (
    NotFound,
    RelaygateError,
    UpstreamBadResponse,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from relaygate.core.units import Usage
from relaygate.kv.protocols import Cache
from relaygate.relay.asgi import Receive
from relaygate.relay.call import CallLifecycle
from relaygate.relay.context import CLIENT_CLOSED
from relaygate.relay.dialects.openai_chat.request import RequestFacts
from relaygate.relay.disconnect import until_disconnect
from relaygate.relay.media.webhook import WebhookSender, failure_body, success_body
from relaygate.relay.service import RelayService
from relaygate.tools.handler import upstream_refusal
from relaygate.tools.images import ImageStore
from relaygate.tools.record import ImageDelivery, Tool, ToolJob

__all__ = ["TASKS_PATH", "DrawRunner", "DrawTimes", "TaskBook"]

log = logging.getLogger(__name__)

TASKS_PATH = "/api/v1/ai/draw/tasks/"
_TASK_ID = re.compile(r"task_[A-Za-z0-9_-]{22}")
_LOST_AFTER = 60.0  # seconds past its deadline a task still pending is taken for lost


@dataclass(frozen=True, slots=True)
class DrawTimes:
    timeout: float  # seconds a synchronous call waits for its images
    background: float  # seconds an asynchronous task may take
    keep: float  # seconds an asynchronous task's outcome is kept


def _iso(epoch: float | None) -> str | None:
    return None if epoch is None else datetime.fromtimestamp(epoch, UTC).isoformat()


class TaskBook:
    """The asynchronous tasks' records, in the kv cache (module doc)."""

    def __init__(self, cache: Cache, keep: float) -> None:
        self.cache = cache
        self.keep = keep

    async def save(self, record: dict[str, Any]) -> None:
        key = "tools:draw:" + record["task_id"]
        await self.cache.set(key, orjson.dumps(record), ttl_s=self.keep)

    async def read(self, task_id: str) -> dict[str, Any] | None:
        if not _TASK_ID.fullmatch(task_id):
            return None
        kept = await self.cache.get("tools:draw:" + task_id)
        found: dict[str, Any] | None = orjson.loads(kept) if kept is not None else None
        return found


def _shown(record: dict[str, Any], now: float) -> dict[str, Any]:
    """A task as its owner reads it; one still pending long past its deadline was lost
    with the replica that ran it (nothing was billed)."""
    shown = {
        "task_id": record["task_id"],
        "model": record["model"],
        "status": record["status"],
        "created_at": _iso(record["created_at"]),
        "finished_at": _iso(record.get("finished_at")),
    }
    if record["status"] == "pending" and now > record["deadline"] + _LOST_AFTER:
        lost = UpstreamUnavailable(
            "The task was lost: the gateway stopped before it finished. Nothing was charged."
        )
        return {**shown, "status": "failed", "error": error_envelope(lost)}
    if "outputs" in record:
        shown["outputs"] = record["outputs"]
    if "error" in record:
        shown["error"] = record["error"]
    return shown


class DrawRunner:
    def __init__(
        self,
        relay: RelayService,
        images: ImageStore,
        webhooks: WebhookSender,
        book: TaskBook,
        times: DrawTimes,
    ) -> None:
        self.relay = relay
        self.images = images
        self.webhooks = webhooks
        self.book = book
        self.times = times
        self._tasks: set[asyncio.Task[None]] = set()

    # ------------------------------------------------------------ synchronous
    async def run(
        self, call: CallLifecycle, tool: Tool, job: ToolJob, receive: Receive
    ) -> bytes | None:
        """The answer's body, billed and durable; None when the client left (unbilled)."""
        ctx, delivery = call.ctx, _delivery(job)
        answers: list[bytes] = []

        async def work() -> None:
            data = await self._generate(call, tool, job, self.times.timeout)
            answers.append(orjson.dumps(envelope(data, "Success")))
            if delivery.webhook:
                self.webhooks.send(delivery.webhook, success_body(data))

        try:
            async with call.slot():
                await until_disconnect(work(), receive, ctx)
        except RelaygateError as err:
            if delivery.webhook:
                self.webhooks.send(delivery.webhook, failure_body(err.status, err.message))
            raise
        if not answers and delivery.webhook:  # the client left: the work was stopped
            self.webhooks.send(delivery.webhook, failure_body(CLIENT_CLOSED, "client disconnected"))
        return answers[0] if answers else None

    async def _generate(
        self, call: CallLifecycle, tool: Tool, job: ToolJob, seconds: float
    ) -> dict[str, Any]:
        ctx, delivery = call.ctx, _delivery(job)
        try:
            async with asyncio.timeout(seconds):
                made = await self._images(call, tool, job)
        except TimeoutError as exc:
            hint = "" if _delivery(job).background else " For long jobs, send async=true."
            raise UpstreamTimeout(
                f"The image task did not finish within {seconds:g} seconds; nothing was"
                f" charged.{hint}"
            ) from exc
        assert ctx.user_id is not None
        name = f"{job.model}-{ctx.request_id[-12:]}"
        outputs = await self.images.outputs(
            ctx.user_id, name, ("draw", job.model), delivery, made, ctx.channel
        )
        ctx.usage, ctx.status = Usage(images=len(outputs)), 200
        await call.finish()  # billed per image returned, durable before the answer
        return {"outputs": outputs}

    async def _images(self, call: CallLifecycle, tool: Tool, job: ToolJob) -> list[dict[str, Any]]:
        """The upstream's images (``{"url", "seed"}``), at most as many as were held for."""
        ctx, types = call.ctx, tool.channel_types
        facts = RequestFacts(model=job.model, stream=False, include_usage=True)
        opened = await self.relay.open(
            ctx, facts, dict(job.payload), b"", serves=lambda channel: channel.type in types
        )
        try:
            data = await opened.reply.read()
        finally:
            opened.reply.close()
        if ctx.error is not None:  # moderated, or a parameter the upstream refused
            raise upstream_refusal(ctx.status, ctx.error)
        try:
            listed = orjson.loads(data).get("images")
        except (orjson.JSONDecodeError, AttributeError):
            listed = None
        if not isinstance(listed, list) or not listed:
            raise UpstreamBadResponse("The upstream answered without images.")
        return listed[: max(1, job.units.images)]

    # ------------------------------------------------------------ asynchronous
    async def start(self, call: CallLifecycle, tool: Tool, job: ToolJob) -> bytes:
        """A task id at once; the call goes on in the background (module doc)."""
        ctx = call.ctx
        await call.take_slot()
        now = time.time()
        record: dict[str, Any] = {
            "task_id": "task_" + secrets.token_urlsafe(16),
            "user_id": ctx.user_id,
            "model": job.model,
            "status": "pending",
            "created_at": now,
            "deadline": now + self.times.background,
        }
        try:
            await self.book.save(record)
        except BaseException:
            await call.free_slot()
            raise
        owned = call.hand_over()
        task = asyncio.get_running_loop().create_task(self._background(owned, tool, job, record))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        accepted = {"task_id": record["task_id"], "model": job.model, "status": "pending"}
        return orjson.dumps(envelope(accepted, "Task accepted"))

    async def _background(
        self, call: CallLifecycle, tool: Tool, job: ToolJob, record: dict[str, Any]
    ) -> None:
        ctx = call.ctx
        try:
            data = await self._generate(call, tool, job, self.times.background)
        except RelaygateError as err:
            ctx.fail(err.status, err.message)
            await self._ended(job, record, error=err)
        except asyncio.CancelledError:
            stopped = UpstreamUnavailable("The gateway stopped before the task finished.")
            ctx.fail(stopped.status, stopped.message)
            await self._ended(job, record, error=stopped)
            raise
        except Exception:  # a bug must not leave the task pending for ever
            log.exception("image task %s failed", record["task_id"])
            bug = RelaygateError("The server had an error processing your request.")
            ctx.fail(bug.status, bug.message)
            await self._ended(job, record, error=bug)
        else:
            await self._ended(job, record, data=data)
        finally:
            await call.close()  # billed (or released) and recorded

    async def _ended(
        self,
        job: ToolJob,
        record: dict[str, Any],
        data: dict[str, Any] | None = None,
        error: RelaygateError | None = None,
    ) -> None:
        record["finished_at"] = time.time()
        record["status"] = "succeeded" if error is None else "failed"
        if data is not None:
            record["outputs"] = data["outputs"]
        if error is not None:
            record["error"] = error_envelope(error)
        try:
            await self.book.save(record)
        except Exception:  # noqa: BLE001 - the outcome is lost; the bill (or its absence) is not
            log.warning("image task %s: its outcome could not be kept", record["task_id"])
        webhook = _delivery(job).webhook
        if webhook and error is None:
            self.webhooks.send(
                webhook, success_body({"task_id": record["task_id"], **(data or {})})
            )
        elif webhook and error is not None:
            failed = failure_body(error.status, error.message)
            self.webhooks.send(webhook, {**failed, "data": {"task_id": record["task_id"]}})

    async def read(self, user_id: int, task_id: str) -> dict[str, Any]:
        """A task for its owner; anyone else's, an unknown or an expired one: 404."""
        record = await self.book.read(task_id)
        if record is None or record.get("user_id") != user_id:
            raise NotFound(
                f"No task '{task_id[:40]}' is yours (or it has expired).", param="task_id"
            )
        return _shown(record, time.time())

    async def close(self) -> None:
        """Shutdown: the tasks still running are cancelled (recorded failed, unbilled)."""
        tasks = set(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            log.warning("%d image task(s) cancelled at shutdown", len(tasks))
            with contextlib.suppress(Exception):
                await asyncio.gather(*tasks, return_exceptions=True)


def _delivery(job: ToolJob) -> ImageDelivery:
    return job.delivery or ImageDelivery()
