"""How long an upload is held and billed for: a WAV as a decoder plays it, whatever its
header's ``byte_rate`` and ``data`` size say; never less than its size at a bitrate
denser than honest files of its kind; an unreadable file held at a low bitrate."""

from __future__ import annotations

import io
import struct
import wave

import httpx
import pytest

from relaygate.relay.media.audio import (
    COMPRESSED_FLOOR,
    ESTIMATE_RATE,
    HOLD_RATE,
    LOSSLESS_FLOOR,
    AudioLength,
    measure_upload,
    wav_duration_ms,
)
from relaygate.relay.media.request import TRANSCRIPTIONS, parse_call
from relaygate.relay.media.units import estimate, reply_usage

MP3_FRAME = b"\xff\xfb\x90\x00" + bytes(413)  # MPEG-1 layer III, 128 kbit/s, 44.1 kHz


def _wav(seconds: float, rate: int = 16_000, channels: int = 1, width: int = 2) -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as writer:
        writer.setnchannels(channels)
        writer.setsampwidth(width)
        writer.setframerate(rate)
        writer.writeframes(bytes(width * channels * int(rate * seconds)))
    return out.getvalue()


def _ms(size: int, rate: int) -> int:
    return -(-size * 1000 // rate)


def _patched(data: bytes, offset: int, value: int) -> bytes:
    out = bytearray(data)
    struct.pack_into("<I", out, offset, value)
    return bytes(out)


def test_an_honest_wav_is_its_exact_length() -> None:
    assert measure_upload(_wav(2.5)) == AudioLength(2500, False, 2500)


def test_dense_pcm_is_not_overbilled_by_the_floor() -> None:
    """44.1 kHz stereo 16-bit is 176,400 bytes a second, far denser than any lossy file:
    its length is still its own."""
    assert measure_upload(_wav(3.0, rate=44_100, channels=2)).ms == 3000


@pytest.mark.parametrize(
    ("offset", "value"),
    [(28, 0xFFFFFFFF), (28, 1), (40, 2), (40, 0xFFFFFFFF)],
    ids=["byte_rate-huge", "byte_rate-tiny", "data-size-tiny", "data-size-placeholder"],
)
def test_byte_rate_and_data_size_are_not_trusted(offset: int, value: int) -> None:
    """A 60-second WAV whose ``byte_rate`` (offset 28) or ``data`` size (offset 40) lies:
    decoders ignore the one and the samples are there despite the other."""
    forged = _patched(_wav(60.0), offset, value)
    assert wav_duration_ms(forged) == 60_000
    assert measure_upload(forged) == AudioLength(60_000, False, 60_000)


def test_a_forged_sample_rate_is_floored_by_the_size() -> None:
    """A sample rate of 4 GHz makes the header say a millisecond; the file's size at the
    densest lossless rate still bills it."""
    forged = _patched(_wav(60.0), 24, 0xFFFFFFFF)
    assert wav_duration_ms(forged) == 1
    assert measure_upload(forged).ms == _ms(len(forged), LOSSLESS_FLOOR)


def test_a_compressed_file_is_its_header_length_or_at_least_its_size_at_384_kbit() -> None:
    honest = MP3_FRAME * 600  # 15.64 s at 128 kbit/s
    assert measure_upload(honest) == AudioLength(15_638, False, 15_638)
    xing = bytearray(MP3_FRAME)
    xing[36:48] = b"Xing" + struct.pack(">II", 1, 1)  # a VBR header claiming one frame
    forged = bytes(xing) + MP3_FRAME * 599
    assert measure_upload(forged) == AudioLength(
        _ms(len(forged), COMPRESSED_FLOOR), False, _ms(len(forged), COMPRESSED_FLOOR)
    )


def test_an_unreadable_file_is_billed_at_the_estimate_and_held_at_a_low_bitrate() -> None:
    webm = b"\x1a\x45\xdf\xa3" + bytes(31_996)
    assert measure_upload(webm) == AudioLength(
        _ms(32_000, ESTIMATE_RATE), True, _ms(32_000, HOLD_RATE)
    )
    assert (ESTIMATE_RATE, HOLD_RATE) == (16_000, 4_000)


def _transcription(audio: bytes) -> tuple[bytes, str]:
    request = httpx.Request(
        "POST",
        "http://x/",
        data={"model": "whisper-1"},
        files=[("file", ("upload", audio, "application/octet-stream"))],
    )
    return request.read(), request.headers["content-type"]


def test_the_hold_of_an_unreadable_upload_is_four_times_its_bill() -> None:
    call = parse_call(TRANSCRIPTIONS, *_transcription(b"\x1a\x45\xdf\xa3" + bytes(31_996)))
    assert estimate(call, 0).audio_ms == 8000
    usage = reply_usage(call, {"text": "hi"})
    assert (usage.audio_ms, usage.estimated) == (2000, True)


def test_the_upstream_duration_wins_over_the_file() -> None:
    """The upstream decoded the audio: its duration is trusted as it is, and tokens it
    reports are kept alongside."""
    call = parse_call(TRANSCRIPTIONS, *_transcription(_wav(60.0)))
    answer = {"text": "hi", "usage": {"type": "tokens", "input_tokens": 7, "output_tokens": 3}}
    usage = reply_usage(call, {**answer, "duration": 0.5})
    assert (usage.audio_ms, usage.prompt_tokens, usage.completion_tokens) == (500, 7, 3)
    assert reply_usage(call, answer).audio_ms == 60_000
