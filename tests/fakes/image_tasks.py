"""Fake image task upstreams on the one server base (tests/fakes/scripted.py): Black
Forest Labs' API and the generic task API of ``nd`` channels (tools/tasks.py).

Both work as the real services do: a submission (key checked) answers a task id, the
task is ``Pending`` for ``polls`` polls and then ends as ``outcome`` says (``Ready``,
``Error``, ``Content Moderated``..., or ``never``: pending for ever, for timeouts), and
a finished task's image is served at a signed-looking URL on the same server, with no
key, as BFL's delivery URLs are. Each image's bytes are a real JPEG signature followed
by its task id, so a test can tell which task's image it got back.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from tests.fakes.scripted import ScriptedServer, Seen, Step

__all__ = ["FakeBFL", "FakeND", "image_bytes"]

JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00"


def image_bytes(task_id: str) -> bytes:
    return JPEG + task_id.encode() + b"\xff\xd9"


@dataclass
class _Task:
    id: str
    body: Any
    polls: int = 0


class _TaskServer(ScriptedServer):
    def __init__(self, api_key: str, polls: int) -> None:
        super().__init__()
        self.api_key = api_key
        self.polls = polls  # polls a task stays pending
        self.outcome = "Ready"
        self.image_status = 200  # what the image's URL answers
        self.image_body: bytes | None = None  # None: the task's JPEG
        self.tasks: dict[str, _Task] = {}
        self._ids = itertools.count(1)

    def submissions(self) -> list[Seen]:
        return [s for s in self.seen if s.method == "POST"]

    def polls_seen(self) -> list[Seen]:
        return [s for s in self.seen if s.method == "GET" and "/images/" not in s.path]

    def downloads(self) -> list[Seen]:
        return [s for s in self.seen if "/images/" in s.path]

    def _new_task(self, seen: Seen) -> _Task:
        task = _Task(f"task-{self.port}-{next(self._ids)}", seen.json)
        self.tasks[task.id] = task
        return task

    async def _image(self, request: web.Request) -> web.StreamResponse:
        return await self.answer(request, self._image_default)

    def _image_default(self, seen: Seen) -> Step:
        task_id = seen.path.rsplit("/", 1)[-1].removesuffix(".jpg")
        body = self.image_body if self.image_body is not None else image_bytes(task_id)
        return Step(status=self.image_status, body=body, content_type="image/jpeg")

    def _finished(self, task: _Task) -> bool:
        task.polls += 1
        return self.outcome != "never" and task.polls > self.polls

    def image_url(self, task: _Task) -> str:
        return f"{self.base_url}/images/{task.id}.jpg"


class FakeBFL(_TaskServer):
    """``POST /v1/{model}`` (``x-key``) and ``GET /v1/get_result?id=``."""

    def __init__(self, api_key: str = "bfl-key", polls: int = 3) -> None:
        super().__init__(api_key, polls)

    def add_routes(self, app: web.Application) -> None:
        app.router.add_post("/v1/{model}", self._submit)
        app.router.add_get("/v1/get_result", self._poll)
        app.router.add_get("/images/{name}", self._image)

    async def _submit(self, request: web.Request) -> web.StreamResponse:
        return await self.answer(request, self._submitted)

    async def _poll(self, request: web.Request) -> web.StreamResponse:
        return await self.answer(request, self._polled)

    def _submitted(self, seen: Seen) -> Step:
        if seen.headers.get("x-key") != self.api_key:
            return Step(status=403, json={"detail": "Not authenticated - Invalid Authentication"})
        task = self._new_task(seen)
        polling = f"{self.base_url}/v1/get_result?id={task.id}"
        return Step(json={"id": task.id, "polling_url": polling})

    def _polled(self, seen: Seen) -> Step:
        if seen.headers.get("x-key") != self.api_key:
            return Step(status=403, json={"detail": "Not authenticated - Invalid Authentication"})
        task = self.tasks.get(seen.query.get("id", ""))
        if task is None:
            return Step(json={"id": seen.query.get("id"), "status": "Task not found"})
        if not self._finished(task):
            return Step(json={"id": task.id, "status": "Pending", "progress": 0.5})
        if self.outcome != "Ready":
            return Step(json={"id": task.id, "status": self.outcome, "result": None})
        seed = task.body.get("seed", 1234)
        result = {"sample": self.image_url(task), "prompt": task.body["prompt"], "seed": seed}
        return Step(json={"id": task.id, "status": "Ready", "result": result})


class FakeND(_TaskServer):
    """``POST /tasks`` and ``GET /tasks/{id}`` (``Authorization: Bearer``): one task makes
    ``n`` images."""

    def __init__(self, api_key: str = "nd-key", polls: int = 2) -> None:
        super().__init__(api_key, polls)
        self.outcome = "succeeded"

    def add_routes(self, app: web.Application) -> None:
        app.router.add_post("/tasks", self._submit)
        app.router.add_get("/tasks/{id}", self._poll)
        app.router.add_get("/images/{name}", self._image)

    async def _submit(self, request: web.Request) -> web.StreamResponse:
        return await self.answer(request, self._submitted)

    async def _poll(self, request: web.Request) -> web.StreamResponse:
        return await self.answer(request, self._polled)

    def _authorized(self, seen: Seen) -> bool:
        return seen.headers.get("Authorization") == f"Bearer {self.api_key}"

    def _submitted(self, seen: Seen) -> Step:
        if not self._authorized(seen):
            return Step(status=401, json={"error": {"message": "bad key"}})
        return Step(status=202, json={"id": self._new_task(seen).id})

    def _polled(self, seen: Seen) -> Step:
        if not self._authorized(seen):
            return Step(status=401, json={"error": {"message": "bad key"}})
        task = self.tasks.get(seen.path.rsplit("/", 1)[-1])
        if task is None:
            return Step(status=404, json={"error": {"message": "no such task"}})
        if not self._finished(task):
            return Step(json={"id": task.id, "status": "running"})
        if self.outcome != "succeeded":
            return Step(json={"id": task.id, "status": self.outcome, "error": "it broke"})
        images = [
            {"url": f"{self.image_url(task)[:-4]}-{n}.jpg", "seed": n}
            for n in range(task.body["n"])
        ]
        return Step(json={"id": task.id, "status": "succeeded", "images": images})
