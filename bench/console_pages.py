"""Time the console's pages over HTTP on a seeded database (bench/console_seed.py).

A real gateway (``relaygate serve``, its own process, on core 0) over the million-record
database; browser sessions are opened through the sessions service directly (no mail, no
sign-in pages) for the heavy user (10 % of every call, and the seed's operator) and a
light one; each page of :data:`PAGES` is fetched ``--repeat`` times after a warm-up with
httpx (keep-alive, one request at a time, on core 1), and its p50 and p95 printed in
milliseconds: the whole server time of the page (routing, session, queries, template)
plus loopback HTTP. Target: 50 ms p95. Results: docs/benchmarks.md ("Console pages at
1M records").

    python -m bench.console_seed                     # once: bench/results/console.db
    python -m bench.console_pages [--file bench/results/console.db] [--repeat 50]

A page added to the console gets a line in :data:`PAGES`; ``{name}`` in a path is filled
from what the earlier pages showed (see :func:`_discover`).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import re
import statistics
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from bench.common import LOAD_CORE, SERVER_CORE, Children, cpu_seconds, free_port, wait_port
from relaygate.accounts.sessions import COOKIE, BrowserSessions, SessionClient
from relaygate.db.engine import Database

HEAVY, LIGHT = 1, 150  # the seed's heavy user (also its operator) and a light one


@dataclass(frozen=True)
class Page:
    name: str
    path: str  # "{name}" placeholders are filled by _discover
    user: int = HEAVY


PAGES: tuple[Page, ...] = (
    Page("dashboard", "/console/"),
    Page("dashboard, a light user", "/console/", LIGHT),
    Page("bills: first page (50 lines)", "/console/bills"),
    Page("bills: page 2 (cursor)", "/console/bills?cursor={cursor}"),
    Page("bills: newer page (before)", "/console/bills?before={before}"),
    Page("bills: one model", "/console/bills?model={model}"),
    Page("bills: 5xx", "/console/bills?status=5xx"),
    Page("bills: a route group", "/console/bills?group=cc-omg"),
    Page("bills: one key", "/console/bills?key={key}"),
    Page("bills: yesterday", "/console/bills?since={yesterday}&until={yesterday}"),
    Page("bill line (charge explanation)", "/console/bills/{line}"),
    Page("bills CSV: one day, one model",
         "/console/bills.csv?since={yesterday}&until={yesterday}&model={model}"),
    Page("packages", "/console/packages"),
    Page("package: its calls (50)", "/console/packages/{package}"),
    Page("account", "/console/account"),
    # a page this build does not serve (404) is reported and skipped
    Page("keys", "/console/keys"),
    Page("a key", "/console/keys/{key}"),
    Page("rules", "/console/rules"),
    Page("a new rule (editor and dry run)", "/console/rules/new"),
    Page("files", "/console/files"),
    Page("operator: overview", "/console/admin/"),
    Page("operator: users", "/console/admin/users"),
    Page("operator: the heavy user", "/console/admin/users/1"),
    Page("operator: users, search", "/console/admin/users?q=user150"),
    Page("invite", "/console/invite"),
    Page("prices", "/console/prices"),
    Page("playground", "/console/playground"),
    Page("billing", "/console/billing"),
    Page("invoices", "/console/invoices"),
    Page("apps", "/console/apps"),
    Page("operator: channels", "/console/admin/channels"),
    Page("operator: models and prices", "/console/admin/models"),
    Page("operator: package types", "/console/admin/packages"),
    Page("operator: tiers and referrals", "/console/admin/tiers"),
    Page("operator: orders", "/console/admin/orders"),
    Page("operator: invoices", "/console/admin/invoices"),
    Page("operator: codes", "/console/admin/codes"),
    Page("operator: settings", "/console/admin/settings"),
)  # fmt: skip


def _first(pattern: str, html: str, what: str) -> str:
    found = re.search(pattern, html)
    if found is None:
        raise RuntimeError(f"cannot find {what} on the page")
    return found.group(1).replace("&amp;", "&")


def _discover(client: httpx.Client) -> dict[str, str]:
    """The values the page paths need, read from the pages themselves."""
    bills = client.get("/console/bills").text
    cursor = _first(r'href="/console/bills\?cursor=([^"&]+)"', bills, "the next-page link")
    second = client.get(f"/console/bills?cursor={cursor}").text
    yesterday = (datetime.now(UTC) - timedelta(days=1)).date().isoformat()
    packages = client.get("/console/packages").text
    return {
        "cursor": cursor,
        "before": _first(r'href="/console/bills\?before=([^"&]+)"', second, "the newer link"),
        "line": _first(r'href="/console/bills/(\d+)', bills, "a bill line"),
        "model": _first(r'<td class="model">([^<]+)<', bills, "a model"),
        "key": _first(r'<option value="(\d+)"', bills, "a key"),
        "package": _first(r'href="/console/packages/(\d+)"', packages, "a package"),
        "yesterday": yesterday,
    }


async def _sessions(url: str) -> dict[int, str]:
    db = Database(url)
    try:
        sessions = BrowserSessions(db, timedelta(days=1), timedelta(days=1))
        client = SessionClient("bench/console_pages", "127.0.0.1")
        return {user: (await sessions.create(user, client)).token for user in (HEAVY, LIGHT)}
    finally:
        await db.dispose()


def _time(client: httpx.Client, path: str, repeat: int, server: int) -> tuple[list[float], float]:
    """Each request's wall time (ms), and the server's CPU time per request (ms): the
    wall time waits for whatever else the machine runs, the CPU time much less so."""
    for _ in range(3):  # warm-up: templates compiled, caches filled
        if client.get(path).status_code == 404:
            return [], 0.0
    cpu = cpu_seconds(server)
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        response = client.get(path)
        times.append((time.perf_counter() - started) * 1000)
        if response.status_code != 200:
            raise RuntimeError(f"GET {path}: {response.status_code} {response.text[:300]}")
    return times, (cpu_seconds(server) - cpu) * 1000 / repeat


def _p95(times: list[float]) -> float:
    return statistics.quantiles(times, n=20, method="inclusive")[-1]


def _serve(children: Children, db: Path, port: int, log: Path) -> int:
    env = dict(os.environ, RELAYGATE_DATABASE_URL=f"sqlite:///{db}")
    relaygate = Path(sys.executable).with_name("relaygate")
    argv = ["taskset", "-c", SERVER_CORE, str(relaygate), "serve", "--port", str(port)]
    proc = children.start(argv, log, env=env)
    wait_port(port, 60, proc)
    return proc.pid


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--file", type=Path, default=Path("bench/results/console.db"))
    parser.add_argument("--repeat", type=int, default=50)
    args = parser.parse_args()
    db = args.file.resolve()
    if not db.is_file():
        raise SystemExit(f"{db}: run `python -m bench.console_seed` first")
    os.sched_setaffinity(0, {int(LOAD_CORE)})
    tokens = asyncio.run(_sessions(f"sqlite:///{db}"))
    children, port = Children(), free_port()
    try:
        server = _serve(children, db, port, db.with_name("console_pages.log"))
        base = f"http://127.0.0.1:{port}"
        clients = {
            user: httpx.Client(base_url=base, cookies={COOKIE: token}, timeout=60)
            for user, token in tokens.items()
        }
        values = _discover(clients[HEAVY])
        when = f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC"
        print(f"{platform.node()} {platform.machine()} nproc {os.cpu_count()}, {when}")
        print(f"load average {os.getloadavg()[0]:.1f}")
        print("| page (heavy user unless said) | p50 ms | p95 ms | server CPU ms/request |")
        print("|---|---|---|---|")
        for page in PAGES:
            path = page.path.format(**values)
            times, cpu = _time(clients[page.user], path, args.repeat, server)
            if not times:
                print(f"| {page.name} | not on this build | | |")
                continue
            median, p95 = statistics.median(times), _p95(times)
            print(f"| {page.name} | {median:.1f} | {p95:.1f} | {cpu:.1f} |")
    finally:
        children.close()


if __name__ == "__main__":
    main()
