"""Shared helpers: child processes that always get cleaned up, wrk runs, /proc sampling."""

from __future__ import annotations

import contextlib
import os
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

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


def _die_with_parent() -> None:
    """In the child before exec: get SIGTERM if the bench itself dies (even by SIGKILL)."""
    with contextlib.suppress(Exception):
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


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
                preexec_fn=_die_with_parent,
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


SPEED_LOOP = (
    "import time\nt=time.perf_counter()\nx=0\nfor i in range(250_000): x+=i*i\n"
    "print((time.perf_counter()-t)*1000)"
)


def speed_ms(core: str = SERVER_CORE) -> float:
    """Milliseconds a fixed pure-Python loop takes on ``core`` right now (lower = faster).

    This VM's vCPUs slow down by up to a third when the host is busy, without reporting steal
    time; this index shows how fast the core was around a run.
    """
    out = subprocess.run(
        ["taskset", "-c", core, sys.executable, "-c", SPEED_LOOP],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    try:
        return float(out.stdout.strip())
    except ValueError:
        return float("nan")


def busy_seconds() -> float:
    """CPU seconds spent busy on all cores since boot (from /proc/stat)."""
    line = Path("/proc/stat").read_text().splitlines()[0].split()
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(x) for x in line[1:9])
    return (user + nice + system + irq + softirq + steal) / CLK_TCK


def wait_quiet(own_pids: Sequence[int], max_wait: float = 60, threshold: float = 0.10) -> float:
    """Wait until the machine is quiet apart from our processes; return the other load seen.

    The load is in cores (0.25 = a quarter of one core), measured over one second. Others
    may share this machine (test suites, builds); a run under their load is not a result.
    """
    deadline = time.monotonic() + max_wait
    while True:
        b0, own0, t0 = busy_seconds(), sum(cpu_seconds(p) for p in own_pids), time.monotonic()
        time.sleep(1.0)
        b1, own1, t1 = busy_seconds(), sum(cpu_seconds(p) for p in own_pids), time.monotonic()
        other = max(0.0, (b1 - b0) - (own1 - own0)) / (t1 - t0)
        if other < threshold or time.monotonic() > deadline:
            return other


def top_other_processes(exclude: Sequence[int], n: int = 3) -> str:
    """The busiest processes not ours over half a second, for the log line of a noisy run."""
    ours = set()
    for p in exclude:
        ours.update(process_tree(p))
    ours.add(os.getpid())

    def snap() -> dict[int, tuple[str, float]]:
        out = {}
        for d in os.listdir("/proc"):
            if not d.isdigit() or int(d) in ours:
                continue
            with contextlib.suppress(OSError, ValueError, IndexError):
                stat = Path(f"/proc/{d}/stat").read_text()
                comm = stat[stat.index("(") + 1 : stat.rindex(")")]
                fields = stat[stat.rindex(")") + 2 :].split()
                out[int(d)] = (comm, (int(fields[11]) + int(fields[12])) / CLK_TCK)
        return out

    a = snap()
    time.sleep(0.5)
    b = snap()
    deltas = sorted(
        ((b[p][1] - a[p][1], b[p][0]) for p in b if p in a and b[p][1] > a[p][1]), reverse=True
    )
    return ", ".join(f"{comm} {d / 0.5:.0%}" for d, comm in deltas[:n]) or "none"


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
    other_load: float = float("nan")  # cores busy with processes that are not ours, during the run
    speed_ms: float = float("nan")  # common.speed_ms() around the run: how fast core 0 was
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


# wrk runs per URL: completed requests and the sum of connections (requests cut off at the end
# of a run are at most one per connection); bench.run compares them with the usage records.
SENT: dict[str, list[int]] = {}


def count_sent(res: WrkResult) -> None:
    total = SENT.setdefault(res.url, [0, 0])
    total[0] += res.requests
    total[1] += res.connections


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
    own_pids: Sequence[int] = (),
) -> WrkResult:
    """One wrk run. ``cpu_pid``: the server whose CPU per call is measured; ``own_pids``: other
    processes of ours (the mock) whose CPU does not count as load from others."""
    res = WrkResult(target=target, url=url, connections=connections, duration=duration)
    speed0 = speed_ms()
    pids = ([cpu_pid] if cpu_pid else []) + list(own_pids)
    cpu0 = cpu_seconds(cpu_pid) if cpu_pid else 0.0
    own0 = sum(cpu_seconds(p) for p in pids)
    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    busy0, t0 = busy_seconds(), time.monotonic()
    proc = subprocess.run(
        wrk_argv(url, connections, duration, body_file, key),
        capture_output=True,
        text=True,
        timeout=duration + 60,
        check=False,
    )
    busy1, t1 = busy_seconds(), time.monotonic()
    ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    own1 = sum(cpu_seconds(p) for p in pids)
    if cpu_pid:
        cpu1 = cpu_seconds(cpu_pid)
    res.speed_ms = (speed0 + speed_ms()) / 2
    wrk_cpu = (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)
    res.other_load = max(0.0, (busy1 - busy0) - (own1 - own0) - wrk_cpu) / (t1 - t0)
    parse_wrk(proc.stdout + proc.stderr, res)
    count_sent(res)
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


# ---------------------------------------------------------------- measuring under other load

NOISY = 0.15  # cores used by other processes during a run before it counts as disturbed


def measured(
    own: list[int], quiet_wait: float, retries: int, warnings: list[str], *a: object, **kw: object
) -> WrkResult:
    """run_wrk after waiting for the machine to be quiet; rerun a disturbed run."""
    res: WrkResult | None = None
    for attempt in range(retries + 1):
        before = wait_quiet(own, max_wait=quiet_wait)
        if before >= NOISY:
            print(f"  (other load {before:.2f} cores: {top_other_processes(own)}; running anyway)",
                  flush=True)  # fmt: skip
        res = run_wrk(*a, own_pids=own, **kw)  # type: ignore[arg-type,misc]
        if res.other_load < NOISY:
            return res
        print(
            f"  ({res.target} c={res.connections}: other processes used {res.other_load:.2f} "
            f"cores during the run; attempt {attempt + 1}/{retries + 1})",
            flush=True,
        )
    assert res is not None
    warnings.append(
        f"{res.target} c={res.connections} {urlsplit(res.url).path} (one run): others used "
        f"{res.other_load:.2f} cores during the run; the figures are disturbed"
    )
    return res
