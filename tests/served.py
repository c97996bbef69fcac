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
        self,
        database_url: str,
        log: Path,
        env: Mapping[str, str] | None = None,
        errors: Path | None = None,
    ) -> None:
        """``env``: more ``RELAYGATE_*`` settings; ``errors``: standard error (the logs)
        to this file, apart from standard output (the start-up banner)."""
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        cmd, environment = _command(self.port)
        environment["RELAYGATE_DATABASE_URL"] = database_url
        environment["RELAYGATE_BOOTSTRAP_ADMIN_KEY"] = ADMIN_KEY
        environment.update(env or {})
        self._out = log.open("wb")
        self._err = errors.open("wb") if errors is not None else None
        self.proc = subprocess.Popen(
            cmd,
            env=environment,
            stdout=self._out,
            stderr=self._err or subprocess.STDOUT,
            cwd=str(log.parent),
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
            self._close_files()
        return code

    def kill(self) -> int:
        """SIGKILL and reap. Idempotent."""
        self.send_kill()
        code = self.proc.wait(30)
        self._close_files()
        return code

    def _close_files(self) -> None:
        for file in (self._out, self._err):
            if file is not None and not file.closed:
                file.close()

    def output(self) -> str:
        return self.log.read_text(errors="replace")
