"""The log formats: JSON and text, the request id from the context, secrets masked."""

from __future__ import annotations

import json
import logging
import sys

import pytest

from relaygate.ops.logs import CALL_FIELDS, REQUEST_ID, JSONFormatter, TextFormatter, scrub

KEY = "sk-" + "A1b2C3d4" * 6
OAUTH = "omg-oat-v1-Zx9_Yw8-Vu7Ts6Rq5Po4Nm3Lk2Ji1Hg0Fe"


@pytest.mark.parametrize(
    "text",
    [
        f"Authorization: Bearer {KEY}",
        f"authorization: bearer {OAUTH}",
        f"x-api-key: {KEY}",
        f"GET /v1/models?api_key={KEY}",
        f"token {OAUTH} refused",
        "Cookie: rg_session=abcdefghijklmnop0123456789",
        "stripe sk_live_51HxYzAbCdEf0123456789 and whsec_0123456789abcdefABCDEF",
        "Basic dXNlcjpwYXNzd29yZDEyMw==",
        "upstream said: Incorrect API key provided: sk-proj-abc***************wxyz",
    ],
)
def test_secrets_are_masked(text: str) -> None:
    masked = scrub(text)
    assert "***" in masked
    for secret in (KEY, OAUTH, "abcdefghijklmnop0123456789", "sk_live_51", "whsec_01", "dXNlcjpw"):
        assert secret not in masked


@pytest.mark.parametrize(
    "text", ["model gpt-4o-mini answered", "req_0123456789abcdef0123", "the bearer of news"]
)
def test_ordinary_text_stays(text: str) -> None:
    assert scrub(text) == text


def _record(message: str, *args: object, **extra: object) -> logging.LogRecord:
    record = logging.LogRecord("relaygate.test", logging.DEBUG, __file__, 1, message, args, None)
    record.__dict__.update(extra)
    return record


def test_json_line_has_the_request_id_and_call_fields() -> None:
    token = REQUEST_ID.set("req_abc")
    try:
        record = _record("call", **{CALL_FIELDS: {"status": 200, "model": "m"}})
        line = json.loads(JSONFormatter().format(record))
    finally:
        REQUEST_ID.reset(token)
    assert line["request_id"] == "req_abc" and line["level"] == "debug"
    assert line["message"] == "call" and line["status"] == 200 and line["model"] == "m"
    assert line["ts"].endswith("Z")
    outside = json.loads(JSONFormatter().format(_record("no request here")))
    assert "request_id" not in outside


def test_json_masks_arguments_and_tracebacks() -> None:
    try:
        raise ValueError(f"refused {KEY}")
    except ValueError:
        exc_info = sys.exc_info()
    record = _record("header was %s", f"Bearer {OAUTH}")
    record.exc_info = exc_info
    text = JSONFormatter().format(record)
    assert KEY not in text and OAUTH not in text
    assert json.loads(text)["exc"].startswith("Traceback")


def test_text_line_carries_the_request_id_and_masks() -> None:
    token = REQUEST_ID.set("req_xyz")
    try:
        text = TextFormatter().format(
            _record("sent %s", KEY, **{CALL_FIELDS: {"status": 401, "key_id": None}})
        )
    finally:
        REQUEST_ID.reset(token)
    assert "[req_xyz]: sent ***" in text
    assert text.endswith("status=401") and KEY not in text
