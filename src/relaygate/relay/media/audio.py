"""Audio the gateway reads and writes itself: WAV (RIFF) headers, other formats'
durations through ``mutagen``, and the length an upload is held and billed for.

Why: a transcription whose answer does not say how long the audio was (``json`` from
whisper-1, ``text``, ``srt``, ``vtt``) is billed by the uploaded file's duration, and the
hold placed before the call needs it too. But a file's header is written by the caller:
a forged one must not make a long recording nearly free. So (docs/media.md, "Billing"):

* a PCM WAV's length is computed as decoders compute it, from the sample rate, channels
  and sample size over the bytes actually uploaded after the ``data`` chunk header (the
  header's ``byte_rate`` and the ``data`` chunk's declared size are ignored: decoders do
  not use the first, and the second is what a forger would shrink);
* ``mutagen`` (pure Python) reads MP3, M4A/MP4, Ogg/Opus and FLAC;
* whatever a header says, the length is at least the file's size at a bitrate denser
  than honest files of its kind have (:data:`COMPRESSED_FLOOR`, :data:`LOSSLESS_FLOOR`),
  so an honest file is never billed more than its header says;
* a file no reader understands (WebM, or anything else) is billed at the documented
  estimate (:data:`ESTIMATE_RATE`, flagged as estimated) but held for the length it would
  have at a low bitrate (:data:`HOLD_RATE`), so concurrent calls cannot overspend.

Pure code: the echo provider uses the WAV reader and writer.
"""

from __future__ import annotations

import io
import logging
import math
import struct
from dataclasses import dataclass
from typing import Any

__all__ = [
    "COMPRESSED_FLOOR",
    "ESTIMATE_RATE",
    "HOLD_RATE",
    "LOSSLESS_FLOOR",
    "AudioLength",
    "measure_upload",
    "wav_bytes",
    "wav_duration_ms",
]

log = logging.getLogger(__name__)

# Bytes a second. 384 kbit/s: above the highest bitrate of MP3 (320), AAC and Opus as used.
COMPRESSED_FLOOR = 48_000
# 48 kHz stereo 32-bit PCM (3,072 kbit/s); a denser lossless file is billed at this rate.
LOSSLESS_FLOOR = 384_000
ESTIMATE_RATE = 16_000  # an unreadable file's billed length: 128 kbit/s
HOLD_RATE = 4_000  # an unreadable file's held length: 32 kbit/s (low-bitrate Opus)

# WAVE format tags of uncompressed samples: PCM, IEEE float, A-law, mu-law, extensible
_UNCOMPRESSED_WAV = frozenset({1, 3, 6, 7, 0xFFFE})
# mutagen's types of lossless formats (a WAVE is read by wav_duration_ms, not here)
_LOSSLESS_TYPES = frozenset(
    {"FLAC", "OggFLAC", "AIFF", "WavPack", "TrueAudio", "MonkeysAudio", "OptimFROG"}
)


@dataclass(frozen=True, slots=True)
class AudioLength:
    """An upload's length: ``ms`` to bill when the answer does not say, whether that is
    an ``estimated`` guess, and ``hold_ms``, what the hold before the call is placed for."""

    ms: int
    estimated: bool
    hold_ms: int


def _ms(size: int, bytes_per_second: int) -> int:
    """Milliseconds of ``size`` bytes at that rate, rounded up."""
    return -(-size * 1000 // bytes_per_second)


def _wav_format(data: bytes) -> tuple[int, int, int] | None:
    """(format tag, bits per second, where the samples start) of a RIFF/WAVE file whose
    ``fmt `` chunk comes before its ``data`` chunk; None if it is not one."""
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        return None
    pos, fmt = 12, None
    while pos + 8 <= len(data):
        chunk_id = data[pos : pos + 4]
        (size,) = struct.unpack_from("<I", data, pos + 4)
        body = pos + 8
        if chunk_id == b"fmt " and size >= 16 and body + 16 <= len(data):
            tag, channels, rate = struct.unpack_from("<HHI", data, body)
            (bits,) = struct.unpack_from("<H", data, body + 14)
            fmt = (tag, channels * rate * bits)
        elif chunk_id == b"data":
            return None if fmt is None else (fmt[0], fmt[1], body)
        pos = body + size + (size & 1)  # chunks are padded to an even size
    return None


def wav_duration_ms(data: bytes) -> int | None:
    """A RIFF/WAVE file's duration in milliseconds (rounded up), None if not a WAV.

    Computed as a decoder plays it: sample rate × channels × bits per sample, over every
    byte after the ``data`` chunk's header (its declared size may be a streamed WAV's
    placeholder, or forged smaller than the samples that follow).
    """
    found = _wav_format(data)
    if found is None or found[1] <= 0:
        return None
    _, bits_per_second, start = found
    return -(-(len(data) - start) * 8000 // bits_per_second)


def _mutagen_file(data: bytes) -> Any:
    try:
        import mutagen
    except ImportError:  # pragma: no cover - an install without the dependency
        return None
    try:
        return mutagen.File(io.BytesIO(data))
    except Exception:  # noqa: BLE001 - any unreadable upload simply has no known duration
        log.debug("mutagen could not read an upload", exc_info=True)
        return None


def _header_length(data: bytes) -> tuple[int | None, bool]:
    """The duration the file's own header gives (None: unreadable), and whether the file
    is uncompressed or lossless (which is denser than any lossy file)."""
    wav = _wav_format(data)
    if wav is not None and wav[1] > 0:
        return wav_duration_ms(data), wav[0] in _UNCOMPRESSED_WAV
    found = _mutagen_file(data)
    info = getattr(found, "info", None)
    length = getattr(info, "length", None)
    if not isinstance(length, int | float) or length <= 0:
        return None, False
    kind = type(found).__name__
    codec = str(getattr(info, "codec", ""))
    lossless = kind in _LOSSLESS_TYPES or (kind == "MP4" and codec.startswith("alac"))
    return math.ceil(length * 1000), lossless


def measure_upload(data: bytes) -> AudioLength:
    """How long an upload is, for the hold and (when the answer does not say) the bill."""
    header, lossless = _header_length(data)
    if header is None:
        return AudioLength(_ms(len(data), ESTIMATE_RATE), True, _ms(len(data), HOLD_RATE))
    floor = _ms(len(data), LOSSLESS_FLOOR if lossless else COMPRESSED_FLOOR)
    length = max(header, floor)
    return AudioLength(length, False, length)


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
