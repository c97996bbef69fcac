"""``relaygate serve`` as a real subprocess, for tests of process life: shutdown, crash."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

import httpx

from tests.harness import ADMIN_KEY, ROOT

__all__ = ["Served"]


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
    env["PYTHONPATH"] = str(ROOT / "src")
    return [sys.executable, "-m", "relaygate", "serve", "--port", str(port)], env


class Served:
    """``relaygate serve`` in a subprocess on a free port, waited on until it answers."""

    def __init__(
        self, database_url: str, log: Path, env: Mapping[str, str] | None = None
    ) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        extra = dict(env or {})  # more RELAYGATE_* settings
        cmd, env = _command(self.port)
        env["RELAYGATE_DATABASE_URL"] = database_url
        env["RELAYGATE_BOOTSTRAP_ADMIN_KEY"] = ADMIN_KEY
        env.update(extra)
        self._out = log.open("wb")
        self.proc = subprocess.Popen(
            cmd, env=env, stdout=self._out, stderr=subprocess.STDOUT, cwd=str(log.parent)
        )
        try:
            self._wait_ready()
        except BaseException:
            self.kill()
            raise

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

    def send_kill(self) -> None:
        """SIGKILL: no shutdown hook, no flush, no goodbye."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)

    def terminate(self) -> int:
        """SIGTERM (a clean shutdown) and reap; killed if it takes over a minute."""
        self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(60)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
            if not self._out.closed:
                self._out.close()
        return code

    def kill(self) -> int:
        """SIGKILL and reap. Idempotent."""
        self.send_kill()
        code = self.proc.wait(30)
        if not self._out.closed:
            self._out.close()
        return code

    def output(self) -> str:
        return self.log.read_text(errors="replace")
