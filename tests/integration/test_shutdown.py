"""Start ``relaygate serve`` as a real process, load it, SIGTERM it, and count the bills."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from tests.harness import ADMIN_KEY, ROOT

CALLS = 200
CLEAN_EXIT = (0, -signal.SIGTERM)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _command(port: int) -> tuple[list[str], dict[str, str]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RELAYGATE_")}
    env["PYTHONUNBUFFERED"] = "1"
    entry = ROOT / ".venv" / "bin" / "relaygate"
    if entry.exists():
        return [str(entry), "serve", "--port", str(port)], env
    # Not installed editable yet: run the same CLI from the source tree.
    env["PYTHONPATH"] = str(ROOT / "src")
    return [sys.executable, "-m", "relaygate", "serve", "--port", str(port)], env


class Served:
    def __init__(self, db: Path, log: Path) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        cmd, env = _command(self.port)
        env["RELAYGATE_DATABASE_URL"] = f"sqlite:///{db}"
        env["RELAYGATE_BOOTSTRAP_ADMIN_KEY"] = ADMIN_KEY
        # Flush rarely on a timer, so the records are still buffered at SIGTERM and only a
        # shutdown flush can save them.
        env["RELAYGATE_USAGE_FLUSH_INTERVAL"] = "60"
        self._out = log.open("wb")
        self.proc = subprocess.Popen(
            cmd, env=env, stdout=self._out, stderr=subprocess.STDOUT, cwd=str(log.parent)
        )
        self._wait_ready()

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.output()
            try:
                if httpx.get(self.url + "/openapi.json", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise AssertionError("relaygate serve did not become ready:\n" + self.output())

    def terminate(self) -> int:
        self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(60)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
            self._out.close()
        return code

    def output(self) -> str:
        return self.log.read_text(errors="replace")


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
    first = Served(db, tmp_path / "first.log")
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

    second = Served(db, tmp_path / "second.log")
    try:
        with _operator(second.url) as op:
            assert op.get("/users").status_code == 200
    finally:
        code = second.terminate()
    assert code in CLEAN_EXIT, second.output()
    assert ADMIN_KEY not in second.output(), "the admin key was printed again on restart"
