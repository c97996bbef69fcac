"""Azure text-to-speech through the gateway: form fields or SSML in, the audio streamed
to the client as the upstream sends it, billed per character of text (SSML markup not
counted), held before the call; the voice list cached and filtered."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import httpx
import pytest

from tests.fakes.scripted import Step
from tests.fakes.tool_upstreams import AUDIO, VOICES, FakeAzureSpeech
from tests.harness import Gateway
from tests.integration.test_money import START, wallet
from tests.integration.tools_kit import (
    TTS_PER_CHARACTER,
    envelope_error,
    gw,
    records,
    tool_channel,
    tools_gateway,
)

__all__ = ["gw", "tools_gateway"]  # the fixtures, used by name

TTS = "/api/v1/openapi/tts/azure/v1"
VOICE_LIST = "/api/v1/openapi/tts/azure/voices"
SSML = "application/ssml+xml"
FORM = "application/x-www-form-urlencoded"


@pytest.fixture
def azure() -> Iterator[FakeAzureSpeech]:
    with FakeAzureSpeech() as fake:
        yield fake


def _speech_channel(gw: Gateway, azure: FakeAzureSpeech, **fields: object) -> dict[str, object]:
    return tool_channel(gw, "azure_speech", azure.base_url, "azure-speech-key", **fields)


def test_speech_is_streamed_as_it_arrives_and_billed_per_character(
    gw: Gateway, azure: FakeAzureSpeech
) -> None:
    channel = _speech_channel(gw, azure)
    assert channel["models"] == {"azure-tts": "azure-tts"}
    key = gw.make_user_key()
    release = threading.Event()
    azure.script(Step(chunks=list(AUDIO), content_type="audio/mpeg", release=release))
    text = "你好, <world> & friends"
    form = {"text": text, "voice": "zh-CN-XiaoxiaoNeural", "rate": "+10%", "pitch": "-2st"}
    received: list[bytes] = []
    with gw.http(key.key) as http, http.stream("POST", TTS, data=form) as answer:
        assert answer.status_code == 200 and answer.headers["content-type"] == "audio/mpeg"
        for chunk in answer.iter_raw():
            received.append(chunk)
            release.set()  # the upstream sends the rest only once the first bytes arrived here
    assert received[0] == AUDIO[0]  # the first chunk came alone, before the upstream went on
    assert b"".join(received) == b"".join(AUDIO)
    sent = azure.syntheses()[-1]
    assert sent.headers["Ocp-Apim-Subscription-Key"] == "azure-speech-key"
    assert sent.headers["Content-Type"] == SSML
    assert sent.headers["X-Microsoft-OutputFormat"] == "audio-24khz-48kbitrate-mono-mp3"
    assert sent.body.decode() == (
        '<speak version="1.0" xmlns="http://www.w3.org/2001/10/synthesis" xml:lang="zh-CN">'
        '<voice name="zh-CN-XiaoxiaoNeural"><prosody rate="+10%" pitch="-2st">'
        "你好, &lt;world&gt; &amp; friends</prosody></voice></speak>"
    )
    (record,) = records(gw, key.user_id)
    assert record["endpoint"] == "tools/tts/azure" and record["model"] == "azure-tts"
    assert record["characters"] == len(text) and record["stream"] is True
    assert record["amount"] == TTS_PER_CHARACTER * len(text)
    assert wallet(gw, key.user_id) == (START - TTS_PER_CHARACTER * len(text), 0)


def test_ssml_is_billed_for_its_text_only(gw: Gateway, azure: FakeAzureSpeech) -> None:
    _speech_channel(gw, azure)
    key = gw.make_user_key()
    ssml = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<speak version="1.0" xmlns="http://www.w3.org/2001/10/synthesis" xml:lang="en-US">\n'
        '  <voice name="en-US-JennyNeural">\n'
        '    Hello <break time="200ms"/> <emphasis>there</emphasis>!\n'
        "  </voice>\n"
        "</speak>"
    )
    spoken = "Hello there!"  # the text, each run of whitespace one character
    with gw.http(key.key) as http:
        answer = http.post(
            TTS,
            content=ssml.encode(),
            headers={"Content-Type": SSML, "X-Microsoft-OutputFormat": "riff-24khz-16bit-mono-pcm"},
        )
    assert answer.status_code == 200 and answer.content == b"".join(AUDIO)
    sent = azure.syntheses()[-1]
    assert sent.body == ssml.encode()  # the caller's SSML as written
    assert sent.headers["X-Microsoft-OutputFormat"] == "riff-24khz-16bit-mono-pcm"
    (record,) = records(gw, key.user_id)
    assert record["characters"] == len(spoken)
    assert wallet(gw, key.user_id) == (START - TTS_PER_CHARACTER * len(spoken), 0)


BOMB = (
    '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;">]>'
    '<speak><voice name="en-US-JennyNeural">&lol2;</voice></speak>'
)


@pytest.mark.parametrize(
    ("body", "content_type", "words"),
    [
        (BOMB, SSML, "DTD"),
        ("<speak><voice name='en-US-JennyNeural'>unclosed</speak>", SSML, "well-formed"),
        ("<speak>no voice</speak>", SSML, "voice"),
        ("<voice name='en-US-JennyNeural'>x</voice>", SSML, "<speak>"),
        ("<speak><voice name='en-US-JennyNeural'>  </voice></speak>", SSML, "no text"),
        ("text=hello", FORM, "'voice' is required"),
        ("text=hi&voice=Jenny", FORM, "'voice'"),
        ("text=hi&voice=en-US-JennyNeural&rate=%2B300%25", FORM, "'rate'"),
        ("text=hi&voice=en-US-JennyNeural&pitch=%2B20st", FORM, "'pitch'"),
        ("text=hi&voice=en-US-JennyNeural&output_format=mp3", FORM, "'output_format'"),
        ('{"text": "hi", "voice": "en-US-JennyNeural", "speed": 2}', "application/json", "'speed'"),
    ],
)  # fmt: skip
def test_bad_speech_requests_are_a_clear_400_and_cost_nothing(
    gw: Gateway, azure: FakeAzureSpeech, body: str, content_type: str, words: str
) -> None:
    _speech_channel(gw, azure)
    key = gw.make_user_key()
    with gw.http(key.key) as http:
        answer = http.post(TTS, content=body.encode(), headers={"Content-Type": content_type})
    assert words in envelope_error(answer, 400)["message"]
    assert azure.seen == []
    assert wallet(gw, key.user_id) == (START, 0)


def test_a_refused_channel_fails_over_before_the_audio_begins(
    gw: Gateway, azure: FakeAzureSpeech
) -> None:
    with FakeAzureSpeech(api_key="other") as backup:
        tool_channel(gw, "azure_speech", backup.base_url, "stale-key")  # answers 401
        second = _speech_channel(gw, azure, priority=1)
        key = gw.make_user_key()
        with gw.http(key.key) as http:
            form = {"text": "failover", "voice": "en-US-JennyNeural"}
            answer = http.post(TTS, data=form)
        assert answer.status_code == 200 and answer.content == b"".join(AUDIO)
        assert [s.answered for s in backup.seen] == [401]
    (record,) = records(gw, key.user_id)
    assert record["channel_id"] == second["id"] and record["attempts"] == 2
    assert record["amount"] == TTS_PER_CHARACTER * len("failover")


def test_audio_cut_off_upstream_leaves_the_body_unfinished_and_unbilled(
    gw: Gateway, azure: FakeAzureSpeech
) -> None:
    _speech_channel(gw, azure)
    key = gw.make_user_key()
    azure.script(Step(chunks=list(AUDIO), content_type="audio/mpeg", cut_after=1))
    form = {"text": "cut", "voice": "en-US-JennyNeural"}
    with gw.http(key.key) as http, http.stream("POST", TTS, data=form) as answer:
        assert answer.status_code == 200
        with pytest.raises(httpx.RemoteProtocolError):
            b"".join(answer.iter_raw())
    (record,) = records(gw, key.user_id)
    assert record["status"] == 502 and record["amount"] == 0
    assert wallet(gw, key.user_id) == (START, 0)


def test_an_upstream_failure_answers_in_the_envelope_unbilled(
    gw: Gateway, azure: FakeAzureSpeech
) -> None:
    _speech_channel(gw, azure)
    key = gw.make_user_key()
    azure.script(Step(status=503, body=b"busy", content_type="text/plain"))
    with gw.http(key.key) as http:
        answer = http.post(TTS, data={"text": "busy", "voice": "en-US-JennyNeural"})
    envelope_error(answer, 503)
    assert records(gw, key.user_id)[0]["amount"] == 0
    assert wallet(gw, key.user_id) == (START, 0)


def test_the_voice_list_is_cached_and_filtered(gw: Gateway, azure: FakeAzureSpeech) -> None:
    _speech_channel(gw, azure)
    key = gw.make_user_key()
    with gw.http(key.key) as http:
        every = http.get(VOICE_LIST)
        assert every.status_code == 200 and every.json() == VOICES
        women = http.get(VOICE_LIST, params={"locale": "zh-CN", "gender": "female"}).json()
        assert [v["ShortName"] for v in women] == ["zh-CN-XiaoxiaoNeural"]
        chinese = http.get(VOICE_LIST, params={"locale": "zh"}).json()
        assert {v["Locale"] for v in chinese} == {"zh-CN", "zh-TW"}
        assert (
            "'gender'"
            in envelope_error(http.get(VOICE_LIST, params={"gender": "x"}), 400)["message"]
        )
    assert len(azure.seen) == 1  # fetched once, then served from the cache
    denied = gw.make_user_key(["google-search"], user_id=key.user_id)
    with gw.http(denied.key) as http:
        envelope_error(http.get(VOICE_LIST), 401)
    assert gw.usage(user_id=key.user_id) == []  # free: no usage records
