"""Azure text-to-speech: SSML or form fields in, the audio streamed out as it arrives.

Two ways to call it, one price: ``application/ssml+xml`` (the SSML as Azure takes it,
the output format in the ``output_format`` query parameter or Azure's own
``X-Microsoft-OutputFormat`` header), or the fields ``text``, ``voice``, ``rate``,
``pitch`` and ``output_format`` as a form or a JSON object, written into SSML here. The
call is held for the characters it will be billed (tools/ssml.py says which) before the
upstream is called, and billed them once the audio has begun to flow.
"""

from __future__ import annotations

import re
from decimal import Decimal
from urllib.parse import parse_qsl

from relaygate.core.errors import InvalidRequest
from relaygate.core.forms import parse_body
from relaygate.core.units import Usage
from relaygate.tools.params import Param, read_params
from relaygate.tools.record import Incoming, Tool, ToolJob
from relaygate.tools.ssml import read_ssml, write_ssml

__all__ = [
    "AZURE_TTS",
    "DEFAULT_FORMAT",
    "FORMATS",
    "SSML_TYPES",
    "TTS_PARAMS",
    "VOICES_ENDPOINT",
    "VOICE_PATTERN",
]

TTS_ENDPOINT = "tools/tts/azure"
VOICES_ENDPOINT = "tools/tts/azure/voices"
DEFAULT_FORMAT = "audio-24khz-48kbitrate-mono-mp3"
FORMATS = (
    "audio-16khz-32kbitrate-mono-mp3",
    "audio-16khz-64kbitrate-mono-mp3",
    "audio-16khz-128kbitrate-mono-mp3",
    "audio-24khz-48kbitrate-mono-mp3",
    "audio-24khz-96kbitrate-mono-mp3",
    "audio-24khz-160kbitrate-mono-mp3",
    "audio-48khz-96kbitrate-mono-mp3",
    "audio-48khz-192kbitrate-mono-mp3",
    "riff-8khz-16bit-mono-pcm",
    "riff-16khz-16bit-mono-pcm",
    "riff-22050hz-16bit-mono-pcm",
    "riff-24khz-16bit-mono-pcm",
    "riff-44100hz-16bit-mono-pcm",
    "riff-48khz-16bit-mono-pcm",
    "riff-8khz-8bit-mono-mulaw",
    "riff-8khz-8bit-mono-alaw",
    "raw-8khz-16bit-mono-pcm",
    "raw-16khz-16bit-mono-pcm",
    "raw-24khz-16bit-mono-pcm",
    "raw-48khz-16bit-mono-pcm",
    "raw-8khz-8bit-mono-mulaw",
    "raw-8khz-8bit-mono-alaw",
    "ogg-16khz-16bit-mono-opus",
    "ogg-24khz-16bit-mono-opus",
    "ogg-48khz-16bit-mono-opus",
    "webm-16khz-16bit-mono-opus",
    "webm-24khz-16bit-mono-opus",
    "amr-wb-16000hz",
    "g722-16khz-64kbps",
)
SSML_TYPES = ("application/ssml+xml", "application/xml", "text/xml")
MAX_TEXT = 10_000  # characters of a form call's text
VOICE_PATTERN = r"^[A-Za-z]{2,3}(-[A-Za-z0-9:]+){2,4}$"
_SPEAKABLE = r"^[^\x00-\x08\x0B\x0C\x0E-\x1F\uFFFE\uFFFF]+$"  # what XML can carry
_LEVELS = ("x-slow", "slow", "medium", "fast", "x-fast", "default")
_PITCHES = ("x-low", "low", "medium", "high", "x-high", "default")
_RATE = re.compile(r"([+-]?\d{1,3}(?:\.\d{1,2})?)(%?)")
_PITCH = re.compile(r"([+-]?\d{1,4}(?:\.\d{1,2})?)(%|Hz|st)")
# documented ranges: rate -50%..+100% or a multiplier 0.5..2; pitch -50%..+50%,
# -12..+12 semitones, or a change in Hz up to 500 either way
_RATE_PERCENT, _RATE_FACTOR = (Decimal(-50), Decimal(100)), (Decimal("0.5"), Decimal(2))
_PITCH_RANGES = {"%": Decimal(50), "st": Decimal(12), "Hz": Decimal(500)}

_FORMAT = Param(
    "output_format", enum=FORMATS, default=DEFAULT_FORMAT, description="Azure's audio format"
)
TTS_PARAMS = (
    Param(
        "text",
        required=True,
        max_length=MAX_TEXT,
        pattern=_SPEAKABLE,
        description="What to say (billed per character, every one)",
    ),
    Param(
        "voice",
        required=True,
        max_length=100,
        pattern=VOICE_PATTERN,
        description="An Azure voice's short name, e.g. zh-CN-XiaoxiaoNeural",
    ),
    Param(
        "rate",
        max_length=12,
        pattern=r"^([+-]?\d{1,3}(\.\d{1,2})?%?|x-slow|slow|medium|fast|x-fast|default)$",
        description="-50% to +100%, a multiplier 0.5 to 2, or x-slow ... x-fast",
    ),
    Param(
        "pitch",
        max_length=12,
        pattern=r"^([+-]?\d{1,4}(\.\d{1,2})?(%|Hz|st)|x-low|low|medium|high|x-high|default)$",
        description="-50% to +50%, -12st to +12st, -500Hz to +500Hz, or x-low ... x-high",
    ),
    _FORMAT,
)


def _check_rate(rate: str) -> None:
    if rate in _LEVELS:
        return
    match = _RATE.fullmatch(rate)
    low, high = _RATE_PERCENT if match and match.group(2) else _RATE_FACTOR
    if match is None or not low <= Decimal(match.group(1)) <= high:
        raise InvalidRequest(
            "'rate' must be -50% to +100%, a multiplier from 0.5 to 2, or x-slow ... x-fast.",
            param="rate",
        )


def _check_pitch(pitch: str) -> None:
    if pitch in _PITCHES:
        return
    match = _PITCH.fullmatch(pitch)
    if match is None or abs(Decimal(match.group(1))) > _PITCH_RANGES[match.group(2)]:
        raise InvalidRequest(
            "'pitch' must be -50% to +50%, -12st to +12st, -500Hz to +500Hz, or x-low ... x-high.",
            param="pitch",
        )


def _ssml_call(incoming: Incoming) -> ToolJob:
    query = dict(parse_qsl(incoming.query.decode("utf-8", "replace"), keep_blank_values=True))
    header = incoming.headers.get(b"x-microsoft-outputformat")
    if header is not None and "output_format" not in query:
        query["output_format"] = header.decode("latin-1")
    values = read_params((_FORMAT,), query)
    speech = read_ssml(incoming.body)
    payload = {
        "ssml": speech.ssml.decode(),
        "output_format": values.get("output_format", DEFAULT_FORMAT),
    }
    return ToolJob(AZURE_TTS.model, payload, Usage(characters=speech.characters), stream=True)


def parse_tts(incoming: Incoming) -> ToolJob:
    """SSML by its content type; anything else is a form or a JSON object of fields."""
    if incoming.content_type.split(";")[0].strip() in SSML_TYPES:
        return _ssml_call(incoming)
    values = read_params(TTS_PARAMS, parse_body(incoming.body, incoming.content_type))
    text: str = values["text"]
    if not text.strip():
        raise InvalidRequest("'text' has nothing to say.", param="text")
    rate, pitch = values.get("rate"), values.get("pitch")
    if rate is not None:
        _check_rate(rate)
    if pitch is not None:
        _check_pitch(pitch)
    speech = write_ssml(text, values["voice"], rate, pitch)
    payload = {
        "ssml": speech.ssml.decode(),
        "output_format": values.get("output_format", DEFAULT_FORMAT),
    }
    return ToolJob(AZURE_TTS.model, payload, Usage(characters=speech.characters), stream=True)


AZURE_TTS = Tool(
    model="azure-tts",
    endpoint=TTS_ENDPOINT,
    channel_types=frozenset({"azure_speech"}),
    parse=parse_tts,
)
