"""The masking function (core.redact) and the model-name rewrite (relay.masking)."""

from __future__ import annotations

import orjson
import pytest

from relaygate.channels.spec import ChannelSpec
from relaygate.core.redact import Secrets, redact, redact_json
from relaygate.relay.masking import (
    LineGuard,
    channel_secrets,
    mask_error_lines,
    model_renamer,
    public_model,
)

KEY = "sk-proj-Abc123Def456Ghi789Jkl012Mno345"


def _channel(**fields: object) -> ChannelSpec:
    base = {
        "id": 1,
        "name": "c",
        "type": "openai",
        "base_url": "http://upstream.internal:8443/v1",
        "api_key": "plainkey-1234",
        "keys": ("plainkey-1234", "second-key-5678"),
        "models": {"gpt-public": "secret-upstream-model"},
    }
    base.update(fields)
    return ChannelSpec(**base)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "hidden"),
    [
        (f"Incorrect API key provided: {KEY}.", KEY),
        ("Incorrect API key provided: sk-abc1************************wxyz.", "sk-abc1"),
        ("key sk-ant-api03-AAAAbbbb1111cccc2222dddd", "sk-ant-api03"),
        ("google AIzaSyA1234567890abcdefghijklmnopqrstu", "AIzaSy"),
        ("header Authorization: Bearer abc.def-123_XYZ", "abc.def-123_XYZ"),
        ("azure key 0123456789abcdef0123456789abcdef refused", "0123456789abcdef"),
        ("see http://10.0.0.5:8080/v1/chat?key=x for details", "10.0.0.5"),
        ("connect to 192.168.1.20:11434 failed", "192.168.1.20"),
        ("connect to 192.168.1.20 failed", "192.168.1.20"),
        ("host [fd00::1]:8000 down", "fd00::1"),
        ("host ::1 down", "::1"),
        ("host 2001:db8:0:0:0:0:0:1 down", "2001:db8"),
        ("proxy https://user:pw@proxy.corp:3128 refused", "pw@proxy"),
    ],
)
def test_secrets_are_masked(text: str, hidden: str) -> None:
    assert hidden not in redact(text)


@pytest.mark.parametrize(
    "text",
    [
        "The model `gpt-4o-mini-2024-07-18` does not exist.",
        "Invalid 'messages[0].role': 'robot'. Expected one of system, user.",
        "request chatcmpl-AbCdEf0123456789GhIjKl0123456789 and msg_01XFDUDYJgAACzvnptvVoYEL",
        "resp_67ccd2bed1ec8190b14f964abc0542670bb6a6b452d3795b req_a1b2c3d4e5f6a7b8c9d0e1f2a3b4",
        "trace 123e4567-e89b-12d3-a456-426614174000 at 12:30:45 on 2024-08-06",
        "max_tokens is too large: 100000. This model supports at most 16384 tokens.",
        "a task-force of well-known words, pneumonoultramicroscopicsilicovolcanoconiosis",
        "C++::std and Foo::bar stay",
        "Token limit exceeded. Basic information: the bearer of terrible news.",
    ],
)
def test_ordinary_text_and_ids_survive(text: str) -> None:
    assert redact(text) == text


def test_channel_secrets_cover_every_key_the_host_and_the_mapped_model() -> None:
    secrets = channel_secrets(_channel(), "secret-upstream-model", "gpt-public")
    text = (
        "keys plainkey-1234 and second-key-5678 refused by upstream.internal:8443 "
        "(upstream.internal) for secret-upstream-model and secret-upstream-model-2024-05-01"
    )
    masked = redact(text, secrets)
    for secret in ("plainkey-1234", "second-key-5678", "upstream.internal", "8443", "secret-"):
        assert secret not in masked
    assert masked.count("gpt-public") == 2


def test_a_proxy_password_and_custom_header_values_are_secrets() -> None:
    channel = _channel(
        proxy_url="http://relay:s3cret-pw@proxy.corp:3128",
        headers={"X-Upstream-Token": "tok-very-private"},
    )
    text = "pw s3cret-pw via proxy.corp:3128 tok-very-private"
    masked = redact(text, channel_secrets(channel, "", ""))
    assert "s3cret-pw" not in masked and "proxy.corp" not in masked
    assert "tok-very-private" not in masked


def test_a_json_body_stays_json_of_the_same_shape() -> None:
    body = {
        "error": {
            "message": f"Incorrect API key provided: {KEY} at 127.0.0.1:9999",
            "type": "invalid_request_error",
            "param": None,
            "code": "invalid_api_key",
        }
    }
    out = orjson.loads(redact_json(orjson.dumps(body)))
    assert set(out["error"]) == set(body["error"])
    assert out["error"]["code"] == "invalid_api_key" and out["error"]["param"] is None
    assert KEY not in out["error"]["message"] and "127.0.0.1" not in out["error"]["message"]
    html = redact_json(b"<html>bad gateway at 10.1.1.1</html>")
    assert html == b"<html>bad gateway at [host]</html>"


def test_redacting_twice_changes_nothing_more() -> None:
    secrets = Secrets(keys=("plainkey-1234",), models=(("gpt-4", "gpt-4-public"),))
    once = redact("plainkey-1234 for gpt-4 at http://x.test", secrets)
    assert redact(once, secrets) == once


def test_model_rename_any_spacing_and_never_generated_text() -> None:
    rename = model_renamer("secret-upstream-model", "gpt-public")
    assert rename is not None
    body = (
        b'{"id":"x","model" : "secret-upstream-model-2024-01-01","choices":[{"message":'
        b'{"content":"say \\"model\\": \\"secret-upstream-model\\""}}]}'
    )
    out = orjson.loads(rename(body))
    assert out["model"] == "gpt-public"
    assert out["choices"][0]["message"]["content"] == 'say "model": "secret-upstream-model"'
    assert model_renamer("same", "same") is None
    assert public_model(b'{"model":"m"}', "m", "m") == b'{"model":"m"}'


def test_only_error_events_are_masked_in_a_stream() -> None:
    data = (
        b'data: {"choices":[{"delta":{"content":"see http://10.0.0.1"}}]}\n\n'
        b'data: {"error":{"message":"bad key ' + KEY.encode() + b'","type":"x"}}\n\n'
        b'data: {"type":"response.completed","response":{"error":null}}\n\n'
    )
    out = mask_error_lines(data, redact)
    assert b"http://10.0.0.1" in out  # generated text is the caller's own
    assert KEY.encode() not in out
    assert out.count(b"\n\n") == 3


def test_a_raw_stream_error_split_across_chunks_is_masked_whole() -> None:
    event = b'data: {"type":"error","error":{"message":"bad key ' + KEY.encode() + b'"}}\n\n'
    guard = LineGuard(redact)
    out = b"".join(guard.feed(event[i : i + 7]) for i in range(0, len(event), 7))
    out += guard.flush()
    assert KEY.encode() not in out and b"bad key ***" in out
    assert out.endswith(b"}}\n\n")


def test_stack_traces_are_cut() -> None:
    python = 'boom\nTraceback (most recent call last):\n  File "/srv/app/main.py", line 3'
    assert redact(python) == "boom\n[stack trace]"
    node = (
        "TypeError: x is undefined\n    at handler (/srv/app/index.js:10:5)\n    at run (x.js:1:1)"
    )
    assert "/srv/app" not in redact(node) and redact(node).startswith("TypeError: x is undefined")
    assert redact("line one\nline two at noon") == "line one\nline two at noon"
