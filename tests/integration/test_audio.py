"""``POST /v1/audio/speech``, ``/transcriptions`` and ``/translations`` through the
gateway: speech streamed chunk by chunk and billed per character; uploads re-encoded with
the channel's model and billed per started second (from the answer, else the WAV itself)."""

from __future__ import annotations

import io
import struct
import threading
import uuid
import wave

import httpx
import pytest

from tests.fakes.media_routes import DEFAULT_AUDIO, MediaBehaviour
from tests.fakes.openai_upstream import Behaviour, FakeOpenAI
from tests.harness import Gateway
from tests.integration.test_images import settled
from tests.integration.test_money import START, books, wallet

PER_CHARACTER = {"per_character": "15"}  # $15 per million characters: 15 micro a character
PER_SECOND = {"per_second": "0.0001"}  # $0.006 a minute: 100 micro a second


def make_wav(seconds: float, rate: int = 16_000) -> bytes:
    """A mono 16-bit WAV of silence, written by the standard library."""
    out = io.BytesIO()
    with wave.open(out, "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(rate)
        writer.writeframes(b"\x00\x00" * int(rate * seconds))
    return out.getvalue()


def _mapped(gw: Gateway, fake: FakeOpenAI, **price: str) -> tuple[str, str]:
    public, upstream = f"aud-{uuid.uuid4().hex[:8]}", f"up-{uuid.uuid4().hex[:8]}"
    gw.add_channel(fake, models={public: upstream})
    gw.op("PUT", f"/models/{public}", json=price)
    return public, upstream


def test_speech_is_streamed_as_it_comes_and_billed_per_character(
    gateway: Gateway, fake: FakeOpenAI
) -> None:
    public, upstream = _mapped(gateway, fake, **PER_CHARACTER)
    key = gateway.make_user_key()
    release = threading.Event()
    behaviour = MediaBehaviour(release=release)
    fake.media.script(None, behaviour)
    text = "The quick brown fox jumps over the lazy dog. " * 3
    received = b""
    sdk = gateway.openai(key.key)
    with sdk.audio.speech.with_streaming_response.create(
        model=public, voice="alloy", input=text
    ) as response:
        assert response.headers["content-type"] == "audio/mpeg"
        for chunk in response.iter_bytes():
            received += chunk
            release.set()  # the upstream sends the rest only after we got the first bytes
    assert behaviour.released is True  # the first chunk reached us before the upstream ended
    assert received == b"".join(DEFAULT_AUDIO)
    sent = fake.media.received[-1]
    assert sent.json == {"model": upstream, "voice": "alloy", "input": text}
    record = gateway.usage(user_id=key.user_id)[0]
    assert record["endpoint"] == "audio/speech" and record["characters"] == len(text)
    assert record["official_cost"] == 15 * len(text) and record["amount"] == 15 * len(text)
    books(gateway, key.user_id)


def test_speech_form_urlencoded_is_coerced(gateway: Gateway, fake: FakeOpenAI) -> None:
    public, upstream = _mapped(gateway, fake, **PER_CHARACTER)
    key = gateway.make_user_key()
    fake.media.script(None, MediaBehaviour(audio=[b"RIFF", b"wav-bytes"], audio_type="audio/wav"))
    form = {"model": public, "input": "hello", "voice": "nova", "speed": "1.5"}
    with gateway.http(key.key) as http:
        answer = http.post("/v1/audio/speech", data=form)
        assert answer.status_code == 200 and answer.content == b"RIFFwav-bytes"
        assert answer.headers["content-type"] == "audio/wav"
        bad = http.post("/v1/audio/speech", data={**form, "speed": "fast"})
        assert bad.status_code == 400 and bad.json()["error"]["param"] == "speed"
        long = http.post("/v1/audio/speech", json={**form, "speed": 1, "input": "x" * 4097})
        assert long.status_code == 400 and long.json()["error"]["param"] == "input"
    sent = fake.media.received[-1]
    assert sent.content_type == "application/json"
    assert sent.json == {"model": upstream, "input": "hello", "voice": "nova", "speed": 1.5}
    assert len(fake.media.received) == 1
    records = settled(gateway, key.user_id, 3)
    assert sorted((r["status"], r["amount"]) for r in records) == [(200, 75), (400, 0), (400, 0)]


def test_transcription_of_a_wav_is_billed_by_its_own_duration(
    gateway: Gateway, fake: FakeOpenAI
) -> None:
    public, upstream = _mapped(gateway, fake, **PER_SECOND)
    key = gateway.make_user_key()
    audio = make_wav(2.5)
    result = gateway.openai(key.key).audio.transcriptions.create(
        model=public, file=("meeting.wav", audio, "audio/wav"), language="en", prompt="hi"
    )
    assert result.text == "the fake heard you"
    sent = fake.media.received[-1]
    assert sent.path == "/v1/audio/transcriptions" and sent.model == upstream
    assert sent.fields["language"] == ["en"] and sent.fields["prompt"] == ["hi"]
    assert sent.files == [("file", "meeting.wav", "audio/wav", audio)]
    record = gateway.usage(user_id=key.user_id)[0]
    assert record["audio_ms"] == 2500 and record["usage_estimated"] is False
    assert record["official_cost"] == 300 and record["amount"] == 300  # 3 started seconds
    books(gateway, key.user_id)


def test_transcription_duration_from_the_answer(gateway: Gateway, fake: FakeOpenAI) -> None:
    public, _ = _mapped(gateway, fake, **PER_SECOND)
    key = gateway.make_user_key()
    sdk = gateway.openai(key.key)
    fake.media.script(None, MediaBehaviour(duration=7.25))
    verbose = sdk.audio.transcriptions.create(
        model=public,
        file=("a.wav", make_wav(1.0), "audio/wav"),
        response_format="verbose_json",
        timestamp_granularities=["word", "segment"],
    )
    assert verbose.duration == 7.25
    assert fake.media.received[-1].fields["timestamp_granularities[]"] == ["word", "segment"]
    fake.media.script(None, MediaBehaviour(usage={"type": "duration", "seconds": 4}))
    sdk.audio.transcriptions.create(model=public, file=("a.wav", make_wav(1.0), "audio/wav"))
    records = gateway.usage(user_id=key.user_id)
    assert [(r["audio_ms"], r["amount"]) for r in records] == [(4000, 400), (7250, 800)]


def test_token_priced_transcription_is_billed_by_tokens(gateway: Gateway, fake: FakeOpenAI) -> None:
    """Priced by tokens only: the tokens are charged; the seconds are recorded (from the
    file, the answer having none) but cost nothing."""
    public, _ = _mapped(gateway, fake, input="6", output="10")
    key = gateway.make_user_key()
    usage = {"type": "tokens", "input_tokens": 120, "output_tokens": 30, "total_tokens": 150}
    fake.media.script(None, MediaBehaviour(usage=usage))
    gateway.openai(key.key).audio.transcriptions.create(
        model=public, file=("a.wav", make_wav(3.0), "audio/wav")
    )
    record = gateway.usage(user_id=key.user_id)[0]
    assert (record["prompt_tokens"], record["completion_tokens"], record["audio_ms"]) == (
        120,
        30,
        3000,
    )
    assert record["official_cost"] == 120 * 6 + 30 * 10  # micro-units: $6/M and $10/M


def test_per_second_price_applies_when_the_answer_reports_tokens(
    gateway: Gateway, fake: FakeOpenAI
) -> None:
    """A model priced per second is charged its seconds even when the upstream's answer
    reports tokens (gpt-4o-transcribe does): before, it was charged nothing."""
    public, _ = _mapped(gateway, fake, **PER_SECOND)
    key = gateway.make_user_key()
    sdk = gateway.openai(key.key)
    usage = {"type": "tokens", "input_tokens": 120, "output_tokens": 30, "total_tokens": 150}
    fake.media.script(None, MediaBehaviour(usage=usage))
    sdk.audio.transcriptions.create(model=public, file=("a.wav", make_wav(3.0), "audio/wav"))
    fake.media.script(None, MediaBehaviour(usage=usage, duration=4.5))
    sdk.audio.transcriptions.create(
        model=public, file=("a.wav", make_wav(3.0), "audio/wav"), response_format="verbose_json"
    )
    records = gateway.usage(user_id=key.user_id)
    assert [(r["prompt_tokens"], r["audio_ms"], r["amount"]) for r in records] == [
        (120, 4500, 500),  # the upstream's own duration wins over the file's
        (120, 3000, 300),
    ]


def _forged(wav: bytes, byte_rate: int | None = None, data_size: int | None = None) -> bytes:
    """``wav`` (as ``make_wav`` writes it: fmt at 12, data at 36) with header fields lied."""
    out = bytearray(wav)
    if byte_rate is not None:
        struct.pack_into("<I", out, 28, byte_rate)
    if data_size is not None:
        assert out[36:40] == b"data"
        struct.pack_into("<I", out, 40, data_size)
    return bytes(out)


def test_a_forged_wav_header_is_billed_by_its_samples(gateway: Gateway, fake: FakeOpenAI) -> None:
    """A caller who rewrites byte_rate (0xFFFFFFFF: 5 ms) or the data chunk's size (2
    bytes: 1 ms) still pays for the audio uploaded, as a decoder would play it."""
    public, _ = _mapped(gateway, fake, **PER_SECOND)
    key = gateway.make_user_key()
    sdk = gateway.openai(key.key)
    audio = make_wav(3.0)
    for forged in (_forged(audio, byte_rate=0xFFFFFFFF), _forged(audio, data_size=2)):
        sdk.audio.transcriptions.create(model=public, file=("a.wav", forged, "audio/wav"))
    records = gateway.usage(user_id=key.user_id)
    assert [(r["audio_ms"], r["usage_estimated"], r["amount"]) for r in records] == [
        (3000, False, 300)
    ] * 2
    books(gateway, key.user_id)


def test_translation_as_text_is_passed_through(gateway: Gateway, fake: FakeOpenAI) -> None:
    public, upstream = _mapped(gateway, fake, **PER_SECOND)
    key = gateway.make_user_key()
    text = gateway.openai(key.key).audio.translations.create(
        model=public, file=("talk.wav", make_wav(1.0), "audio/wav"), response_format="text"
    )
    assert text.strip() == "the fake heard you"
    assert fake.media.received[-1].path == "/v1/audio/translations"
    assert fake.media.received[-1].model == upstream
    record = gateway.usage(user_id=key.user_id)[0]
    assert record["endpoint"] == "audio/translations" and record["audio_ms"] == 1000
    assert record["amount"] == 100


def test_an_unreadable_upload_is_estimated_from_its_size(
    gateway: Gateway, fake: FakeOpenAI
) -> None:
    public, _ = _mapped(gateway, fake, **PER_SECOND)
    key = gateway.make_user_key()
    gateway.openai(key.key).audio.transcriptions.create(
        model=public, file=("noise.webm", b"\x1a\x45\xdf\xa3" + bytes(31_996), "audio/webm")
    )
    record = gateway.usage(user_id=key.user_id)[0]
    assert record["usage_estimated"] is True and record["audio_ms"] == 2000


def test_failed_transcription_is_not_billed(gateway: Gateway, fake: FakeOpenAI) -> None:
    public, _ = _mapped(gateway, fake, **PER_SECOND)
    key = gateway.make_user_key()
    fake.script(None, Behaviour(status=500))
    with gateway.http(key.key) as http:
        files = {"file": ("a.wav", make_wav(1.0), "audio/wav")}
        failed = http.post("/v1/audio/transcriptions", data={"model": public}, files=files)
    assert failed.status_code == 502
    record = settled(gateway, key.user_id, 1)[0]
    assert record["status"] == 502 and record["amount"] == 0
    assert wallet(gateway, key.user_id) == (START, 0)


def test_echo_model_speaks_and_hears_offline(gateway: Gateway) -> None:
    key = gateway.make_user_key()
    sdk = gateway.openai(key.key)
    speech = sdk.audio.speech.create(model="relaygate-echo", voice="alloy", input="x" * 100)
    with wave.open(io.BytesIO(speech.content)) as reader:
        assert reader.getnframes() / reader.getframerate() == 2.0  # 20 ms a character
    heard = sdk.audio.transcriptions.create(
        model="relaygate-echo", file=("probe.wav", make_wav(1.25), "audio/wav")
    )
    assert "probe.wav" in heard.text and "1.25 seconds" in heard.text
    records = gateway.usage(user_id=key.user_id)
    assert records[0]["audio_ms"] == 1250 and records[1]["characters"] == 100


def test_speech_cut_midway_is_an_error_for_the_client(gateway: Gateway, fake: FakeOpenAI) -> None:
    """The upstream hangs up after the first audio chunk: the client must not get a clean
    end of body (it would keep a truncated file as complete); the call is a 502, unpaid."""
    public, _ = _mapped(gateway, fake, **PER_CHARACTER)
    key = gateway.make_user_key()
    fake.script(None, Behaviour(break_after=1))
    received = b""
    body = {"model": public, "voice": "alloy", "input": "hello there"}
    with gateway.http(key.key) as http, http.stream("POST", "/v1/audio/speech", json=body) as cut:
        assert cut.status_code == 200
        with pytest.raises(httpx.RemoteProtocolError):
            for chunk in cut.iter_bytes():
                received += chunk
    assert received == DEFAULT_AUDIO[0]
    record = settled(gateway, key.user_id, 1)[0]
    assert record["status"] == 502 and record["amount"] == 0
    assert wallet(gateway, key.user_id) == (START, 0)


def test_a_form_of_many_fields_is_refused_at_once(sqlite_gateway: Gateway) -> None:
    """150,000 empty fields (450 KB): a 400 in OpenAI's format, not a stalled worker."""
    key = sqlite_gateway.make_user_key()
    with sqlite_gateway.http(key.key) as http:
        refused = http.post(
            "/v1/audio/speech",
            content=b"x=&" * 150_000,
            headers={"content-type": "application/x-www-form-urlencoded"},
        )
    assert refused.status_code == 400
    error = refused.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert error["message"] == "The request body has more than 1000 form fields."
