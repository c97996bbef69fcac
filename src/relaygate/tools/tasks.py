"""Image task APIs: a generation is submitted, then polled until it is done, and the
relay sees one reply, the images' URLs (or the refusal, or the failure).

Hiding the polling inside the provider's ``send`` keeps an image call on the one relay
path (``RelayService.open``): the submission is what fails over (a refused key rotates
to the channel's next one, a 429, a 5xx or a broken connection to the next channel), a
task the upstream reports failed is a failed attempt the next channel may take, and a
moderated prompt is the caller's to fix (400). The wait is bounded from outside: the
image pipeline (tools/draw.py) runs the whole call under its timeout and cancels it,
polls and all; a call cancelled that way is not failed over (it would only start again).

Two channel types:

- ``bfl``: Black Forest Labs' API. ``POST {base}/v1/{model}`` with ``x-key`` answers
  ``{"id", "polling_url"}``; ``GET {polling_url}`` (else ``{base}/v1/get_result?id=``)
  answers ``{"status", "result": {"sample", "seed"}}`` with the status ``Pending``,
  ``Ready``, ``Error``, ``Failed``, ``Request Moderated``, ``Content Moderated`` or
  ``Task not found``. One image per task: ``num_outputs`` images are that many tasks
  (a seed given is counted up from one to the next, so they differ).
- ``nd``: a generic task API of Relaygate's design, for ND (platform-api.md §8.1 names
  no upstream): ``POST {base}/tasks`` with ``Authorization: Bearer`` and the checked
  parameters as JSON answers ``{"id"}``; ``GET {base}/tasks/{id}`` answers ``{"status":
  "queued"|"running"|"succeeded"|"failed"|"moderated", "images": [{"url", "seed"}],
  "error"}``.

The relay is answered ``{"images": [{"url", "seed"}], "tasks": [ids]}`` with 200, a
moderation refusal as a 400 (the caller's to fix; every task refused), and a failure as
a 502 (every task failed), which the relay fails over like an upstream 5xx.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import orjson

from relaygate.channels.spec import ChannelSpec
from relaygate.core.errors import UpstreamBadResponse, UpstreamFailure
from relaygate.relay.probe import ProbeCall
from relaygate.relay.providers.base import Provider, UpstreamCall, UpstreamReply
from relaygate.relay.transport import HTTPClient
from relaygate.tools.draw_params import PROBE_ENDPOINT
from relaygate.tools.providers import (
    ReadReply,
    ToolProvider,
    UpstreamRequest,
    attempt_key,
    base_of,
    probe_call,
)

__all__ = [
    "TASK_PROBES",
    "BFLProvider",
    "NDProvider",
    "Outcome",
    "PollTimings",
    "bfl_body",
    "task_providers",
]

log = logging.getLogger(__name__)

Requests = list[UpstreamRequest]
_JSON = "application/json"
_WEB = ("http://", "https://")
_KEY_REFUSED = frozenset({401, 403, 429})
_PROBE_TASK = "00000000-0000-0000-0000-000000000000"  # a task no upstream has


@dataclass(frozen=True, slots=True)
class PollTimings:
    first: float = 0.5  # seconds before the first poll; each next wait is 1.5 times longer
    longest: float = 4.0  # up to this
    misses: int = 3  # polls in a row that may fail (5xx, 429, no connection) before giving up


@dataclass(frozen=True, slots=True)
class Submitted:
    id: str
    poll_url: str


@dataclass(frozen=True, slots=True)
class Outcome:
    """How a task ended: its images, or the upstream's moderation refusal, or a failure."""

    images: tuple[dict[str, Any], ...] = ()
    refused: str | None = None
    failed: str | None = None


def _json(body: bytes) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        return None


async def _drained(reply: UpstreamReply) -> bytes:
    try:
        return await reply.read()
    finally:
        reply.close()


def _answer(status: int, body: dict[str, Any]) -> ReadReply:
    return ReadReply(status, _JSON, orjson.dumps(body))


def _image(url: Any, seed: Any = None) -> dict[str, Any] | None:
    if not isinstance(url, str) or not url.startswith(_WEB):
        return None
    return {"url": url, "seed": seed} if isinstance(seed, int) else {"url": url}


class TaskProvider(ToolProvider):
    """Submit, poll, answer (module doc); a channel type says how each step is worded."""

    def __init__(self, client: HTTPClient, timings: PollTimings) -> None:
        super().__init__(client)
        self.timings = timings

    # ------------------------------------------------------------ what a type words
    def submissions(self, channel: ChannelSpec, call: UpstreamCall, key: str) -> Requests:
        raise NotImplementedError

    def submitted(self, channel: ChannelSpec, data: Any) -> Submitted | None:
        raise NotImplementedError

    def poll(self, task: Submitted, key: str) -> UpstreamRequest:
        raise NotImplementedError

    def outcome(self, status: int, data: Any) -> Outcome | None:
        """How the task ended (None: not yet)."""
        raise NotImplementedError

    def probe(self, channel: ChannelSpec, key: str) -> UpstreamRequest:
        raise NotImplementedError

    # ------------------------------------------------------------ the steps
    async def send(self, channel: ChannelSpec, call: UpstreamCall) -> UpstreamReply:
        key = attempt_key(channel, call)
        if call.endpoint == PROBE_ENDPOINT:
            return await self._probe(channel, key)
        first, *rest = self.submissions(channel, call, key)
        reply = await self.exchange(channel, first)
        if reply.status >= 300:  # refused: the relay rotates keys, fails over or answers it
            return reply
        tasks = [self._task(channel, await _drained(reply))]
        for request in rest:  # more images: a later refusal only means fewer of them
            try:
                more = await self.exchange(channel, request)
                body = await _drained(more)
                if more.status < 300:
                    tasks.append(self._task(channel, body))
                else:
                    log.warning("image task submission refused: %d", more.status)
            except UpstreamFailure as err:
                log.warning("image task submission failed: %s", err.message)
        outcomes = await asyncio.gather(*(self._until_done(task, key, channel) for task in tasks))
        return _combined(tasks, outcomes)

    def _task(self, channel: ChannelSpec, body: bytes) -> Submitted:
        task = self.submitted(channel, _json(body))
        if task is None:
            raise UpstreamBadResponse("The upstream's answer to a submission names no task.")
        return task

    async def _until_done(self, task: Submitted, key: str, channel: ChannelSpec) -> Outcome:
        wait, misses = self.timings.first, 0
        while True:
            await asyncio.sleep(wait)
            wait = min(wait * 1.5, max(self.timings.longest, self.timings.first))
            try:
                reply = await self.exchange(channel, self.poll(task, key))
                status, body = reply.status, await _drained(reply)
            except UpstreamFailure:
                status, body = 0, b""
            if status == 0 or status == 429 or status >= 500:
                misses += 1
                if misses >= self.timings.misses:
                    return Outcome(failed="the upstream stopped answering the task's polls")
                continue
            misses = 0
            outcome = self.outcome(status, _json(body))
            if outcome is not None:
                return outcome

    async def _probe(self, channel: ChannelSpec, key: str) -> UpstreamReply:
        """A channel test reads a task that does not exist: free, and it proves the key
        (an unknown task is a success; a refused key or an upstream error is not)."""
        reply = await self.exchange(channel, self.probe(channel, key))
        body = await _drained(reply)
        if reply.status in _KEY_REFUSED or reply.status >= 500:
            return ReadReply(reply.status, reply.content_type, body)
        return ReadReply(200, reply.content_type, body)


def _combined(tasks: list[Submitted], outcomes: list[Outcome]) -> ReadReply:
    images = [image for outcome in outcomes for image in outcome.images]
    if images:
        return _answer(200, {"images": images, "tasks": [task.id for task in tasks]})
    refused = next((o.refused for o in outcomes if o.refused), None)
    if refused is not None:
        return _answer(400, {"error": {"message": refused}})
    failed = next((o.failed for o in outcomes if o.failed), "the task failed")
    log.warning("image task failed upstream: %s", failed)
    return _answer(502, {"error": {"message": failed}})


# ---------------------------------------------------------------- Black Forest Labs
_BFL_SIDE = (256, 1440)
_BFL_AREA = 1024 * 1024  # the pixels of a 1:1 image; other ratios keep about as many
_BFL_MODERATED = {
    "Request Moderated": "The upstream's moderation refused the prompt (Request Moderated).",
    "Content Moderated": "The upstream's moderation refused the image (Content Moderated).",
}
_BFL_FAILED = frozenset({"Error", "Failed", "Task not found"})


def _side(value: float) -> int:
    """A side in pixels: a multiple of 32 within what Black Forest Labs takes."""
    rounded = int(round(value / 32)) * 32
    return max(_BFL_SIDE[0], min(_BFL_SIDE[1], rounded))


def _dimensions(ratio: str) -> tuple[int, int]:
    across, down = (int(part) for part in ratio.split(":"))
    return _side(math.sqrt(_BFL_AREA * across / down)), _side(math.sqrt(_BFL_AREA * down / across))


def _image_input(value: str) -> str:
    """A data URL's base64 part (the form Black Forest Labs takes); a URL as it is."""
    if value.startswith("data:") and "," in value:
        return value.split(",", 1)[1]
    return value


def bfl_body(payload: Mapping[str, Any]) -> dict[str, Any]:
    """The platform's (Replicate's) parameters as Black Forest Labs' API names them.

    Ultra takes ``aspect_ratio`` (its table is the one with ``raw``); the others a width
    and a height: 1440 at most, multiples of 32, about a megapixel in the asked ratio, or
    the caller's own with ``aspect_ratio=custom``. ``webp`` is asked as ``jpeg`` (the API
    makes jpeg or png; the answer names the type it got). Not sent: ``output_quality``,
    ``prompt_strength`` (no counterpart), ``num_outputs`` (one task per image).
    """
    body: dict[str, Any] = {"prompt": payload["prompt"]}
    ratio = str(payload.get("aspect_ratio", "1:1"))
    if "raw" in payload:
        body["aspect_ratio"], body["raw"] = ratio, payload["raw"]
    elif ratio == "custom":
        body["width"] = _side(payload.get("width", 1024))
        body["height"] = _side(payload.get("height", 1024))
    else:
        body["width"], body["height"] = _dimensions(ratio)
    renamed = {"num_inference_steps": "steps", "steps": "steps", "image": "image_prompt"}
    for name in ("num_inference_steps", "steps", "guidance", "interval", "seed",
                 "safety_tolerance", "prompt_upsampling", "image", "image_prompt",
                 "image_prompt_strength"):  # fmt: skip
        if name in payload:
            body[renamed.get(name, name)] = payload[name]
    if "image_prompt" in body:
        body["image_prompt"] = _image_input(str(body["image_prompt"]))
    if "disable_safety_checker" in payload:  # the most permissive level, or the API's default
        body["safety_tolerance"] = 6 if payload["disable_safety_checker"] else 2
    if "output_format" in payload:
        body["output_format"] = "png" if payload["output_format"] == "png" else "jpeg"
    return body


class BFLProvider(TaskProvider):
    def _headers(self, key: str) -> dict[str, str]:
        return {"x-key": key, "Accept": _JSON}

    def submissions(self, channel: ChannelSpec, call: UpstreamCall, key: str) -> Requests:
        body = bfl_body(call.payload)
        url = f"{base_of(channel)}/v1/{quote(str(call.payload['model']), safe='.-_')}"
        headers = {**self._headers(key), "Content-Type": _JSON}
        requests = []
        for index in range(int(call.payload.get("num_outputs", 1))):
            each = dict(body)
            if "seed" in each:
                each["seed"] = (int(each["seed"]) + index) % 2**32
            requests.append(UpstreamRequest(b"POST", url, headers, orjson.dumps(each)))
        return requests

    def submitted(self, channel: ChannelSpec, data: Any) -> Submitted | None:
        if not isinstance(data, dict) or not isinstance(data.get("id"), str) or not data["id"]:
            return None
        polling = data.get("polling_url")
        if not isinstance(polling, str) or not polling.startswith(_WEB):
            polling = f"{base_of(channel)}/v1/get_result?id={quote(data['id'], safe='')}"
        return Submitted(data["id"], polling)

    def poll(self, task: Submitted, key: str) -> UpstreamRequest:
        return UpstreamRequest(b"GET", task.poll_url, self._headers(key))

    def outcome(self, status: int, data: Any) -> Outcome | None:
        if status == 404:
            return Outcome(failed="Task not found")
        if status >= 400 or not isinstance(data, dict):
            return Outcome(failed=f"a poll was answered {status} without a task's status")
        state = str(data.get("status", ""))
        if state == "Ready":
            result = data.get("result")
            found = (
                _image(result.get("sample"), result.get("seed"))
                if isinstance(result, dict)
                else None
            )
            if found is None:
                return Outcome(failed="Ready without an image")
            return Outcome(images=(found,))
        if state in _BFL_MODERATED:
            return Outcome(refused=_BFL_MODERATED[state])
        if state in _BFL_FAILED:
            return Outcome(failed=state)
        return None  # Pending, and any other state of a task still running

    def probe(self, channel: ChannelSpec, key: str) -> UpstreamRequest:
        url = f"{base_of(channel)}/v1/get_result?id={_PROBE_TASK}"
        return UpstreamRequest(b"GET", url, self._headers(key))


# ---------------------------------------------------------------- ND's generic task API
class NDProvider(TaskProvider):
    def _headers(self, key: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {key}", "Accept": _JSON}

    def submissions(self, channel: ChannelSpec, call: UpstreamCall, key: str) -> Requests:
        headers = {**self._headers(key), "Content-Type": _JSON}
        body = orjson.dumps(dict(call.payload))  # the checked parameters and the model
        return [UpstreamRequest(b"POST", f"{base_of(channel)}/tasks", headers, body)]

    def submitted(self, channel: ChannelSpec, data: Any) -> Submitted | None:
        if not isinstance(data, dict) or not isinstance(data.get("id"), str) or not data["id"]:
            return None
        return Submitted(data["id"], f"{base_of(channel)}/tasks/{quote(data['id'], safe='')}")

    def poll(self, task: Submitted, key: str) -> UpstreamRequest:
        return UpstreamRequest(b"GET", task.poll_url, self._headers(key))

    def outcome(self, status: int, data: Any) -> Outcome | None:
        if status >= 400 or not isinstance(data, dict):
            return Outcome(failed=f"a poll was answered {status} without a task's status")
        state, error = data.get("status"), data.get("error")
        message = error.get("message") if isinstance(error, dict) else error
        if state == "succeeded":
            listed = data.get("images")
            found = [
                _image(item.get("url"), item.get("seed"))
                for item in (listed if isinstance(listed, list) else [])
                if isinstance(item, dict)
            ]
            images = tuple(image for image in found if image)
            return Outcome(images=images) if images else Outcome(failed="succeeded without images")
        if state == "moderated":
            return Outcome(refused=f"The upstream's moderation refused the call: {message or ''}")
        if state == "failed":
            return Outcome(failed=str(message or "failed"))
        return None

    def probe(self, channel: ChannelSpec, key: str) -> UpstreamRequest:
        return UpstreamRequest(
            b"GET", f"{base_of(channel)}/tasks/{_PROBE_TASK}", self._headers(key)
        )


def task_providers(client: HTTPClient, timings: PollTimings) -> dict[str, Provider]:
    """The image task APIs' providers by channel type, to join the others (build.py)."""
    return {"bfl": BFLProvider(client, timings), "nd": NDProvider(client, timings)}


# A channel test reads a task that does not exist (free; module doc)
TASK_PROBES: Mapping[str, ProbeCall] = {
    "bfl": probe_call(PROBE_ENDPOINT, {}),
    "nd": probe_call(PROBE_ENDPOINT, {}),
}
