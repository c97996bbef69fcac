"""Start ``relaygate serve`` as a real process, load it, SIGTERM it, and count the bills."""

from __future__ import annotations

import contextlib
import signal
import sqlite3
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from tests.harness import ADMIN_KEY
from tests.served import Served

CALLS = 200
CLEAN_EXIT = (0, -signal.SIGTERM)


def _operator(url: str) -> httpx.Client:
    return httpx.Client(
        base_url=url + "/api/v1/operator",
        timeout=30,
        headers={"Authorization": f"Bearer {ADMIN_KEY}"},
    )


def _fire(url: str, key: str) -> list[str]:
    with httpx.Client(
        base_url=url,
        timeout=60,
        # A spoofed proxy header: not trusted by default, so client_ip stays the socket's.
        headers={"Authorization": f"Bearer {key}", "X-Forwarded-For": "203.0.113.9"},
        limits=httpx.Limits(max_connections=16),
    ) as http:

        def one(i: int) -> str:
            response = http.post(
                "/v1/chat/completions",
                json={
                    "model": "relaygate-echo",
                    "messages": [{"role": "user", "content": f"call {i}"}],
                    "stream": i % 2 == 0,
                },
            )
            assert response.status_code == 200, response.text
            _ = response.content
            return response.headers["x-request-id"]

        with ThreadPoolExecutor(16) as pool:
            return list(pool.map(one, range(CALLS)))


def test_sigterm_flushes_every_usage_record(tmp_path: Path) -> None:
    db = tmp_path / "gw.db"
    first = Served(f"sqlite:///{db}", tmp_path / "first.log")
    try:
        with _operator(first.url) as op:
            user = op.post("/users", json={"email": "load@example.test"}).json()["data"]
            op.post(
                f"/users/{user['id']}/credit", json={"amount": "20"}
            ).raise_for_status()  # 1,000 RPM tier
            key = op.post(f"/users/{user['id']}/keys", json={}).json()["data"]["key"]
        request_ids = _fire(first.url, key)
    finally:
        code = first.terminate()
    # uvicorn re-raises the captured SIGTERM after a graceful shutdown.
    assert code in CLEAN_EXIT, first.output()
    assert "Application shutdown complete" in first.output()
    assert len(set(request_ids)) == CALLS
    with contextlib.closing(sqlite3.connect(db)) as conn:
        rows = conn.execute(
            "SELECT request_id, status, stream, client_ip FROM usage_records"
        ).fetchall()
    assert len(rows) == CALLS
    assert {r[0] for r in rows} == set(request_ids)
    assert all(r[1] == 200 for r in rows)
    assert sum(1 for r in rows if r[2]) == CALLS // 2
    assert {r[3] for r in rows} == {"127.0.0.1"}
    assert ADMIN_KEY in first.output(), "the admin key was not printed on first start"

    second = Served(f"sqlite:///{db}", tmp_path / "second.log")
    try:
        with _operator(second.url) as op:
            assert op.get("/users").status_code == 200
    finally:
        code = second.terminate()
    assert code in CLEAN_EXIT, second.output()
    assert ADMIN_KEY not in second.output(), "the admin key was printed again on restart"
