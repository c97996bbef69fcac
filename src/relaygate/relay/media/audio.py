"""Audio the gateway reads and writes itself: WAV (RIFF) headers, and other formats'
durations through ``mutagen``.

Why: a transcription whose answer does not say how long the audio was (``json`` from
whisper-1, ``text``, ``srt``, ``vtt``) is billed by the uploaded file's duration, and the
hold placed before the call needs it too. A WAV header gives it exactly (data bytes ÷
bytes per second); ``mutagen`` (pure Python) reads MP3, M4A/MP4, Ogg/Opus and FLAC
(not WebM, which is then estimated from its size). Pure code: the echo provider uses the
WAV writer.
"""

from __future__ import annotations

import io
import logging
import math
import struct

__all__ = ["audio_duration_ms", "wav_bytes", "wav_duration_ms"]

log = logging.getLogger(__name__)


def _ceil_div(numerator: int, denominator: int) -> int:
    return -(-numerator // denominator)


def wav_duration_ms(data: bytes) -> int | None:
    """A RIFF/WAVE file's duration in milliseconds (rounded up), None if not a WAV.

    The ``fmt `` chunk gives the bytes per second, the ``data`` chunk's size the audio;
    a ``data`` size larger than what follows (a streamed WAV with a placeholder size) is
    cut to the bytes actually there.
    """
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        return None
    pos, byte_rate = 12, 0
    while pos + 8 <= len(data):
        chunk_id = data[pos : pos + 4]
        (size,) = struct.unpack_from("<I", data, pos + 4)
        body = pos + 8
        if chunk_id == b"fmt " and size >= 16 and body + 16 <= len(data):
            byte_rate = struct.unpack_from("<I", data, body + 8)[0]
        elif chunk_id == b"data":
            if byte_rate <= 0:
                return None
            audio = min(size, len(data) - body)
            return _ceil_div(audio * 1000, byte_rate)
        pos = body + size + (size & 1)  # chunks are padded to an even size
    return None


def _mutagen_duration_ms(data: bytes) -> int | None:
    try:
        import mutagen
    except ImportError:  # pragma: no cover - an install without the dependency
        return None
    try:
        found = mutagen.File(io.BytesIO(data))
    except Exception:  # noqa: BLE001 - any unreadable upload simply has no known duration
        log.debug("mutagen could not read an upload", exc_info=True)
        return None
    length = getattr(getattr(found, "info", None), "length", None)
    if not isinstance(length, int | float) or length <= 0:
        return None
    return math.ceil(length * 1000)


def audio_duration_ms(data: bytes) -> int | None:
    """The upload's duration in milliseconds (rounded up), when it can be read."""
    return wav_duration_ms(data) or _mutagen_duration_ms(data)


def wav_bytes(milliseconds: int, rate: int = 8000) -> bytes:
    """A mono 8-bit PCM WAV of that length (a quiet 440 Hz square wave)."""
    frames = rate * milliseconds // 1000
    period = max(2, rate // 440)
    samples = bytes(128 + (8 if (i % period) < period // 2 else -8) for i in range(frames))
    fmt = struct.pack("<HHIIHH", 1, 1, rate, rate, 1, 8)
    chunks = b"fmt " + struct.pack("<I", len(fmt)) + fmt
    chunks += b"data" + struct.pack("<I", len(samples)) + samples
    if len(samples) & 1:
        chunks += b"\x00"
    return b"RIFF" + struct.pack("<I", 4 + len(chunks)) + b"WAVE" + chunks
