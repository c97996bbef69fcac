"""Three ``relaygate serve`` processes behind nginx, as a scale-out deployment runs them.

:class:`Cluster` starts, for one test module:

* one fresh PostgreSQL database (``create_pg_database``), migrated by the first replica;
* a Redis server of its own (``redis-server`` on a free port, nothing saved to disk), so
  a test may restart it without touching the Redis other tests share;
* three replicas (:class:`tests.served.Served`, real processes) on that database and
  Redis, with the production defaults for every propagation interval;
* nginx (from Debian: ``apt-get install nginx``) as a round-robin load balancer in front,
  retrying a request on the next replica when a replica cannot be reached.

Each replica is also reachable directly (``cluster.replica(i)``), as a
:class:`tests.harness.Gateway` with the operator helpers; ``cluster.front`` is the same
through nginx. ``close()`` stops everything it started and drops the database.
"""

from __future__ import annotations

import contextlib
import grp
import os
import pwd
import shutil
import socket
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests.harness import ADMIN_KEY, Gateway, create_pg_database, drop_pg_database
from tests.served import Served

__all__ = ["REPLICAS", "Cluster", "nginx_binary"]

REPLICAS = 3


def nginx_binary() -> str | None:
    return shutil.which("nginx") or next(
        (p for p in ("/usr/sbin/nginx",) if Path(p).exists()), None
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_port(port: int, proc: subprocess.Popen[bytes], what: str) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"{what} exited with {proc.returncode}"
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.02)
    raise AssertionError(f"{what} did not listen on {port}")


def _operator(url: str) -> httpx.Client:
    return httpx.Client(
        base_url=url + "/api/v1/operator",
        headers={"Authorization": f"Bearer {ADMIN_KEY}"},
        timeout=30,
    )


@dataclass
class RedisServer:
    """A private ``redis-server``: no persistence, so a restart empties it (as a Redis
    restarted without a saved snapshot does)."""

    workdir: Path
    port: int = field(default_factory=_free_port)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        argv = [
            shutil.which("redis-server") or "/usr/bin/redis-server",
            "--bind", "127.0.0.1", "--port", str(self.port), "--save", "", "--appendonly", "no",
            "--dir", str(self.workdir), "--logfile", str(self.workdir / "redis.log"),
        ]  # fmt: skip
        self.proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _wait_port(self.port, self.proc, "redis-server")

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self.proc = None


def nginx_config(workdir: Path, port: int, upstreams: list[int]) -> str:
    """Round robin over the replicas. ``proxy_next_upstream error timeout``: a request
    whose replica refused the connection (or timed out connecting) goes to the next one;
    a POST already sent is never sent again (no ``non_idempotent``), so a call is never
    relayed twice. Answers are not buffered (streams pass through as they come)."""
    user_line = ""
    if os.geteuid() == 0:  # as root nginx would drop its worker to "nobody"
        user_line = (
            f"user {pwd.getpwuid(os.geteuid()).pw_name} {grp.getgrgid(os.getegid()).gr_name};"
        )
    tmp = workdir / "nginx-tmp"
    tmp.mkdir(parents=True, exist_ok=True)
    servers = "".join(
        f"        server 127.0.0.1:{p} max_fails=1 fail_timeout=5s;\n" for p in upstreams
    )
    return f"""
{user_line}
daemon off;
master_process on;
worker_processes 1;
pid {workdir}/nginx.pid;
error_log {workdir}/nginx-error.log warn;
events {{ worker_connections 2048; }}
http {{
    access_log {workdir}/nginx-access.log;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    client_max_body_size 64m;
    upstream relaygate {{
{servers}        keepalive 64;
    }}
    server {{
        listen 127.0.0.1:{port} backlog=2048;
        location / {{
            proxy_pass http://relaygate;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $host;
            proxy_buffering off;
            proxy_request_buffering off;
            proxy_connect_timeout 2s;
            proxy_read_timeout 120s;
            proxy_next_upstream error timeout;
            proxy_next_upstream_tries 3;
            add_header X-Replica $upstream_addr always;  # which replica answered
        }}
    }}
}}
"""


class Cluster:
    """Three replicas, their database, their Redis and nginx (module docstring)."""

    def __init__(self, workdir: Path, env: dict[str, str] | None = None) -> None:
        self.workdir = workdir
        self.env = dict(env or {})
        self.redis = RedisServer(workdir)
        self.db_url = ""
        self.served: list[Served] = []
        self.nginx: subprocess.Popen[bytes] | None = None
        self.front_port = _free_port()
        self._gateways: list[Gateway] = []

    # ------------------------------------------------------------ lifecycle
    def start(self) -> Cluster:
        nginx = nginx_binary()
        if nginx is None:
            raise RuntimeError("nginx is not installed (apt-get install nginx)")
        try:
            self.redis.start()
            self.db_url = create_pg_database()
            self.served.append(self._replica(0))  # migrates the database, alone
            more: dict[int, Served | BaseException] = {}
            threads = [
                threading.Thread(target=self._start_into, args=(i, more))
                for i in range(1, REPLICAS)
            ]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            for i in range(1, REPLICAS):
                started = more[i]
                if isinstance(started, BaseException):
                    raise started
                self.served.append(started)
            self._start_nginx(nginx)
        except BaseException:
            self.close()
            raise
        self._gateways = [self._gateway(s.url) for s in self.served]
        self.front = self._gateway(self.front_url)
        return self

    def _start_into(self, index: int, box: dict[int, Served | BaseException]) -> None:
        try:
            box[index] = self._replica(index)
        except BaseException as exc:  # noqa: BLE001 - re-raised by start()
            box[index] = exc

    def _replica(self, index: int) -> Served:
        env = {
            "RELAYGATE_KV_URL": self.redis.url,
            "RELAYGATE_KV_PREFIX": "rg-replicas:",
            "RELAYGATE_BLOB_URL": f"file://{self.workdir / 'files'}",
            "RELAYGATE_LOG_LEVEL": "warning",
            **self.env,
        }
        log = self.workdir / f"replica-{index}.log"
        return Served(self.db_url, log, env=env, errors=self.workdir / f"replica-{index}.err")

    def _start_nginx(self, binary: str) -> None:
        conf = self.workdir / "nginx.conf"
        conf.write_text(nginx_config(self.workdir, self.front_port, [s.port for s in self.served]))
        argv = [binary, "-p", str(self.workdir), "-c", str(conf), "-e", "stderr"]
        log = (self.workdir / "nginx.log").open("wb")
        self.nginx = subprocess.Popen(argv, stdout=log, stderr=log)
        log.close()
        _wait_port(self.front_port, self.nginx, "nginx")

    def _gateway(self, url: str) -> Gateway:
        return Gateway(url, self.db_url, None, _operator(url))

    def close(self) -> None:
        for gw in [*self._gateways, *([self.front] if hasattr(self, "front") else [])]:
            gw.operator.close()
        if self.nginx is not None and self.nginx.poll() is None:
            self.nginx.terminate()
            try:
                self.nginx.wait(10)
            except subprocess.TimeoutExpired:
                self.nginx.kill()
                self.nginx.wait()
        for served in self.served:
            if served.proc.poll() is None:
                served.terminate()
            else:
                served.kill()  # reaped already: closes its files
        self.redis.kill()
        if self.db_url:
            drop_pg_database(self.db_url)

    # ------------------------------------------------------------ access
    @property
    def front_url(self) -> str:
        return f"http://127.0.0.1:{self.front_port}"

    def replica(self, index: int) -> Gateway:
        """Replica ``index`` directly (not through nginx), with the operator helpers."""
        return self._gateways[index]

    def alive(self) -> list[int]:
        return [i for i, s in enumerate(self.served) if s.proc.poll() is None]

    def operator_reads(self) -> bool:
        """Every live replica answers an operator read (the users list)."""
        return all(self.replica(i).operator.get("/users").status_code == 200 for i in self.alive())

    def nginx_errors(self) -> str:
        path = self.workdir / "nginx-error.log"
        return path.read_text(errors="replace") if path.exists() else ""
