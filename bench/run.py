"""Relaygate load benchmark.

    python -m bench.run [--duration 12] [--scenarios nonstream,stream,weighted] [--concurrency 1,16]
                        [--quick] [--repeat N] [--soak 300] [--profile] [--direct-only]
                        [--quiet-wait 90] [--retries 2] [--keep]

Starts the nginx mock upstream (bench/mock.py) and the wrk load generator on core 1, and the
gateway (``relaygate serve``) on core 0 with SQLite, a real (non-operator) user key and usage
records on. For every scenario and concurrency it runs wrk against the mock directly and
through the gateway, and prints RPS, p50/p99, added p50, the RPS ratio and the gateway's CPU
ms per call (``weighted``: two channels at weights 3:1, split checked; bench/weighted.py).
The same table goes to bench/results/latest.md (and latest.json).
Method, caveats and recorded results: docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import sqlite3
import string
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import orjson

from bench import mock, profile, weighted
from bench.common import (
    BENCH_DIR,
    LOAD_CORE,
    NOISY,
    REPO,
    SENT,
    SERVER_CORE,
    Children,
    WrkResult,
    count_sent,
    cpu_seconds,
    free_port,
    http,
    machine_info,
    measured,
    parse_wrk,
    rss_mb,
    run_wrk,
    signals_as_interrupt,
    wait_port,
    wrk_argv,
)

SCENARIOS = {"nonstream": False, "stream": True, weighted.NAME: False}
RESULTS = BENCH_DIR / "results"
VENV_BIN = Path(sys.executable).parent

# Targets from the issue (one gateway core).
TARGET_NONSTREAM_C16_RPS = 3000
TARGET_STREAM_C16_RPS = 2000
TARGET_ADDED_P50_C1_MS = 0.5
TARGET_IDLE_RSS_MB = 80
TARGET_RSS_FLAT = 0.10


@dataclass
class Row:
    scenario: str
    concurrency: int
    direct: WrkResult | None
    gateway: WrkResult | None
    rss_after_mb: float = float("nan")
    gateway_rps_runs: list[float] = field(default_factory=list)  # all repeats; the median is shown

    @property
    def added_p50_ms(self) -> float:
        if self.direct is None or self.gateway is None:
            return float("nan")
        return self.gateway.p50_ms - self.direct.p50_ms

    @property
    def ratio(self) -> float:
        if self.direct is None or self.gateway is None or not self.direct.rps:
            return float("nan")
        return self.gateway.rps / self.direct.rps


@dataclass
class Soak:
    seconds: int
    rps: float
    requests: int
    errors: int
    p50_ms: float
    p99_ms: float
    cpu_ms_per_call: float
    idle_before_mb: float
    idle_after_mb: float
    samples: list[tuple[int, float]]

    @property
    def values(self) -> list[float]:
        return [v for _, v in self.samples] or [float("nan")]

    @property
    def first_mb(self) -> float:
        return self.values[0]

    @property
    def last_mb(self) -> float:
        return self.values[-1]

    @property
    def drift(self) -> float:
        return self.last_mb / self.first_mb - 1

    @property
    def max_dev(self) -> float:
        """Largest deviation of a sample under load from the first one (10 s in)."""
        return max(abs(v / self.first_mb - 1) for v in self.values)


@dataclass
class Report:
    started: str
    machine: dict[str, str]
    duration: float
    repeat: int = 1
    rows: list[Row] = field(default_factory=list)
    rss_idle_start_mb: float = float("nan")
    rss_idle_end_mb: float = float("nan")
    soak: Soak | None = None
    db_rows: dict[str, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    gateway_cmd: str = ""
    source: str = ""
    records_check: str = ""
    split: list[str] = field(default_factory=list)  # the weighted scenario's split


# ---------------------------------------------------------------- the gateway


class Gateway:
    def __init__(self, children: Children, work: Path, mock_port: int, extra: str = "") -> None:
        self.children = children
        self.work = work
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        alnum = string.ascii_letters + string.digits
        self.admin_key = "sk-" + "".join(secrets.choice(alnum) for _ in range(48))
        self.key = ""
        self.log = work / "gateway.log"
        self.config = work / "bench.toml"
        self.config.write_text(
            f"""
# Rate limits stay on; the tier is set high enough not to refuse the benchmark's own load.
[settings]
rate_limit_tiers = [[0, 1000000000]]

[[channels]]
name = "bench-json"
type = "openai"
base_url = "http://127.0.0.1:{mock_port}/json/v1"
api_key = "sk-upstream-bench"
models = ["{mock.MODEL_JSON}"]

[[channels]]
name = "bench-stream"
type = "openai"
base_url = "http://127.0.0.1:{mock_port}/stream/v1"
api_key = "sk-upstream-bench"
models = ["{mock.MODEL_STREAM}"]

# Priced, so every call is charged (the mock reports 9 prompt + 20 completion tokens).
[[models]]
name = "{mock.MODEL_JSON}"
input = "2.50"
output = "10.00"

[[models]]
name = "{mock.MODEL_STREAM}"
input = "2.50"
output = "10.00"
"""
            + extra
        )
        self.db = work / "bench.db"
        self.argv = [
            "taskset", "-c", SERVER_CORE, str(VENV_BIN / "relaygate"), "serve",
            "--config", str(self.config), "--port", str(self.port),
        ]  # fmt: skip
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def start(self) -> None:
        env = dict(
            os.environ,
            RELAYGATE_DATABASE_URL=f"sqlite:///{self.db}",
            RELAYGATE_BOOTSTRAP_ADMIN_KEY=self.admin_key,
        )
        self.proc = self.children.start(self.argv, self.log, env=env, cwd=self.work)
        wait_port(self.port, 60, self.proc)
        self._wait_http(self.admin_key, accept_any=True)
        self.key = self._create_user_key()
        self._wait_http(self.key, accept_any=False)

    def _wait_http(self, key: str, accept_any: bool, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        last = ""
        while time.monotonic() < deadline:
            self.check_alive()
            try:
                status, _, body = http(
                    "GET", f"{self.base}/v1/models", headers={"Authorization": f"Bearer {key}"}
                )
                if status == 200 or (accept_any and status < 500):
                    return
                last = f"{status} {body[:300]!r}"
            except OSError as e:
                last = repr(e)
            time.sleep(0.2)
        raise RuntimeError(f"gateway not ready: GET /v1/models -> {last}")

    def _operator(
        self, path: str, payload: dict[str, object], optional: bool = False
    ) -> dict[str, object]:
        status, _, body = http(
            "POST",
            f"{self.base}/api/v1/operator{path}",
            orjson.dumps(payload),
            headers={"Authorization": f"Bearer {self.admin_key}"},
        )
        if status == 404 and optional:
            return {}
        if status != 200:
            raise RuntimeError(f"POST /api/v1/operator{path} -> {status} {body[:500]!r}")
        doc = orjson.loads(body)
        data = doc.get("data") if isinstance(doc, dict) else None
        if not isinstance(data, dict):
            raise RuntimeError(f"POST /api/v1/operator{path}: no data in {body[:500]!r}")
        return data

    def _create_user_key(self) -> str:
        user = self._operator("/users", {"email": "bench@example.com"})
        # enough balance for ~400 million calls at the prices above
        self._operator(
            f"/users/{user['id']}/credit",
            {"amount": "100000", "kind": "topup", "memo": "bench"},
            optional=True,
        )
        key = self._operator(f"/users/{user['id']}/keys", {})
        return str(key["key"])

    def check_alive(self) -> None:
        if self.proc is not None and self.proc.poll() is not None:
            raise RuntimeError(
                f"gateway exited with {self.proc.returncode}; log tail:\n{self.log_tail()}"
            )

    def log_tail(self, n: int = 40) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return "(no log)"

    def url(self) -> str:
        return f"{self.base}/v1/chat/completions"


def check_answers(gw: Gateway, warnings: list[str]) -> None:
    """One call of each kind through the gateway; the answer must be the mock's."""
    auth = {"Authorization": f"Bearer {gw.key}"}
    status, _, body = http("POST", gw.url(), mock.request_body(False), headers=auth)
    if status != 200:
        raise RuntimeError(f"non-stream call through the gateway -> {status} {body[:500]!r}")
    doc = orjson.loads(body)
    want = orjson.loads(mock.json_body())
    if (
        doc.get("choices", [{}])[0].get("message", {}).get("content")
        != want["choices"][0]["message"]["content"]
        or doc.get("usage", {}).get("total_tokens") != want["usage"]["total_tokens"]
    ):
        warnings.append(f"non-stream answer differs from the mock's: {body[:300]!r}")

    status, headers, body = http("POST", gw.url(), mock.request_body(True), headers=auth)
    if status != 200:
        raise RuntimeError(f"stream call through the gateway -> {status} {body[:500]!r}")
    ctype = {k.lower(): v for k, v in headers.items()}.get("content-type", "")
    events = [e for e in body.split(b"\n\n") if e.strip()]
    datas = [e[len(b"data: ") :] for e in events if e.startswith(b"data: ")]
    content = usage = 0
    for d in datas:
        if d == b"[DONE]":
            continue
        chunk = orjson.loads(d)
        if chunk.get("choices"):
            content += 1
        if chunk.get("usage"):
            usage += 1
    if (
        not ctype.startswith("text/event-stream")
        or content != mock.STREAM_CONTENT_CHUNKS
        or usage != 1
        or not datas
        or datas[-1] != b"[DONE]"
    ):
        warnings.append(
            f"stream answer differs from the mock's: content-type {ctype!r}, "
            f"{content} content chunks, {usage} usage chunks, last {datas[-1:]!r}"
        )


def source_state() -> str:
    """The commit the gateway ran from, and whether src/ had uncommitted changes."""
    try:
        head = subprocess.run(
            ["git", "-C", str(REPO), "log", "-1", "--format=%h %s"],
            capture_output=True, text=True, check=False,
        ).stdout.strip()  # fmt: skip
        dirty = subprocess.run(
            ["git", "-C", str(REPO), "status", "--porcelain", "src"],
            capture_output=True, text=True, check=False,
        ).stdout.strip()  # fmt: skip
    except OSError:
        return "unknown"
    return f"{head}" + (" (with uncommitted changes in src/)" if dirty else "")


def db_row_counts(db: Path) -> dict[str, int]:
    counts: dict[str, int] = {}
    if not db.exists():
        return counts
    try:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
        try:
            names = [
                r[0]
                for r in con.execute(
                    "select name from sqlite_master where type='table' and name not like 'sqlite_%'"
                )
            ]
            for name in names:
                counts[name] = int(con.execute(f'select count(*) from "{name}"').fetchone()[0])
        finally:
            con.close()
    except sqlite3.Error as e:
        counts["<error>"] = -1
        print(f"could not read {db}: {e}", file=sys.stderr)
    return counts


# ---------------------------------------------------------------- soak


def soak(gw: Gateway, seconds: int, body_file: Path, children: Children) -> Soak:
    """c=16 non-stream for ``seconds``; RSS every 10 s."""
    idle_before = rss_mb(gw.pid)
    out = gw.work / "soak-wrk.txt"
    cpu0 = cpu_seconds(gw.pid)
    proc = children.start(wrk_argv(gw.url(), 16, seconds, body_file, gw.key), out)
    t0 = time.monotonic()
    samples: list[tuple[int, float]] = []
    try:
        while proc.poll() is None:
            time.sleep(max(0.0, 10 * (len(samples) + 1) - (time.monotonic() - t0)))
            if proc.poll() is not None:
                break
            gw.check_alive()
            samples.append((round(time.monotonic() - t0), rss_mb(gw.pid)))
            print(f"  soak t={samples[-1][0]:4d}s rss={samples[-1][1]:.1f} MB", flush=True)
            if time.monotonic() - t0 > seconds + 60:
                raise RuntimeError("wrk soak run overran")
        proc.wait()
    finally:
        children.stop(proc)
    cpu1 = cpu_seconds(gw.pid)
    res = parse_wrk(out.read_text(), WrkResult("gateway", gw.url(), 16, seconds))
    count_sent(res)
    time.sleep(2)
    return Soak(
        seconds=seconds,
        rps=res.rps,
        requests=res.requests,
        errors=res.errors,
        p50_ms=res.p50_ms,
        p99_ms=res.p99_ms,
        cpu_ms_per_call=(cpu1 - cpu0) * 1000 / res.requests if res.requests else float("nan"),
        idle_before_mb=idle_before,
        idle_after_mb=rss_mb(gw.pid),
        samples=samples,
    )


# ---------------------------------------------------------------- profile


def profile_run(
    gw: Gateway,
    scenario: str,
    duration: float,
    body_file: Path,
    children: Children,
    concurrency: int = 16,
) -> None:
    """A run with py-spy sampling the gateway (not part of the table: py-spy costs)."""
    RESULTS.mkdir(exist_ok=True)
    c = concurrency
    raw = RESULTS / f"profile-{scenario}-c{c}.raw"
    seconds = max(2, int(duration) - 2)
    out = gw.work / f"wrk-profile-{scenario}.txt"
    load = children.start(wrk_argv(gw.url(), c, duration, body_file, gw.key), out)
    time.sleep(1)
    spy = children.start(profile.record_argv(gw.pid, seconds, raw), gw.work / "py-spy.log")
    try:
        spy.wait(seconds + 30)
        load.wait(duration + 30)
    finally:
        children.stop(spy)
        children.stop(load)
    res = parse_wrk(out.read_text(), WrkResult("gateway+py-spy", gw.url(), c, duration))
    count_sent(res)
    summary = profile.summarise(raw) if raw.exists() else "py-spy wrote nothing\n"
    text = (
        f"# {scenario} c={c} through the gateway with py-spy attached: "
        f"{res.rps:.0f} RPS, p50 {res.p50_ms:.3f} ms, errors {res.errors}\n\n{summary}"
    )
    (RESULTS / f"profile-{scenario}-c{c}.txt").write_text(text)
    print(text[:3000], flush=True)


# ---------------------------------------------------------------- output


def f(x: float, digits: int = 2) -> str:
    return "–" if x != x else f"{x:,.{digits}f}"


def table(rep: Report) -> list[str]:
    lines = [
        "| scenario | c | direct RPS | direct p50 / p99 ms | gateway RPS | gateway p50 / p99 ms "
        "| added p50 ms | RPS ratio | gw CPU ms/call | errors | other load | core-0 speed ms |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---|---:|",
    ]
    for r in rep.rows:
        d, g = r.direct, r.gateway
        errs = []
        for res in (d, g):
            if res is not None and not res.ok:
                errs.append(f"{res.target}: {res.non2xx} non-2xx {res.socket_errors or ''}".strip())
        dp = f"{f(d.p50_ms, 3)} / {f(d.p99_ms, 3)}" if d else "–"
        gp = f"{f(g.p50_ms, 3)} / {f(g.p99_ms, 3)}" if g else "–"
        runs = r.gateway_rps_runs
        rng = f" ({f(min(runs), 0)}–{f(max(runs), 0)})" if len(runs) > 1 else ""
        lines.append(
            f"| {r.scenario} | {r.concurrency} "
            f"| {f(d.rps, 0) if d else '–'} | {dp} "
            f"| {f(g.rps, 0) if g else '–'}{rng} | {gp} "
            f"| {f(r.added_p50_ms, 3)} | {f(r.ratio, 3)} "
            f"| {f(g.cpu_ms_per_call, 3) if g else '–'} | {'; '.join(errs) or '0'} "
            f"| {' / '.join(f(x.other_load, 2) for x in (d, g) if x is not None)} "
            f"| {f(x.speed_ms, 0) if (x := g or d) else '–'} |"
        )
    return lines


def targets(rep: Report) -> list[str]:
    def row(scn: str, c: int) -> Row | None:
        return next((r for r in rep.rows if r.scenario == scn and r.concurrency == c), None)

    def verdict(ok: bool | None) -> str:
        return "not measured" if ok is None else ("**met**" if ok else "**NOT met**")

    out = ["| target | measured | verdict |", "|---|---|---|"]
    r = row("nonstream", 16)
    g = r.gateway if r else None
    out.append(
        f"| non-stream c=16 ≥ {TARGET_NONSTREAM_C16_RPS:,} RPS | {f(g.rps, 0) if g else '–'} "
        f"| {verdict(None if g is None else g.rps >= TARGET_NONSTREAM_C16_RPS and g.ok)} |"
    )
    r = row("nonstream", 1)
    a = r.added_p50_ms if r else float("nan")
    out.append(
        f"| added p50 at c=1 ≤ {TARGET_ADDED_P50_C1_MS} ms | {f(a, 3)} ms "
        f"| {verdict(None if a != a else a <= TARGET_ADDED_P50_C1_MS)} |"
    )
    r = row("stream", 16)
    g = r.gateway if r else None
    out.append(
        f"| stream c=16 ≥ {TARGET_STREAM_C16_RPS:,} RPS | {f(g.rps, 0) if g else '–'} "
        f"| {verdict(None if g is None else g.rps >= TARGET_STREAM_C16_RPS and g.ok)} |"
    )
    idle = rep.rss_idle_start_mb
    idle_ok = None if idle != idle else max(idle, rep.rss_idle_end_mb) <= TARGET_IDLE_RSS_MB
    out.append(
        f"| idle RSS ≤ {TARGET_IDLE_RSS_MB} MB | {f(idle, 1)} MB after start, "
        f"{f(rep.rss_idle_end_mb, 1)} MB at the end "
        f"| {verdict(idle_ok)} |"
    )
    s = rep.soak
    if s:
        out.append(
            f"| RSS flat ±{TARGET_RSS_FLAT:.0%} over a {s.seconds} s soak "
            f"| {f(min(s.values), 1)}–{f(max(s.values), 1)} MB, "
            f"max deviation from the first sample {s.max_dev:+.1%} "
            f"| {verdict(s.max_dev <= TARGET_RSS_FLAT)} |"
        )
    else:
        flat = f"RSS flat ±{TARGET_RSS_FLAT:.0%} over 5 min"
        out.append(f"| {flat} | (run with --soak 300) | not measured |")
    return out


def markdown(rep: Report) -> str:
    m = rep.machine
    lines = [
        f"# Relaygate benchmark ({rep.started})",
        "",
        f"Machine: {m['cpu']}, nproc {m['nproc']}, {m['ram']} RAM, kernel {m['kernel']}.",
        f"Gateway on core {SERVER_CORE}; nginx mock and wrk (-t1) share core {LOAD_CORE}. "
        f'{rep.duration:g} s per run. "other load": cores used by processes that are not '
        f"part of the benchmark during the direct / gateway run (≥ {NOISY} is flagged). "
        f'"core-0 speed": ms a fixed Python loop took on the gateway core around the gateway run '
        f"(lower is faster; this VM's cores slow down when the host is busy)."
        + (
            f" Each point run {rep.repeat} times; the median (by gateway RPS) is shown, with the "
            "range of gateway RPS in brackets."
            if rep.repeat > 1
            else ""
        ),
        f"Gateway: `{rep.gateway_cmd}`, source {rep.source}"
        if rep.gateway_cmd
        else "Gateway: not run (--direct-only).",
        "",
        *table(rep),
        "",
        f"Idle RSS of the gateway: {f(rep.rss_idle_start_mb, 1)} MB after start; "
        + ", ".join(
            f"{r.scenario} c={r.concurrency}: {f(r.rss_after_mb, 1)}"
            for r in rep.rows
            if r.rss_after_mb == r.rss_after_mb
        )
        + f"; {f(rep.rss_idle_end_mb, 1)} MB at the end.",
        "",
    ]
    if rep.soak:
        s = rep.soak
        lines += [
            f"Soak: c=16 non-stream for {s.seconds} s: {f(s.rps, 0)} RPS, {s.requests} requests, "
            f"{s.errors} errors, p50 {f(s.p50_ms, 3)} ms, p99 {f(s.p99_ms, 3)} ms, "
            f"CPU {f(s.cpu_ms_per_call, 3)} ms/call. RSS idle before {f(s.idle_before_mb, 1)} MB; "
            f"under load first {f(s.first_mb, 1)}, min {f(min(s.values), 1)}, "
            f"max {f(max(s.values), 1)}, last {f(s.last_mb, 1)} MB (drift {s.drift:+.1%}); "
            f"idle after {f(s.idle_after_mb, 1)} MB.",
            "",
            "RSS samples (s: MB): " + ", ".join(f"{t}: {v:.1f}" for t, v in s.samples),
            "",
        ]
    if rep.gateway_cmd:
        lines += ["Targets:", "", *targets(rep), ""]
    if rep.db_rows:
        lines += [
            "Rows in the gateway's database after the runs: "
            + ", ".join(f"{k} {v}" for k, v in sorted(rep.db_rows.items())),
            "",
        ]
    if rep.records_check:
        lines += [f"Usage records: {rep.records_check}.", ""]
    lines += rep.split
    if rep.warnings:
        lines += ["Warnings:", "", *(f"- {w}" for w in rep.warnings), ""]
    return "\n".join(lines)


def print_row(r: Row) -> None:
    parts = [f"{r.scenario:9} c={r.concurrency:<3}"]
    for res in (r.direct, r.gateway):
        if res is None:
            continue
        flag = "" if res.ok else f" [ERRORS: {res.non2xx} non-2xx {res.socket_errors}]"
        parts.append(
            f"{res.target}: {res.rps:8.0f} rps p50 {f(res.p50_ms, 3)} p99 {f(res.p99_ms, 3)} ms"
            f" other {f(res.other_load, 2)}{flag}"
        )
    if r.gateway is not None:
        parts.append(
            f"cpu {f(r.gateway.cpu_ms_per_call, 3)} ms/call rss {f(r.rss_after_mb, 1)} MB "
            f"ratio {f(r.ratio, 3)} added p50 {f(r.added_p50_ms, 3)} ms"
        )
    print("  ".join(parts), flush=True)


# ---------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    ap.add_argument("--duration", type=float, default=12, help="seconds per run (default 12)")
    ap.add_argument("--scenarios", default="nonstream,stream",
                    help="nonstream,stream,weighted or none")  # fmt: skip
    ap.add_argument("--concurrency", default="1,16,64")
    ap.add_argument("--quick", action="store_true", help="3 s runs (a smoke test, not a result)")
    ap.add_argument("--soak", type=int, default=0, metavar="SECONDS",
                    help="then c=16 non-stream for SECONDS, RSS every 10 s")  # fmt: skip
    ap.add_argument("--profile-concurrency", type=int, default=16,
                    help="the concurrency of the --profile run (default 16)")  # fmt: skip
    ap.add_argument("--profile", action="store_true",
                    help="afterwards, one extra c=16 run per scenario with py-spy attached "
                    "(bench/results/profile-*.txt)")  # fmt: skip
    ap.add_argument("--direct-only", action="store_true", help="only the mock, no gateway")
    ap.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="run each point N times and report the median (by gateway RPS)",
    )
    ap.add_argument("--keep", action="store_true", help="keep the temp dir (logs, db, configs)")
    ap.add_argument(
        "--quiet-wait",
        type=float,
        default=90,
        metavar="SECONDS",
        help="before each run, wait up to this long for other processes to go quiet",
    )
    ap.add_argument("--retries", type=int, default=2,
                    help="rerun a run that other processes disturbed (default 2)")  # fmt: skip
    args = ap.parse_args(argv)

    if args.quick:
        args.duration = 3
    scenarios = [] if args.scenarios in ("", "none") else args.scenarios.split(",")
    for s in scenarios:
        if s not in SCENARIOS:
            ap.error(f"unknown scenario {s!r}")
    conc = [int(c) for c in args.concurrency.split(",")]
    if args.soak and args.direct_only:
        ap.error("--soak needs the gateway")
    for tool in ("wrk", "nginx", "taskset"):
        if not (shutil.which(tool) or Path(f"/usr/sbin/{tool}").exists()):
            print(f"bench needs {tool} on PATH", file=sys.stderr)
            return 2
    if (os.cpu_count() or 1) < 2:
        print("warning: one CPU only; gateway and load generator share it", file=sys.stderr)

    rep = Report(
        started=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        machine=machine_info(),
        duration=args.duration,
        repeat=args.repeat,
    )
    work = Path(tempfile.mkdtemp(prefix="relaygate-bench-"))
    children = Children()
    gw: Gateway | None = None
    failed = False
    try:
        with signals_as_interrupt():
            split = weighted.Split(work) if weighted.NAME in scenarios else None
            ports = split.ports if split else ()
            mock_port, nginx = mock.start_nginx(children, work, counted_ports=ports)
            own = [nginx.pid]
            print(f"mock upstream: nginx on 127.0.0.1:{mock_port} (core {LOAD_CORE})", flush=True)
            bodies = {}
            for name, stream in SCENARIOS.items():
                bodies[name] = work / f"body-{name}.json"
                body = weighted.request_body() if name == weighted.NAME else None
                bodies[name].write_bytes(body or mock.request_body(stream))
            if not args.direct_only:
                gw = Gateway(children, work, mock_port, split.toml() if split else "")
                rep.gateway_cmd = " ".join(
                    a if not a.startswith(str(work)) else "<tmp>" + a[len(str(work)) :]
                    for a in gw.argv
                )
                rep.source = source_state()
                gw.start()
                own.append(gw.pid)
                print(f"gateway: pid {gw.pid} on {gw.base} (core {SERVER_CORE})", flush=True)
                check_answers(gw, rep.warnings)
                for w in rep.warnings:
                    print(f"WARNING: {w}", file=sys.stderr)
                time.sleep(1)
                rep.rss_idle_start_mb = rss_mb(gw.pid)
                print(f"gateway idle RSS {rep.rss_idle_start_mb:.1f} MB", flush=True)

            for name in scenarios:
                direct_url = (
                    f"http://127.0.0.1:{mock_port}/"
                    f"{'stream' if SCENARIOS[name] else 'json'}/v1/chat/completions"
                )
                if gw is not None:  # warm-up: connection pools, caches, first-call paths
                    run_wrk("warmup", gw.url(), 16, 2, bodies[name], gw.key)
                for c in conc:
                    counted = split.counts() if split and gw and name == weighted.NAME else None
                    pairs: list[tuple[WrkResult, WrkResult | None]] = []
                    for _ in range(args.repeat):
                        direct = measured(
                            own, args.quiet_wait, args.retries, rep.warnings,
                            "direct", direct_url, c, args.duration, bodies[name],
                        )  # fmt: skip
                        gres = None
                        if gw is not None:
                            gres = measured(
                                own, args.quiet_wait, args.retries, rep.warnings,
                                "gateway", gw.url(), c, args.duration, bodies[name], gw.key,
                                cpu_pid=gw.pid,
                            )  # fmt: skip
                            gw.check_alive()
                        pairs.append((direct, gres))
                    # the median repeat, by gateway RPS (by direct RPS without a gateway)
                    pairs.sort(key=lambda p: (p[1] or p[0]).rps)
                    direct, gres = pairs[len(pairs) // 2]
                    rss = rss_mb(gw.pid) if gw is not None else float("nan")
                    row = Row(name, c, direct, gres, rss, [g.rps for _, g in pairs if g])
                    rep.rows.append(row)
                    print_row(row)
                    if split and counted is not None:
                        split.record(c, counted, rep.warnings)
                    for res in (direct, gres):
                        if res is not None and not res.ok:
                            rep.warnings.append(
                                f"{name} c={c} {res.target}: {res.errors} errors "
                                f"({res.non2xx} non-2xx, socket {res.socket_errors})"
                            )

            if gw is not None and args.profile:
                for name in scenarios:
                    profile_run(
                        gw, name, args.duration, bodies[name], children, args.profile_concurrency
                    )
            if gw is not None and args.soak:
                print(f"soak: c=16 non-stream for {args.soak} s", flush=True)
                rep.soak = soak(gw, args.soak, bodies["nonstream"], children)
            if gw is not None:
                time.sleep(2)
                rep.rss_idle_end_mb = rss_mb(gw.pid)
                rep.db_rows = db_row_counts(gw.db)
                rep.split = split.markdown(gw.db, rep.warnings) if split else []
                done, conns = SENT.get(gw.url(), [0, 0])
                done += 2  # check_answers
                rec = rep.db_rows.get("usage_records")
                rep.records_check = (
                    f"{done:,} calls completed through the gateway (wrk's count, with warm-ups); "
                    f"usage_records holds {rec if rec is not None else 'no table'}"
                )
                if rec is not None:
                    extra = rec - done
                    rep.records_check += (
                        f" ({extra:+,}; calls cut off when a wrk run stops may add up to {conns:,})"
                    )
                    if not 0 <= extra <= conns:
                        rep.warnings.append(
                            f"usage records do not match the calls: {rep.records_check}"
                        )
    except KeyboardInterrupt:
        print("interrupted; cleaning up", file=sys.stderr)
        failed = True
        return 130
    except Exception as e:
        failed = True
        print(f"bench failed: {e}", file=sys.stderr)
        if gw is not None:
            print(f"--- gateway log tail ({gw.log}) ---\n{gw.log_tail()}", file=sys.stderr)
        raise
    finally:
        children.close()
        if failed or args.keep:
            print(f"temp dir kept: {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)
        if rep.rows or rep.soak:
            RESULTS.mkdir(exist_ok=True)
            md = markdown(rep)
            (RESULTS / "latest.md").write_text(md)
            doc = asdict(rep)
            doc["rows"] = [
                {**asdict(r), "added_p50_ms": r.added_p50_ms, "ratio": r.ratio} for r in rep.rows
            ]
            for row in doc["rows"]:
                for k in ("direct", "gateway"):
                    if row[k]:
                        row[k].pop("raw", None)
            (RESULTS / "latest.json").write_text(json.dumps(doc, indent=1, default=str))
            print()
            print(md)
            print(f"wrote {RESULTS / 'latest.md'}")
    return 1 if rep.warnings else 0


if __name__ == "__main__":
    os.chdir(REPO)
    raise SystemExit(main())
