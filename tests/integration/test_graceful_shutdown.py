"""SIGTERM to ``relaygate serve`` mid-stream: new connections are refused at once, a
stream that ends within ``shutdown_grace_seconds`` ends normally, one that would outlast
it is ended at the deadline as an output limit ends one, and each is billed exactly once.
The readiness probe's 503 while draining is checked in process (the listening socket is
closed by then, so no new connection could ask)."""

from __future__ import annotations

import contextlib
import signal
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.fakes.openai_upstream import Behaviour, FakeOpenAI
from tests.harness import ADMIN_KEY, Gateway
from tests.integration.assertions import sse_data
from tests.served import Served

CLEAN_EXIT = (0, -signal.SIGTERM)
MODEL = "slow-model"


@pytest.fixture
def slow() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as server:
        yield server


def _prepare(gw: Served, fake: FakeOpenAI) -> str:
    """A channel to the fake and a funded user's key."""
    with httpx.Client(
        base_url=gw.url + "/api/v1/operator",
        timeout=30,
        headers={"Authorization": f"Bearer {ADMIN_KEY}"},
    ) as op:
        channel = {"name": "slow", "base_url": fake.base_url, "api_key": "sk-x", "models": [MODEL]}
        op.post("/channels", json=channel).raise_for_status()
        user = op.post("/users", json={"email": "drain@example.test"}).json()["data"]
        op.post(f"/users/{user['id']}/credit", json={"amount": "20"}).raise_for_status()
        key: str = op.post(f"/users/{user['id']}/keys", json={}).json()["data"]["key"]
    return key


class Stream(threading.Thread):
    """One chat stream read to its end in a thread; ``started`` is set at its first event."""

    def __init__(self, url: str, key: str) -> None:
        super().__init__(daemon=True)
        self.url, self.key = url, key
        self.started = threading.Event()
        self.body = b""
        self.request_id = ""
        self.error: BaseException | None = None

    def run(self) -> None:
        body = {"model": MODEL, "messages": [{"role": "user", "content": "go"}], "stream": True}
        headers = {"Authorization": f"Bearer {self.key}"}
        try:
            with httpx.stream(
                "POST", self.url + "/v1/chat/completions", json=body, headers=headers, timeout=60
            ) as response:
                self.request_id = response.headers["x-request-id"]
                for chunk in response.iter_bytes():
                    self.body += chunk
                    if b"data:" in self.body:
                        self.started.set()
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            self.error = exc
        finally:
            self.started.set()


def _refused(url: str) -> bool:
    """A new connection is refused (tried a few times: the listener closes within 0.1 s)."""
    for _ in range(100):
        try:
            httpx.get(url + "/livez", timeout=2)
        except httpx.ConnectError:
            return True
        threading.Event().wait(0.05)
    return False


def _bills(db: Path) -> list[tuple[Any, ...]]:
    with contextlib.closing(sqlite3.connect(db)) as conn:
        return conn.execute(
            "SELECT request_id, status, completion_tokens FROM usage_records WHERE model = ?",
            (MODEL,),
        ).fetchall()


def _content(body: bytes) -> str:
    return "".join(
        c["choices"][0]["delta"].get("content") or ""
        for c in sse_data(body)
        if isinstance(c, dict) and c.get("choices")
    )


def _serve_and_term(
    tmp_path: Path, slow: FakeOpenAI, grace: int, words: int
) -> tuple[Stream, Served, int]:
    text = " ".join(f"w{i}" for i in range(words))
    slow.script(MODEL, Behaviour(text=text, chunk_delay=0.25))
    env = {"RELAYGATE_SHUTDOWN_GRACE_SECONDS": str(grace)}
    gw = Served(f"sqlite:///{tmp_path / 'gw.db'}", tmp_path / "gw.log", env)
    try:
        stream = Stream(gw.url, _prepare(gw, slow))
        stream.start()
        assert stream.started.wait(30) and stream.error is None, stream.error
        gw.proc.send_signal(signal.SIGTERM)
        assert _refused(gw.url), "a new connection was accepted after SIGTERM"
        assert stream.is_alive(), "the stream ended before the refusal was seen"
        stream.join(60)
    finally:
        code = gw.terminate()
    return stream, gw, code


def test_a_stream_within_the_grace_completes_and_is_billed_once(
    tmp_path: Path, slow: FakeOpenAI
) -> None:
    stream, gw, code = _serve_and_term(tmp_path, slow, grace=30, words=16)  # ~4 s
    assert code in CLEAN_EXIT, gw.output()
    assert stream.error is None, stream.error
    assert _content(stream.body) == " ".join(f"w{i}" for i in range(16))
    assert stream.body.rstrip().endswith(b"data: [DONE]")
    bills = _bills(tmp_path / "gw.db")
    assert [(b[0], b[1]) for b in bills] == [(stream.request_id, 200)], bills


def test_a_stream_past_the_grace_is_ended_cleanly_and_billed_once(
    tmp_path: Path, slow: FakeOpenAI
) -> None:
    stream, gw, code = _serve_and_term(tmp_path, slow, grace=1, words=200)  # ~50 s
    assert code in CLEAN_EXIT, gw.output()
    assert stream.error is None, stream.error
    delivered = _content(stream.body)
    assert delivered and " ".join(f"w{i}" for i in range(200)).startswith(delivered)
    assert stream.body.rstrip().endswith(b"data: [DONE]"), stream.body[-300:]
    last = sse_data(stream.body)[-1]
    assert last["choices"][0]["finish_reason"] == "length"  # as an output limit ends it
    assert "ending 1 open stream(s)" in gw.output()
    bills = _bills(tmp_path / "gw.db")
    assert [(b[0], b[1]) for b in bills] == [(stream.request_id, 200)], bills
    assert bills[0][2] >= len(delivered.split())  # billed for what it delivered


def test_readiness_turns_503_when_draining_begins(gateway_factory: Any) -> None:
    gw: Gateway = gateway_factory()
    assert httpx.get(gw.url + "/readyz", timeout=30).status_code == 200
    gw._server.config.app.drain.begin(60)  # what the SIGTERM handler calls (cli.py)
    ready = httpx.get(gw.url + "/readyz", timeout=30)
    assert ready.status_code == 503
    assert ready.json()["status"] == "draining"
    assert ready.json()["checks"]["draining"] == "yes"
    assert httpx.get(gw.url + "/livez", timeout=30).status_code == 200  # still live
