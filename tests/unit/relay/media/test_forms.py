"""The media routes' body codecs: multipart both ways, form coercion, the checks."""

from __future__ import annotations

import os
from email.parser import BytesParser
from email.policy import HTTP

import httpx
import orjson
import pytest

from relaygate.core.errors import InvalidRequest
from relaygate.relay.media.forms import (
    MAX_FIELDS,
    MAX_FILES,
    MAX_PARTS,
    Upload,
    encode_multipart,
    parse_multipart,
    parse_urlencoded,
)
from relaygate.relay.media.request import (
    IMAGE_EDITS,
    IMAGES,
    SPEECH,
    TRANSCRIPTIONS,
    parse_call,
    rewritten,
)

BINARY = bytes(range(256)) * 4 + b"\r\n--not-a-boundary\r\n" + os.urandom(512)


def _httpx_multipart(data: dict[str, object], files: list[tuple[str, tuple[str, bytes, str]]]):
    """A multipart body as a real client (httpx) writes it."""
    request = httpx.Request("POST", "http://x/", data=data, files=files)
    return request.read(), request.headers["content-type"]


def test_multipart_from_a_real_client_is_read_exactly() -> None:
    body, content_type = _httpx_multipart(
        {"model": "gpt-image-1", "prompt": 'ünïcode "quoted"', "n": "2"},
        [
            ("image[]", ("a b.png", BINARY, "image/png")),
            ("image[]", ("second.webp", b"RIFF....WEBP", "image/webp")),
            ("mask", ("mask.png", b"\x89PNG mask", "image/png")),
        ],
    )
    form = parse_multipart(body, content_type)
    assert form.fields == [("model", "gpt-image-1"), ("prompt", 'ünïcode "quoted"'), ("n", "2")]
    assert form.files == [
        Upload("image[]", "a b.png", "image/png", BINARY),
        Upload("image[]", "second.webp", "image/webp", b"RIFF....WEBP"),
        Upload("mask", "mask.png", "image/png", b"\x89PNG mask"),
    ]


def test_encoded_multipart_reads_back_with_the_standard_library() -> None:
    files = [Upload("file", 'odd "name".wav', "audio/wav", BINARY)]
    fields = [("model", "whisper-1"), ("timestamp_granularities[]", "word")]
    fields.append(("timestamp_granularities[]", "segment"))
    body, content_type = encode_multipart(fields, files)
    assert content_type.startswith("multipart/form-data; boundary=relaygate-")
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode()
    parts = list(BytesParser(policy=HTTP).parsebytes(head + body).iter_parts())
    names = [p.get_param("name", header="content-disposition") for p in parts]
    assert names == ["model", "timestamp_granularities[]", "timestamp_granularities[]", "file"]
    assert parts[3].get_payload(decode=True) == BINARY
    assert parts[3].get_filename() == "odd %22name%22.wav"  # as browsers escape a quote
    assert parts[3].get_content_type() == "audio/wav"
    again = parse_multipart(body, content_type)
    assert again.fields == fields and again.files[0].data == BINARY


def test_two_encodings_use_fresh_boundaries() -> None:
    first = encode_multipart([("a", "b")], [])[1]
    assert first != encode_multipart([("a", "b")], [])[1]


@pytest.mark.parametrize(
    "body",
    [b"", b"--other\r\n\r\nx\r\n--other--", b"--B\r\nContent-Disposition: form-data\r\n\r\nx"],
)
def test_malformed_multipart_is_a_400(body: bytes) -> None:
    with pytest.raises(InvalidRequest):
        parse_multipart(body, "multipart/form-data; boundary=B")


def test_form_urlencoded_generation_is_coerced_to_json_types() -> None:
    body = b"prompt=a+cat&n=3&output_compression=80&partial_images=2&stream=false&size=1024x1024"
    call = parse_call(IMAGES, body, "application/x-www-form-urlencoded")
    assert call.payload == {
        "prompt": "a cat",
        "n": 3,
        "output_compression": 80,
        "partial_images": 2,
        "stream": False,
        "size": "1024x1024",
        "model": "dall-e-2",  # OpenAI's default
    }
    assert orjson.loads(call.body) == call.payload and call.images == 3


@pytest.mark.parametrize(
    ("body", "param"),
    [
        (b"prompt=x&n=two", "n"),
        (b"prompt=x&n=1.5", "n"),
        (b"prompt=x&stream=maybe", "stream"),
        (b"prompt=x&output_compression=", "output_compression"),
        (b"prompt=x&n=0", "n"),
        (b"prompt=x&n=1_0", "n"),  # int() reads it as 10
        ("prompt=x&n=٢".encode(), "n"),  # an Arabic-Indic 2, which int() takes
        (b"prompt=x&n=%EF%BC%93", "n"),  # a fullwidth 3
        (b"prompt=x&n=+3", "n"),  # a space, once decoded
        (b"prompt=x&n=1e1", "n"),
        (b"prompt=x&n=" + b"9" * 5000, "n"),  # past int()'s 4,300 digits
        (b"prompt=x&output_compression=-1", "output_compression"),
        (b"n=1", "prompt"),
        (b"prompt=x&ohmygpt_webhook_url=ftp://example.com/", "ohmygpt_webhook_url"),
    ],
)
def test_bad_form_values_name_their_param(body: bytes, param: str) -> None:
    with pytest.raises(InvalidRequest) as refused:
        parse_call(IMAGES, body, "application/x-www-form-urlencoded")
    assert refused.value.param == param


def test_speech_form_speed_is_a_number_and_input_is_capped() -> None:
    call = parse_call(
        SPEECH, b"model=tts-1&input=hi&voice=alloy&speed=1.25", "application/x-www-form-urlencoded"
    )
    assert call.payload["speed"] == 1.25 and call.stream is False
    with pytest.raises(InvalidRequest) as refused:
        parse_call(
            SPEECH,
            b"model=tts-1&input=hi&voice=alloy&speed=fast",
            "application/x-www-form-urlencoded",
        )
    assert refused.value.param == "speed"
    too_long = orjson.dumps({"model": "tts-1", "voice": "alloy", "input": "x" * 4097})
    with pytest.raises(InvalidRequest) as refused:
        parse_call(SPEECH, too_long, "application/json")
    assert refused.value.param == "input"


def test_json_generation_keeps_its_bytes_unless_changed() -> None:
    raw = b'{"model":"dall-e-3","prompt":"x"}'
    assert parse_call(IMAGES, raw, "application/json").body == raw
    hooked = b'{"model":"dall-e-3","prompt":"x","ohmygpt_webhook_url":"https://example.com/h"}'
    call = parse_call(IMAGES, hooked, "application/json")
    assert call.webhook == "https://example.com/h"
    assert orjson.loads(call.body) == {"model": "dall-e-3", "prompt": "x"}
    with pytest.raises(InvalidRequest) as refused:
        parse_call(IMAGES, b'{"prompt":"x","n":"2"}', "application/json")
    assert refused.value.param == "n"


def test_upload_is_reencoded_with_the_channel_model_and_without_the_webhook() -> None:
    body, content_type = _httpx_multipart(
        {"model": "public", "prompt": "p", "ohmygpt_webhook_url": "https://example.com/h"},
        [("image", ("a.png", BINARY, "image/png"))],
    )
    call = parse_call(IMAGE_EDITS, body, content_type)
    assert call.webhook == "https://example.com/h"
    upstream, upstream_type = call.encode({**call.payload, "model": "upstream-name"})
    form = parse_multipart(upstream, upstream_type)
    assert form.fields == [("model", "upstream-name"), ("prompt", "p")]
    assert form.files == [Upload("image", "a.png", "image/png", BINARY)]


def test_uploads_need_their_file_and_multipart() -> None:
    body, content_type = _httpx_multipart(
        {"model": "whisper-1"}, [("audio", ("a.wav", b"x", "audio/wav"))]
    )
    with pytest.raises(InvalidRequest) as refused:
        parse_call(TRANSCRIPTIONS, body, content_type)
    assert refused.value.param == "file"
    with pytest.raises(InvalidRequest):
        parse_call(TRANSCRIPTIONS, b'{"model":"whisper-1"}', "application/json")
    body, content_type = _httpx_multipart({"prompt": "p"}, [("mask", ("m.png", b"m", "image/png"))])
    with pytest.raises(InvalidRequest) as refused:
        parse_call(IMAGE_EDITS, body, content_type)
    assert refused.value.param == "image"


@pytest.mark.parametrize(
    "speed", ["1_0", "١.٥", "1e0", "nan", "inf", "-1", "1.5.0", ".", "", "0x1", "1,5", "%201.5"]
)
def test_form_speed_must_be_a_plain_decimal(speed: str) -> None:
    body = f"model=tts-1&input=hi&voice=alloy&speed={speed}".encode()
    with pytest.raises(InvalidRequest) as refused:
        parse_call(SPEECH, body, "application/x-www-form-urlencoded")
    assert refused.value.param == "speed" and refused.value.message == "'speed' must be a number."


@pytest.mark.parametrize(("speed", "value"), [("2", 2), ("0.25", 0.25), (".5", 0.5), ("4.", 4.0)])
def test_form_speed_plain_decimals(speed: str, value: float) -> None:
    body = f"model=tts-1&input=hi&voice=alloy&speed={speed}".encode()
    call = parse_call(SPEECH, body, "application/x-www-form-urlencoded")
    assert call.payload["speed"] == value and type(call.payload["speed"]) is type(value)


def test_a_body_of_150k_empty_fields_is_refused() -> None:
    """The body that stalled the worker (repeated names grouped by copying the list):
    refused by count, before anything is parsed."""
    with pytest.raises(InvalidRequest) as refused:
        parse_call(SPEECH, b"x=&" * 150_000, "application/x-www-form-urlencoded")
    assert refused.value.status == 400
    assert refused.value.message == f"The request body has more than {MAX_FIELDS} form fields."


def test_a_form_at_the_cap_is_read_with_repeats_grouped() -> None:
    extra = MAX_FIELDS - 3
    body = b"model=tts-1&input=hi&voice=alloy&" + b"&".join([b"tag=a"] * extra)
    call = parse_call(SPEECH, body, "application/x-www-form-urlencoded")
    assert call.payload["tag"] == ["a"] * extra and call.payload["voice"] == "alloy"
    with pytest.raises(InvalidRequest):
        parse_urlencoded(body + b"&tag=a")


def _parts(fields: int, files: int) -> tuple[bytes, str]:
    head = b"--B\r\nContent-Disposition: form-data; name="
    body = head + b'"f"\r\n\r\nv\r\n'
    body = body * fields + (head + b'"file"; filename="a.wav"\r\n\r\nx\r\n') * files
    return body + b"--B--\r\n", "multipart/form-data; boundary=B"


def test_multipart_parts_and_files_are_capped() -> None:
    form = parse_multipart(*_parts(MAX_PARTS - MAX_FILES, MAX_FILES))
    assert len(form.fields) == MAX_PARTS - MAX_FILES and len(form.files) == MAX_FILES
    with pytest.raises(InvalidRequest) as refused:
        parse_multipart(*_parts(0, MAX_FILES + 1))
    assert refused.value.message == f"The request body has more than {MAX_FILES} files."
    with pytest.raises(InvalidRequest) as refused:
        parse_multipart(*_parts(150_000, 0))
    assert refused.value.message == f"The request body has more than {MAX_PARTS} multipart parts."


def test_a_rewritten_call_is_checked_again_and_an_upload_stays_form_text() -> None:
    """The override rules' changes (docs/rules.md "Media routes"): a removed ``prompt``
    is a 400 as if the caller had left it out; values written into an upload's form are
    sent as their text, and ``stream`` is read from the rewritten body."""
    raw = b'{"model":"m","prompt":"x","n":2}'
    call = parse_call(IMAGES, raw, "application/json")
    with pytest.raises(InvalidRequest) as refused:
        rewritten(call, {"model": "m", "n": 2}, b'{"model":"m","n":2}')
    assert refused.value.param == "prompt"
    streamed = {"model": "m2", "prompt": "x", "n": 1, "stream": True}
    changed = rewritten(call, streamed, orjson.dumps(streamed))
    assert (changed.images, changed.stream, changed.body) == (1, True, orjson.dumps(streamed))
    assert call.payload["model"] == "m"  # the caller's call is untouched

    body, content_type = _httpx_multipart(
        {"model": "m", "prompt": "p"}, [("image", ("a.png", b"png", "image/png"))]
    )
    upload = parse_call(IMAGE_EDITS, body, content_type)
    ruled = {**upload.payload, "n": 3, "stream": False, "extra": {"a": [1]}, "tags": ["x", 2]}
    changed = rewritten(upload, ruled, b"ignored")
    assert changed.payload == {
        "model": "m",
        "prompt": "p",
        "n": "3",
        "stream": "false",
        "extra": '{"a":[1]}',
        "tags": ["x", "2"],
    }
    assert (changed.images, changed.stream, changed.body) == (3, False, body)
