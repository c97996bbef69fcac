"""The media routes of the fake OpenAI upstream: images (generations, edits) and audio
(speech, transcriptions, translations), registered by :class:`FakeOpenAI`.

Every call is recorded as a :class:`MediaRecord`: the content type, the fields (JSON, or
the multipart text fields, read with the standard library's MIME parser, independently of
the gateway's own codec) and every uploaded file with its field name, file name, content
type and bytes. What a call answers is scripted per model with :class:`MediaBehaviour`
(``fake.media.script(model, ...)``); status codes, error bodies and latency come from the
fake's ordinary :class:`Behaviour` queue, as for every other route (``break_after``
hangs a speech answer up after that many audio chunks).
"""

from __future__ import annotations

import asyncio
import base64
import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from typing import TYPE_CHECKING, Any

from aiohttp import web

from tests.fakes.openai_payloads import Behaviour, dumps

if TYPE_CHECKING:
    from tests.fakes.openai_upstream import FakeOpenAI, RecordedRequest

__all__ = ["PNG", "MediaBehaviour", "MediaRecord", "MediaRoutes"]

# a valid 1x1 PNG, the fake's every image
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
)
DEFAULT_AUDIO = [b"ID3\x03\x00\x00\x00\x00\x00\x00", b"\xff\xfb\x90\x00" * 64, b"\xff\xfb" * 100]


@dataclass
class MediaRecord:
    path: str
    content_type: str
    fields: dict[str, list[str]]
    files: list[tuple[str, str, str, bytes]]  # (field, filename, content type, bytes)
    json: dict[str, Any] | None = None

    @property
    def model(self) -> str | None:
        values = self.fields.get("model")
        return values[0] if values else None


@dataclass
class MediaBehaviour:
    """``usage``: added to an images or transcription answer as given; ``duration``: the
    seconds a ``verbose_json`` transcription reports; ``audio``: the chunks of a speech
    answer (``audio_type`` its content type), with ``chunk_delay`` between them, or
    waiting for ``release`` (set by the test) after the first one."""

    usage: dict[str, Any] | None = None
    duration: float = 1.5
    text: str = "the fake heard you"
    audio: list[bytes] = field(default_factory=lambda: list(DEFAULT_AUDIO))
    audio_type: str = "audio/mpeg"
    chunk_delay: float = 0.0
    release: threading.Event | None = None
    released: bool | None = None  # whether ``release`` came in time (set by the fake)


def _fields_of(raw: bytes, content_type: str) -> tuple[dict[str, list[str]], list[Any]]:
    if content_type.startswith("multipart/form-data"):
        head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode()
        message = BytesParser(policy=HTTP).parsebytes(head + raw)
        fields: dict[str, list[str]] = {}
        files: list[Any] = []
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            data = part.get_payload(decode=True)
            filename = part.get_filename()
            if filename is not None:
                files.append((str(name), filename, part.get_content_type(), data))
            else:
                fields.setdefault(str(name), []).append(data.decode())
        return fields, files
    try:
        body = json.loads(raw)
    except ValueError:
        return {}, []
    if not isinstance(body, dict):
        return {}, []
    return {k: [v] for k, v in body.items()}, []


class MediaRoutes:
    def __init__(self, fake: FakeOpenAI) -> None:
        self.fake = fake
        self.received: list[MediaRecord] = []
        self._scripts: dict[str | None, deque[MediaBehaviour]] = {}
        self._lock = threading.Lock()

    def register(self, app: web.Application) -> None:
        app.router.add_post("/v1/images/generations", self._images)
        app.router.add_post("/v1/images/edits", self._images)
        app.router.add_post("/v1/audio/speech", self._speech)
        app.router.add_post("/v1/audio/transcriptions", self._transcript)
        app.router.add_post("/v1/audio/translations", self._transcript)

    def script(self, model: str | None, *behaviours: MediaBehaviour) -> None:
        with self._lock:
            self._scripts.setdefault(model, deque()).extend(behaviours)

    def _next(self, model: str | None) -> MediaBehaviour:
        with self._lock:
            for key in (model, None):
                queue = self._scripts.get(key)
                if queue:
                    return queue.popleft()
        return MediaBehaviour()

    async def _take(
        self, request: web.Request
    ) -> tuple[MediaRecord, RecordedRequest, Behaviour, MediaBehaviour]:
        rec = await self.fake._record(request)  # the fake's own log (headers, peer, bytes)
        content_type = request.headers.get("Content-Type", "")
        fields, files = _fields_of(rec.raw, content_type)
        as_json = None if content_type.startswith("multipart/") else json.loads(rec.raw)
        record = MediaRecord(request.path, content_type, fields, files, as_json)
        with self._lock:
            self.received.append(record)
        b = self.fake._next_behaviour(record.model)
        if b.latency:
            await asyncio.sleep(b.latency)
        return record, rec, b, self._next(record.model)

    def _json(self, b: Behaviour, body: dict[str, Any]) -> web.Response:
        return web.Response(body=dumps(body), content_type="application/json", headers=b.headers)

    async def _images(self, request: web.Request) -> web.StreamResponse:
        record, rec, b, m = await self._take(request)
        if b.status != 200:
            return self.fake._error(rec, b)
        n = int((record.fields.get("n") or ["1"])[0])
        fmt = (record.fields.get("response_format") or ["b64_json"])[0]
        image = base64.b64encode(PNG).decode()
        if str((record.fields.get("stream") or ["false"])[0]).lower() == "true":
            return await self._image_events(request, record, n, image, m)
        data = [
            {"url": f"https://images.fake/{i}.png"} if fmt == "url" else {"b64_json": image}
            for i in range(n)
        ]
        body: dict[str, Any] = {"created": int(time.time()), "data": data, "x_fake": True}
        if m.usage is not None:
            body["usage"] = m.usage
        return self._json(b, body)

    async def _image_events(
        self, request: web.Request, record: MediaRecord, n: int, image: str, m: MediaBehaviour
    ) -> web.StreamResponse:
        kind = "image_edit" if record.path.endswith("edits") else "image_generation"
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(request)
        for _ in range(n):
            partial = {"type": f"{kind}.partial_image", "b64_json": image, "partial_image_index": 0}
            done: dict[str, Any] = {"type": f"{kind}.completed", "b64_json": image, "created_at": 1}
            if m.usage is not None:
                done["usage"] = m.usage
            for event in (partial, done):
                frame = f"event: {event['type']}\ndata: ".encode() + dumps(event) + b"\n\n"
                await resp.write(frame)
        await resp.write_eof()
        return resp

    async def _speech(self, request: web.Request) -> web.StreamResponse:
        _record, rec, b, m = await self._take(request)
        if b.status != 200:
            return self.fake._error(rec, b)
        resp = web.StreamResponse(headers={"Content-Type": m.audio_type})
        await resp.prepare(request)
        for index, chunk in enumerate(m.audio):
            if b.break_after is not None and index >= b.break_after:
                self.fake._break(request, b)  # hang up mid-audio (``Behaviour.break_after``)
                return resp
            await resp.write(chunk)
            if index == 0 and m.release is not None:
                m.released = await asyncio.to_thread(m.release.wait, 10)
            elif m.chunk_delay:
                await asyncio.sleep(m.chunk_delay)
        await resp.write_eof()
        return resp

    async def _transcript(self, request: web.Request) -> web.StreamResponse:
        record, rec, b, m = await self._take(request)
        if b.status != 200:
            return self.fake._error(rec, b)
        fmt = (record.fields.get("response_format") or ["json"])[0]
        if fmt in ("text", "srt", "vtt"):
            return web.Response(text=m.text + "\n", content_type="text/plain")
        body: dict[str, Any] = {"text": m.text}
        if fmt == "verbose_json":
            body.update({"task": "transcribe", "language": "english", "duration": m.duration})
            body["segments"] = []
        if m.usage is not None:
            body["usage"] = m.usage
        return self._json(b, body)
