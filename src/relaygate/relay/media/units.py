"""The units a media call is held and billed by (docs/media.md, "Billing").

* Images: the images the answer holds (``len(data)``, or one per ``*.completed`` event
  of a stream), plus tokens when the upstream reports ``usage`` (gpt-image models).
* Speech: the input's characters; tokens too when a streamed answer reports them.
* Transcription and translation: seconds of audio, from the answer (``duration`` of
  ``verbose_json``, or ``usage: {"type": "duration"}``: the upstream decoded the audio),
  else from the uploaded file (:func:`~.audio.measure_upload`); and the tokens too when
  the answer reports ``usage: {"type": "tokens"}``. Both are recorded; the model's prices
  decide which is charged (a model priced both ways is charged both).

Before the call, the hold is placed for the same units as asked for (``n`` images, the
characters, the file's seconds; a file no reader understands at a low bitrate), so a
caller who cannot pay is refused before the upstream is called. A token-priced image
model (gpt-image) bills image output tokens by quality and size: each image is held for
the most its ``quality`` and ``size`` can cost (the largest when ``auto`` or unknown), at
least ``default_output_estimate``, plus 100 tokens per streamed partial image. A
transcription or translation is also held for the tokens a token-priced model
(gpt-4o-transcribe) bills for it, from the held length of the audio: the input audio at
:data:`AUDIO_INPUT_TOKENS_PER_SECOND` and the transcript at
:data:`TRANSCRIPT_TOKENS_PER_SECOND` (a conservative bound, see its comment); a model
priced only per second pays nothing for them.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from relaygate.relay.canonical import Usage
from relaygate.relay.dialects.sse import SSEFramer, event_object
from relaygate.relay.media.audio import AudioLength, measure_upload
from relaygate.relay.media.request import IMAGE_EDITS, IMAGES, SPEECH, MediaCall

__all__ = [
    "AUDIO_INPUT_TOKENS_PER_SECOND",
    "TRANSCRIPT_TOKENS_PER_SECOND",
    "StreamMeter",
    "estimate",
    "measured_audio",
    "reply_usage",
    "stream_usage",
]

# Tokens a token-priced transcription model bills per second of audio, as held before the
# call (docs/media.md, "The hold"). Input: OpenAI's audio models read audio as about 10
# tokens a second (one per 100 ms). Output: fast speech is about 5 words a second (300 a
# minute, an auctioneer's pace), 1.3 to 2 tokens a word in English and more in scripts
# tokenised a character at a time; 20 a second covers that with room to spare, so the
# transcript of any speech fits in the hold and the bill stays within it.
AUDIO_INPUT_TOKENS_PER_SECOND = 10
TRANSCRIPT_TOKENS_PER_SECOND = 20


def _tokens(text: Any) -> int:
    return max(1, len(text) // 4) if isinstance(text, str) else 0


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def measured_audio(call: MediaCall) -> AudioLength:
    """The upload's length (read once per call): to hold, and to bill when the answer
    does not say."""
    if call.measured is None:
        upload = call.file("file")
        call.measured = measure_upload(upload.data if upload is not None else b"")
    return call.measured


# gpt-image output tokens per image: quality -> size -> tokens (OpenAI's image pricing)
_IMAGE_TOKENS: dict[str, dict[str, int]] = {
    "low": {"1024x1024": 272, "1024x1536": 408, "1536x1024": 400},
    "medium": {"1024x1024": 1056, "1024x1536": 1584, "1536x1024": 1568},
    "high": {"1024x1024": 4160, "1024x1536": 6240, "1536x1024": 6208},
}
_PARTIAL_IMAGE_TOKENS = 100  # each streamed partial image is billed this many more


def _image_output_tokens(payload: dict[str, Any], floor: int) -> int:
    """The most output tokens one image of this call can be billed (see the docstring)."""
    by_size = _IMAGE_TOKENS.get(str(payload.get("quality")), _IMAGE_TOKENS["high"])
    size = by_size.get(str(payload.get("size")), max(by_size.values()))
    partial = min(_int(payload.get("partial_images")), 3)
    return max(size, floor) + partial * _PARTIAL_IMAGE_TOKENS


def estimate(call: MediaCall, output_per_image: int) -> Usage:
    """The units the hold is placed for, before the upstream is called."""
    payload = call.payload
    if call.endpoint in (IMAGES, IMAGE_EDITS):
        n = call.images
        prompt = _tokens(payload.get("prompt"))
        output = n * _image_output_tokens(payload, output_per_image)
        return Usage(prompt_tokens=prompt, completion_tokens=output, images=n)
    if call.endpoint == SPEECH:
        text = payload.get("input")
        return Usage(prompt_tokens=_tokens(text), characters=len(str(text)))
    held_ms = measured_audio(call).hold_ms
    seconds = -(-held_ms // 1000)  # started seconds, as billed
    return Usage(
        prompt_tokens=_tokens(payload.get("prompt")) + seconds * AUDIO_INPUT_TOKENS_PER_SECOND,
        completion_tokens=seconds * TRANSCRIPT_TOKENS_PER_SECOND,
        audio_ms=held_ms,
    )


def _seconds_ms(value: Any) -> int | None:
    """A duration in seconds (a JSON number) as whole milliseconds, rounded up."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        exact = Decimal(str(value)) * 1000
    except InvalidOperation:
        return None
    return int(exact.to_integral_value(rounding="ROUND_CEILING")) if exact >= 0 else None


def _token_usage(usage: Any, images: int = 0, characters: int = 0) -> Usage | None:
    if not isinstance(usage, dict) or not ("input_tokens" in usage or "output_tokens" in usage):
        return None
    return Usage(
        prompt_tokens=_int(usage.get("input_tokens")),
        completion_tokens=_int(usage.get("output_tokens")),
        images=images,
        characters=characters,
    )


def _with_audio(call: MediaCall, reported_ms: int | None, tokens: Usage | None) -> Usage:
    """The tokens (if any) with the audio's milliseconds: as the upstream reported them,
    else the uploaded file's."""
    usage = tokens or Usage()
    if reported_ms is not None:
        usage.audio_ms = reported_ms
    else:
        measured = measured_audio(call)
        usage.audio_ms, usage.estimated = measured.ms, measured.estimated
    return usage


def _audio_usage(answer: Any, call: MediaCall) -> Usage:
    """Seconds from the answer (else the file's), and tokens when it reports them."""
    reported: int | None = None
    tokens: Usage | None = None
    if isinstance(answer, dict):
        usage = answer.get("usage")
        if isinstance(usage, dict) and usage.get("type") == "tokens":
            tokens = _token_usage(usage)
        if isinstance(usage, dict) and usage.get("type") == "duration":
            reported = _seconds_ms(usage.get("seconds"))
        if reported is None:
            reported = _seconds_ms(answer.get("duration"))
    return _with_audio(call, reported, tokens)


def reply_usage(call: MediaCall, answer: Any) -> Usage:
    """The usage of a whole (not streamed) answer; ``answer`` is its JSON, or None."""
    if call.endpoint in (IMAGES, IMAGE_EDITS):
        data = answer.get("data") if isinstance(answer, dict) else None
        images = len(data) if isinstance(data, list) else 0
        usage = answer.get("usage") if isinstance(answer, dict) else None
        return _token_usage(usage, images=images) or Usage(images=images)
    if call.endpoint == SPEECH:
        return Usage(characters=len(str(call.payload.get("input", ""))))
    return _audio_usage(answer, call)


class StreamMeter:
    """Reads a streamed media answer's events as they pass: completed images (and their
    data, for the webhook), the usage of the final events, an error event."""

    __slots__ = ("_framer", "audio_ms", "created", "error", "images", "tokens")

    def __init__(self) -> None:
        self._framer = SSEFramer()
        self.images: list[dict[str, Any]] = []
        self.tokens: list[int] | None = None  # [input, output], summed over the events
        self.audio_ms: int | None = None
        self.error: str | None = None
        self.created = 0

    def feed(self, chunk: bytes) -> None:
        for _, data in self._framer.feed(chunk):
            self._event(event_object(data))

    def close(self) -> None:
        for _, data in self._framer.close():
            self._event(event_object(data))

    def _event(self, event: dict[str, Any] | None) -> None:
        kind = event.get("type") if event is not None else None
        if event is None or not isinstance(kind, str):
            return
        if kind == "error":
            error = event.get("error")
            message = error.get("message") if isinstance(error, dict) else None
            self.error = str(message or "the upstream reported an error")
            return
        if kind.startswith("image_") and kind.endswith(".completed"):
            self.images.append({"b64_json": event.get("b64_json")})
            self.created = _int(event.get("created_at")) or self.created
        usage = event.get("usage")
        if not isinstance(usage, dict) or not kind.endswith((".completed", ".done")):
            return
        if usage.get("type") == "duration":
            self.audio_ms = _seconds_ms(usage.get("seconds"))
        elif "input_tokens" in usage or "output_tokens" in usage:
            held = self.tokens or [0, 0]
            held[0] += _int(usage.get("input_tokens"))
            held[1] += _int(usage.get("output_tokens"))
            self.tokens = held

    def token_usage(self, images: int = 0, characters: int = 0) -> Usage | None:
        if self.tokens is None:
            return None
        prompt, completion = self.tokens
        return Usage(
            prompt_tokens=prompt, completion_tokens=completion, images=images, characters=characters
        )

    def answer(self) -> dict[str, Any]:
        """The images of the stream as an images response object (for the webhook)."""
        body: dict[str, Any] = {"created": self.created, "data": self.images}
        if self.tokens is not None:
            body["usage"] = {"input_tokens": self.tokens[0], "output_tokens": self.tokens[1]}
        return body


def stream_usage(call: MediaCall, meter: StreamMeter | None) -> Usage:
    """The usage of a streamed answer (speech audio has no events to read)."""
    if call.endpoint == SPEECH:
        characters = len(str(call.payload.get("input", "")))
        counted = meter.token_usage(characters=characters) if meter else None
        return counted or Usage(characters=characters)
    if meter is None:
        return reply_usage(call, None)
    if call.endpoint in (IMAGES, IMAGE_EDITS):
        images = len(meter.images)
        return meter.token_usage(images=images) or Usage(images=images)
    return _with_audio(call, meter.audio_ms, meter.token_usage())
