"""The echo model's answers to the media routes, offline and deterministic.

Images are a tiny valid PNG (``b64_json``, or a ``data:`` URL for ``response_format=url``),
one per ``n``; speech is a short valid WAV whose length follows the input (20 ms a
character, at least 200 ms), sent in chunks as a real upstream streams it; a
transcription or translation says what it received and, for a WAV upload, its real
duration, in the format asked for.
"""

from __future__ import annotations

import base64
import struct
import time
import zlib
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import orjson

from relaygate.relay.media.audio import wav_bytes, wav_duration_ms
from relaygate.relay.media.forms import Form, parse_multipart
from relaygate.relay.providers.base import UpstreamCall, UpstreamReply

__all__ = ["answer_media", "png_bytes"]

_MS_PER_CHARACTER = 20
_AUDIO_CHUNK = 4096


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(kind + data) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


def png_bytes() -> bytes:
    """A valid 1×1 PNG (one opaque teal pixel)."""
    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)  # 8-bit RGB
    pixels = zlib.compress(b"\x00\x00\x80\x80")  # filter byte, then R G B
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", pixels)
        + _png_chunk(b"IEND", b"")
    )


class _MediaReply:
    """A whole answer, handed out in chunks of ``chunk`` bytes when streamed."""

    status = 200

    def __init__(self, body: bytes, content_type: str, chunk: int = 0) -> None:
        self._body = body
        self._chunk = chunk or len(body) or 1
        self.content_type = content_type

    async def read(self) -> bytes:
        return self._body

    async def chunks(self) -> AsyncIterator[bytes]:
        for start in range(0, len(self._body), self._chunk):
            yield self._body[start : start + self._chunk]

    def header(self, name: bytes) -> bytes | None:
        return None

    def close(self) -> None:
        return None


def _count(value: Any) -> int:
    try:
        return max(1, min(10, int(value)))
    except (TypeError, ValueError):
        return 1


def _images(payload: dict[str, Any], form: Form | None) -> UpstreamReply:
    image = base64.b64encode(png_bytes()).decode()
    prompt = str(payload.get("prompt", ""))
    if form is not None:
        received = [f for f in form.files if f.field in ("image", "image[]")]
        masked = any(f.field == "mask" for f in form.files)
        prompt += f" (edited {len(received)} image(s){', with a mask' if masked else ''})"
    as_url = payload.get("response_format") == "url"
    item = {"url": "data:image/png;base64," + image} if as_url else {"b64_json": image}
    data = [{**item, "revised_prompt": f"Echo: {prompt}"} for _ in range(_count(payload.get("n")))]
    body = {"created": int(time.time()), "data": data}
    return _MediaReply(orjson.dumps(body), "application/json")


def _speech(payload: dict[str, Any]) -> UpstreamReply:
    characters = len(str(payload.get("input", "")))
    audio = wav_bytes(max(200, characters * _MS_PER_CHARACTER))
    return _MediaReply(audio, "audio/wav", _AUDIO_CHUNK)


def _transcript(payload: dict[str, Any], form: Form, task: str) -> UpstreamReply:
    upload = next((f for f in form.files if f.field == "file"), None)
    if upload is None:
        text, duration = "Echo: no file received", None
    else:
        duration = wav_duration_ms(upload.data)
        text = f"Echo: received {upload.filename} ({len(upload.data)} bytes, {upload.content_type})"
        if duration is not None:
            text += f", {Decimal(duration) / 1000} seconds of audio"
    seconds = None if duration is None else float(Decimal(duration) / 1000)
    fmt = payload.get("response_format") or "json"
    if fmt in ("text", "srt", "vtt"):
        return _MediaReply(_subtitles(text, fmt, seconds or 1.0).encode(), "text/plain")
    if fmt == "verbose_json":
        body: dict[str, Any] = {"task": task, "language": "english", "text": text}
        body.update({"duration": seconds or 0.0, "segments": []})
    else:
        body = {"text": text}
        if seconds is not None:
            body["usage"] = {"type": "duration", "seconds": seconds}
    return _MediaReply(orjson.dumps(body), "application/json")


def _subtitles(text: str, fmt: str, seconds: float) -> str:
    if fmt == "text":
        return text + "\n"
    end = f"00:00:{min(seconds, 59.999):06.3f}"
    if fmt == "srt":
        return f"1\n00:00:00,000 --> {end.replace('.', ',')}\n{text}\n\n"
    return f"WEBVTT\n\n00:00:00.000 --> {end}\n{text}\n\n"


def answer_media(call: UpstreamCall) -> UpstreamReply:
    """The echo model's answer to a media call (``call.endpoint`` in MEDIA_ENDPOINTS)."""
    payload = call.payload
    form = None
    if call.content_type.startswith("multipart/form-data"):
        form = parse_multipart(call.body, call.content_type)
    if call.endpoint == "audio/speech":
        return _speech(payload)
    if call.endpoint.startswith("images/"):
        return _images(payload, form)
    task = "translate" if call.endpoint == "audio/translations" else "transcribe"
    return _transcript(payload, form or Form([], []), task)
