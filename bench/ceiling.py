"""Server ceiling: uvicorn (uvloop + httptools) vs granian on a raw ASGI app, one core each.

    python -m bench.ceiling [--duration 10] [--concurrency 1,16,64]
                            [--servers uvicorn,granian] [--apps json,stream,proxy-json,proxy-stream]

Same method as bench.run: the server pinned to core 0, wrk (and the nginx mock, used by the
proxy apps) on core 1. Writes bench/results/ceiling.md.
"""

from __future__ import annotations

import argparse
import os
import shutil
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
    measured,
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
    "proxy-stream-coalesced": ("/proxy/stream-coalesced", True),
    "raw-json": ("/raw/json", False),
    "raw-stream": ("/raw/stream", True),
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
    ap.add_argument("--apps", default="json,stream,proxy-json,proxy-stream")
    ap.add_argument("--quiet-wait", type=float, default=30, metavar="SECONDS")
    ap.add_argument("--retries", type=int, default=1)
    ap.add_argument("--repeat", type=int, default=3, help="runs per point; the median is shown")
    args = ap.parse_args(argv)
    conc = [int(c) for c in args.concurrency.split(",")]
    servers = args.servers.split(",")
    apps = args.apps.split(",")

    children = Children()
    rows: list[tuple[str, str, WrkResult, float, list[float]]] = []
    warnings: list[str] = []
    work = Path(tempfile.mkdtemp(prefix="relaygate-ceiling-"))
    try:
        with signals_as_interrupt():
            mock_port, nginx = mock.start_nginx(children, work)
            bodies = {}
            for stream in (False, True):
                f = work / f"body-{'stream' if stream else 'json'}.json"
                f.write_bytes(mock.request_body(stream))
                bodies[stream] = f
            env = dict(os.environ, BENCH_UPSTREAM=f"http://127.0.0.1:{mock_port}")
            # All servers run side by side on the server core (an idle one costs nothing), and
            # the runs alternate between them, so a slow spell of the VM hits both alike.
            procs = {}
            for server in servers:
                port = free_port()
                proc = children.start(
                    server_argv(server, port), work / f"{server}.log", env=env,
                    cwd=BENCH_DIR.parent,
                )  # fmt: skip
                wait_port(port, 20, proc)
                procs[server] = (port, proc)
            time.sleep(0.5)
            own = [nginx.pid] + [p.pid for _, p in procs.values()]
            for app in apps:
                path, stream = APPS[app]
                for server, (port, _proc) in procs.items():  # warm-up
                    run_wrk(server, f"http://127.0.0.1:{port}{path}", 16, 2, bodies[stream])
                for c in conc:
                    runs: dict[str, list[WrkResult]] = {s: [] for s in servers}
                    for _ in range(args.repeat):
                        for server, (port, proc) in procs.items():
                            url = f"http://127.0.0.1:{port}{path}"
                            runs[server].append(
                                measured(
                                    own,
                                    args.quiet_wait,
                                    args.retries,
                                    warnings,
                                    server,
                                    url,
                                    c,
                                    args.duration,
                                    bodies[stream],
                                    cpu_pid=proc.pid,
                                )  # fmt: skip
                            )
                    for server, (_, proc) in procs.items():
                        rs = sorted(runs[server], key=lambda r: r.rps)
                        r = rs[len(rs) // 2]
                        rss = rss_mb(proc.pid)
                        rows.append((server, app, r, rss, [x.rps for x in rs]))
                        flag = "" if r.ok else f"  ERRORS {r.non2xx} non-2xx {r.socket_errors}"
                        print(
                            f"{server:8} {app:22} c={c:<3} {r.rps:9.0f} rps "
                            f"{[round(x.rps) for x in runs[server]] if args.repeat > 1 else ''} "
                            f"p50 {fmt(r.p50_ms, 3)} ms  p99 {fmt(r.p99_ms, 3)} ms  "
                            f"cpu {fmt(r.cpu_ms_per_call, 3)} ms/call  rss {rss:.0f} MB  "
                            f"other {r.other_load:.2f} speed {r.speed_ms:.0f}{flag}",
                            flush=True,
                        )
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    finally:
        children.close()
        shutil.rmtree(work, ignore_errors=True)

    m = machine_info()
    lines = [
        f"# Server ceiling ({datetime.now(UTC):%Y-%m-%d %H:%M} UTC)",
        "",
        f"{m['cpu']}, nproc {m['nproc']}, {m['ram']} RAM, kernel {m['kernel']}; "
        f"server on core {SERVER_CORE}, wrk + nginx on the other; {args.duration:g} s per run, "
        f"{args.repeat} runs per point alternating between the servers, median shown.",
        "",
        "| server | app | c | RPS (median) | RPS runs | p50 ms | p99 ms | CPU ms/call | RSS MB "
        "| errors | other load | core-0 speed ms |",
        "|---|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for server, app, r, rss, all_rps in rows:
        lines.append(
            f"| {server} | {app} | {r.connections} | {r.rps:,.0f} "
            f"| {', '.join(f'{x:,.0f}' for x in all_rps)} | {fmt(r.p50_ms, 3)} | "
            f"{fmt(r.p99_ms, 3)} | {fmt(r.cpu_ms_per_call, 3)} | {rss:.0f} | {r.errors} "
            f"| {r.other_load:.2f} | {r.speed_ms:.0f} |"
        )
    lines += ["", *(f"- {w}" for w in warnings)]
    out = BENCH_DIR / "results" / "ceiling.md"
    out.parent.mkdir(exist_ok=True)
    out.write_text("\n".join(lines) + "\n")
    print(f"\nwrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
