"""Server ceiling: uvicorn (uvloop + httptools) vs granian on a raw ASGI app, one core each.

    python -m bench.ceiling [--duration 10] [--concurrency 1,16,64]
                            [--servers uvicorn,granian] [--apps json,stream,proxy-json,proxy-stream]

Same method as bench.run: the server pinned to core 0, wrk (and the nginx mock, used by the
proxy apps) on core 1. Writes bench/results/ceiling.md.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from bench import mock
from bench.common import (
    BENCH_DIR,
    SERVER_CORE,
    Children,
    WrkResult,
    free_port,
    machine_info,
    rss_mb,
    run_wrk,
    signals_as_interrupt,
    wait_port,
)

VENV_BIN = Path(sys.executable).parent
APPS = {
    "json": ("/json", False),
    "stream": ("/stream", True),
    "proxy-json": ("/proxy/json", False),
    "proxy-stream": ("/proxy/stream", True),
}


def server_argv(server: str, port: int) -> list[str]:
    pin = ["taskset", "-c", SERVER_CORE]
    if server == "uvicorn":
        return pin + [
            str(VENV_BIN / "uvicorn"), "bench.asgi_app:app",
            "--host", "127.0.0.1", "--port", str(port),
            "--loop", "uvloop", "--http", "httptools",
            "--no-access-log", "--log-level", "warning", "--backlog", "4096",
        ]  # fmt: skip
    if server == "granian":
        return pin + [
            str(VENV_BIN / "granian"), "--interface", "asgi",
            "--host", "127.0.0.1", "--port", str(port),
            "--workers", "1", "--runtime-threads", "1", "--runtime-mode", "st",
            "--loop", "uvloop", "--no-ws", "--log-level", "warning", "--no-access-log",
            "--backlog", "4096", "bench.asgi_app:app",
        ]  # fmt: skip
    raise SystemExit(f"unknown server {server}")


def fmt(x: float, digits: int = 2) -> str:
    return "n/a" if x != x else f"{x:.{digits}f}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.ceiling", description=__doc__)
    ap.add_argument("--duration", type=float, default=10)
    ap.add_argument("--concurrency", default="1,16,64")
    ap.add_argument("--servers", default="uvicorn,granian")
    ap.add_argument("--apps", default=",".join(APPS))
    args = ap.parse_args(argv)
    conc = [int(c) for c in args.concurrency.split(",")]
    servers = args.servers.split(",")
    apps = args.apps.split(",")

    children = Children()
    rows: list[tuple[str, str, WrkResult, float]] = []
    work = Path(tempfile.mkdtemp(prefix="relaygate-ceiling-"))
    try:
        with signals_as_interrupt():
            mock_port, _ = mock.start_nginx(children, work)
            bodies = {}
            for stream in (False, True):
                f = work / f"body-{'stream' if stream else 'json'}.json"
                f.write_bytes(mock.request_body(stream))
                bodies[stream] = f
            env = dict(os.environ, BENCH_UPSTREAM=f"http://127.0.0.1:{mock_port}")
            for server in servers:
                port = free_port()
                proc = children.start(
                    server_argv(server, port), work / f"{server}.log", env=env,
                    cwd=BENCH_DIR.parent,
                )  # fmt: skip
                wait_port(port, 20, proc)
                time.sleep(0.5)
                for app in apps:
                    path, stream = APPS[app]
                    url = f"http://127.0.0.1:{port}{path}"
                    run_wrk(server, url, 16, 2, bodies[stream])  # warm-up
                    for c in conc:
                        r = run_wrk(server, url, c, args.duration, bodies[stream], cpu_pid=proc.pid)
                        rss = rss_mb(proc.pid)
                        rows.append((server, app, r, rss))
                        flag = "" if r.ok else f"  ERRORS {r.non2xx} non-2xx {r.socket_errors}"
                        print(
                            f"{server:8} {app:13} c={c:<3} {r.rps:9.0f} rps  "
                            f"p50 {fmt(r.p50_ms, 3)} ms  p99 {fmt(r.p99_ms, 3)} ms  "
                            f"cpu {fmt(r.cpu_ms_per_call, 3)} ms/call  rss {rss:.0f} MB{flag}",
                            flush=True,
                        )
                children.stop(proc)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    finally:
        children.close()

    m = machine_info()
    lines = [
        f"# Server ceiling ({datetime.now(UTC):%Y-%m-%d %H:%M} UTC)",
        "",
        f"{m['cpu']}, nproc {m['nproc']}, {m['ram']} RAM, kernel {m['kernel']}; "
        f"server on core {SERVER_CORE}, wrk + nginx on the other; {args.duration:g} s per run.",
        "",
        "| server | app | c | RPS | p50 ms | p99 ms | CPU ms/call | RSS MB | errors |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for server, app, r, rss in rows:
        lines.append(
            f"| {server} | {app} | {r.connections} | {r.rps:,.0f} | {fmt(r.p50_ms, 3)} | "
            f"{fmt(r.p99_ms, 3)} | {fmt(r.cpu_ms_per_call, 3)} | {rss:.0f} | {r.errors} |"
        )
    out = BENCH_DIR / "results" / "ceiling.md"
    out.parent.mkdir(exist_ok=True)
    out.write_text("\n".join(lines) + "\n")
    print(f"\nwrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
