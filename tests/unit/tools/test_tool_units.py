"""The pure parts of the tools: SSML counting and its refusals, the search cache's key and
hit share, the parameter checks."""

from __future__ import annotations

from fractions import Fraction

import pytest

from relaygate.core.errors import InvalidRequest
from relaygate.tools.cache import hit_share, search_key
from relaygate.tools.params import Param, read_params
from relaygate.tools.ssml import MAX_SSML_BYTES, read_ssml, write_ssml

VOICE = '<voice name="en-US-JennyNeural">'


def _ssml(inner: str) -> bytes:
    return f"<speak>{VOICE}{inner}</voice></speak>".encode()


@pytest.mark.parametrize(
    ("inner", "characters"),
    [
        ("Hello", 5),
        ('Hi <break time="1s"/>there', 8),  # "Hi there"
        ("<prosody rate='+5%'>a</prosody> <emphasis>b</emphasis>", 3),  # "a b"
        ("\n   spaced \n\t out   ", 10),  # "spaced out"
        ("你好，世界", 5),
        ("a &amp; b", 5),  # the character the entity stands for: "a & b"
    ],
)
def test_ssml_is_counted_by_its_text(inner: str, characters: int) -> None:
    assert read_ssml(_ssml(inner)).characters == characters


@pytest.mark.parametrize(
    "document",
    [
        b'<!DOCTYPE speak [<!ENTITY a "aaaa">]><speak>' + VOICE.encode() + b"&a;</voice></speak>",
        b'<!doctype speak SYSTEM "file:///etc/passwd"><speak/>',
        b"<speak><!ENTITY x 'y'></speak>",
        b"<speak>" + VOICE.encode() + b"\xff</voice></speak>",  # not UTF-8
        b"not xml",
        b"<speak>" + b"x" * MAX_SSML_BYTES + b"</speak>",
    ],
)
def test_unsafe_or_broken_ssml_is_refused(document: bytes) -> None:
    with pytest.raises(InvalidRequest):
        read_ssml(document)


def test_written_ssml_escapes_the_text_and_counts_every_character() -> None:
    speech = write_ssml("1 < 2 & 3", "zh-CN-XiaoxiaoNeural", None, "+5%")
    assert speech.characters == 9
    assert b"1 &lt; 2 &amp; 3" in speech.ssml and b'xml:lang="zh-CN"' in speech.ssml
    assert read_ssml(speech.ssml).characters == 9


@pytest.mark.parametrize(
    ("setting", "share"),
    [("full", 1), ("free", 0), ("25", Fraction(1, 4)), ("12.5%", Fraction(1, 8)), ("100%", 1)],
)
def test_hit_share(setting: str, share: Fraction) -> None:
    assert hit_share(setting) == share


@pytest.mark.parametrize("setting", ["half", "101", "-1", "NaN", ""])
def test_a_hit_share_out_of_range_is_refused(setting: str) -> None:
    with pytest.raises(ValueError, match="percent"):
        hit_share(setting)


def test_search_key_normalises_the_query_only() -> None:
    base = search_key("serper-search", {"q": "Rust  Async", "gl": "us"})
    assert base == search_key("serper-search", {"gl": "us", "q": " rust async"})
    assert base != search_key("serper-search", {"q": "rust async", "gl": "de"})
    assert base != search_key("google-search", {"q": "rust async", "gl": "us"})


def test_params_check_types_ranges_and_names() -> None:
    params = (
        Param("q", required=True, pattern=r"\S"),
        Param("num", "integer", minimum=1, maximum=10),
        Param("fresh", "boolean"),
    )
    assert read_params(params, {"q": "x", "num": "3", "fresh": "false"}) == {
        "q": "x",
        "num": 3,
        "fresh": False,
    }
    assert read_params(params, {"q": "x", "num": 10, "fresh": True})["num"] == 10
    for bad in ({"q": "x", "num": "11"}, {"q": "x", "num": True}, {"q": " "}, {"q": "x", "y": "1"},
                {"num": "1"}, {"q": "x", "fresh": "maybe"}, {"q": 5}):  # fmt: skip
        with pytest.raises(InvalidRequest):
            read_params(params, bad)


def test_tool_channels_get_their_defaults_from_the_toml_file_as_from_the_api() -> None:
    from relaygate.channels.schemas import ChannelCreate
    from relaygate.settings import ChannelConfig

    declared = ChannelConfig(name="g", type="google_search", options={"cx": "e"})
    assert declared.base_url == "https://www.googleapis.com"
    assert declared.models == {"google-search": "google-search"}
    speech = ChannelCreate(name="s", type="azure_speech", options={"region": "westeurope"})
    assert speech.base_url == "https://westeurope.tts.speech.microsoft.com"
    with pytest.raises(ValueError, match="base_url"):
        ChannelCreate(name="s", type="azure_speech")  # neither a base URL nor a region
    mapped = ChannelCreate(name="x", type="serper", base_url="http://proxy.test", models=["own"])
    assert (mapped.base_url, mapped.models) == ("http://proxy.test", {"own": "own"})
