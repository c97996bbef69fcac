"""Shared helpers: child processes that always get cleaned up, wrk runs, /proc sampling."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
LUA = BENCH_DIR / "post.lua"
CLK_TCK = os.sysconf("SC_CLK_TCK")
NCPU = os.cpu_count() or 1

# Core layout: the server under test on core 0, load generator (and nginx mock) on core 1.
SERVER_CORE = "0"
LOAD_CORE = "1" if NCPU > 1 else "0"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(port: int, timeout: float, proc: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before listening")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listening on 127.0.0.1:{port} after {timeout}s")


class Children:
    """Owns every child process of a run; ``close()`` ends them (process group, TERM then KILL)."""

    def __init__(self) -> None:
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(
        self,
        argv: Sequence[str],
        log: Path,
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
    ) -> subprocess.Popen[bytes]:
        fh = log.open("ab")
        try:
            proc = subprocess.Popen(
                list(argv),
                stdout=fh,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=env,
                cwd=cwd,
                start_new_session=True,  # own process group: Ctrl-C in the terminal doesn't race us
            )
        finally:
            fh.close()
        self.procs.append(proc)
        return proc

    def stop(self, proc: subprocess.Popen[bytes], timeout: float = 5.0) -> None:
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout)
        else:
            # the leader is gone; make sure nothing of its group lingers (e.g. nginx workers)
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
        if proc in self.procs:
            self.procs.remove(proc)

    def close(self) -> None:
        for proc in reversed(list(self.procs)):
            with contextlib.suppress(Exception):
                self.stop(proc)


@contextlib.contextmanager
def signals_as_interrupt() -> Iterator[None]:
    """Turn SIGTERM/SIGHUP into KeyboardInterrupt so ``finally`` blocks run."""

    def handler(signum: int, _frame: object) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    old = {s: signal.signal(s, handler) for s in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)


# ---------------------------------------------------------------- /proc


def _children_of(pid: int) -> list[int]:
    out: list[int] = []
    with contextlib.suppress(OSError):
        for tid in os.listdir(f"/proc/{pid}/task"):
            with contextlib.suppress(OSError):
                text = Path(f"/proc/{pid}/task/{tid}/children").read_text()
                out.extend(int(x) for x in text.split())
    return out


def process_tree(pid: int) -> list[int]:
    seen = [pid]
    i = 0
    while i < len(seen):
        seen.extend(c for c in _children_of(seen[i]) if c not in seen)
        i += 1
    return seen


def cpu_seconds(pid: int) -> float:
    """utime+stime of ``pid`` and its live descendants, in seconds."""
    total = 0
    for p in process_tree(pid):
        with contextlib.suppress(OSError):
            stat = Path(f"/proc/{p}/stat").read_text()
            fields = stat[stat.rindex(")") + 2 :].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14, 15)
    return total / CLK_TCK


def rss_mb(pid: int) -> float:
    """VmRSS of ``pid`` and its live descendants, in MiB."""
    total_kb = 0
    for p in process_tree(pid):
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total_kb += int(line.split()[1])
    return total_kb / 1024


# ---------------------------------------------------------------- wrk


@dataclass
class WrkResult:
    target: str
    url: str
    connections: int
    duration: float
    requests: int = 0
    rps: float = 0.0
    p50_ms: float = float("nan")
    p75_ms: float = float("nan")
    p90_ms: float = float("nan")
    p99_ms: float = float("nan")
    non2xx: int = 0
    socket_errors: dict[str, int] = field(default_factory=dict)
    cpu_ms_per_call: float = float("nan")
    raw: str = ""

    @property
    def errors(self) -> int:
        return self.non2xx + sum(self.socket_errors.values())

    @property
    def ok(self) -> bool:
        return self.requests > 0 and self.errors == 0


_UNITS_MS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3, "h": 3600e3}


def _to_ms(value: str) -> float:
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m|h)", value)
    if not m:
        raise ValueError(f"unparsable wrk latency {value!r}")
    return float(m.group(1)) * _UNITS_MS[m.group(2)]


def parse_wrk(text: str, res: WrkResult) -> WrkResult:
    res.raw = text
    if m := re.search(r"Requests/sec:\s+([\d.]+)", text):
        res.rps = float(m.group(1))
    if m := re.search(r"(\d+) requests in ([\d.]+\w+)", text):
        res.requests = int(m.group(1))
    for pct, attr in (("50", "p50_ms"), ("75", "p75_ms"), ("90", "p90_ms"), ("99", "p99_ms")):
        if m := re.search(rf"^\s+{pct}%\s+(\S+)", text, re.M):
            setattr(res, attr, _to_ms(m.group(1)))
    if m := re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text):
        res.non2xx = int(m.group(1))
    if m := re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text
    ):
        res.socket_errors = {
            k: int(v)
            for k, v in zip(("connect", "read", "write", "timeout"), m.groups(), strict=True)
            if int(v)
        }
    return res


def wrk_argv(
    url: str, connections: int, duration: float, body_file: Path, key: str | None
) -> list[str]:
    wrk = shutil.which("wrk") or "/usr/bin/wrk"
    return [
        "taskset", "-c", LOAD_CORE,
        wrk, "-t1", f"-c{connections}", f"-d{max(1, round(duration))}s", "--latency",
        "--timeout", "10s",
        "-s", str(LUA), url, "--", str(body_file), key or "",
    ]  # fmt: skip


def run_wrk(
    target: str,
    url: str,
    connections: int,
    duration: float,
    body_file: Path,
    key: str | None = None,
    cpu_pid: int | None = None,
) -> WrkResult:
    res = WrkResult(target=target, url=url, connections=connections, duration=duration)
    cpu0 = cpu_seconds(cpu_pid) if cpu_pid else 0.0
    proc = subprocess.run(
        wrk_argv(url, connections, duration, body_file, key),
        capture_output=True,
        text=True,
        timeout=duration + 60,
        check=False,
    )
    if cpu_pid:
        cpu1 = cpu_seconds(cpu_pid)
    parse_wrk(proc.stdout + proc.stderr, res)
    if proc.returncode != 0 and not res.requests:
        raise RuntimeError(f"wrk failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    if cpu_pid and res.requests:
        res.cpu_ms_per_call = (cpu1 - cpu0) * 1000 / res.requests
    return res


# ---------------------------------------------------------------- tiny HTTP client (stdlib)


def http(
    method: str,
    url: str,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    timeout: float = 10.0,
) -> tuple[int, dict[str, str], bytes]:
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    if body is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def machine_info() -> dict[str, str]:
    model = "unknown"
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout
        for line in out.splitlines():
            if line.startswith("Model name:"):
                model = line.split(":", 1)[1].strip()
    mem_kb = 0
    with contextlib.suppress(OSError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_kb = int(line.split()[1])
    kernel = os.uname().release
    return {
        "cpu": model,
        "nproc": str(NCPU),
        "ram": f"{mem_kb / 1024 / 1024:.1f} GiB",
        "kernel": kernel,
    }
