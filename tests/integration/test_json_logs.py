"""The logs of a real ``relaygate serve`` with ``log_format = "json"``: every line an
object, the request id on the lines written inside a request, one line per call, and no
secret on any line even at debug level with uvicorn's access log on."""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from tests.harness import ADMIN_KEY
from tests.served import Served

ECHO = "relaygate-echo"


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    env = {
        "RELAYGATE_LOG_FORMAT": "json",
        "RELAYGATE_LOG_LEVEL": "debug",
        "RELAYGATE_ACCESS_LOG": "true",
    }
    server = Served(
        f"sqlite:///{tmp_path}/gw.db", tmp_path / "stdout.log", env, errors=tmp_path / "err.log"
    )
    try:
        yield server
    finally:
        server.kill()


def _lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _call_line(path: Path, request_id: str) -> dict[str, Any]:
    """The per-call line of ``request_id`` (written when the call's lifecycle ends)."""
    deadline = time.monotonic() + 10
    while True:
        for line in _lines(path):
            if line.get("message") == "call" and line.get("request_id") == request_id:
                return line
        assert time.monotonic() < deadline, path.read_text()
        time.sleep(0.05)


def test_json_lines_carry_the_request_id_and_no_secret(served: Served, tmp_path: Path) -> None:
    errors = tmp_path / "err.log"
    oauth_token = "omg-oat-v1-" + secrets.token_urlsafe(32)
    sdk = openai.OpenAI(base_url=served.url + "/v1", api_key=ADMIN_KEY, max_retries=0)
    raw = sdk.chat.completions.with_raw_response.create(
        model=ECHO, messages=[{"role": "user", "content": "a secret prompt"}]
    )
    request_id = raw.headers["x-request-id"]
    assert raw.parse().choices[0].message.content
    refused = openai.OpenAI(base_url=served.url + "/v1", api_key=oauth_token, max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        refused.chat.completions.create(model=ECHO, messages=[{"role": "user", "content": "x"}])
    # secrets where a careless client puts them: the query string, which the access log prints
    httpx.get(f"{served.url}/v1/models?api_key={ADMIN_KEY}&token={oauth_token}", timeout=30)
    users = httpx.get(
        f"{served.url}/api/v1/operator/users?key={ADMIN_KEY}",
        headers={"Authorization": f"Bearer {ADMIN_KEY}"},
        timeout=30,
    )
    assert users.status_code == 200

    call = _call_line(errors, request_id)
    assert call["level"] == "info" and call["logger"] == "relaygate.calls"
    assert call["route"] == "/v1/chat/completions" and call["model"] == ECHO
    assert call["status"] == 200 and call["stream"] is False
    assert call["prompt_tokens"] > 0 and call["completion_tokens"] > 0
    assert call["key_id"] is not None and call["user_id"] is not None
    assert call["channel_id"] is not None and call["duration_ms"] >= 0
    assert call["charge"] == "0.000000"  # the operator's own calls: metered, not charged
    refused_line = next(
        line for line in _lines(errors) if line.get("message") == "call" and line["status"] == 401
    )
    assert refused_line["key_id"] is None and refused_line["model"] == ""

    served.terminate()
    text = errors.read_text()
    lines = _lines(errors)  # every line is one JSON object
    assert ADMIN_KEY not in text and oauth_token not in text
    assert "a secret prompt" not in text
    assert ADMIN_KEY[:20] not in text and oauth_token[:24] not in text
    access = [line for line in lines if line["logger"] == "uvicorn.access"]
    assert len(access) >= 4
    assert any("api_key=***" in line["message"] for line in access)
    assert all("request_id" in line for line in access)  # written inside their request
