"""Time every read model of the console over a seeded database (bench/console_seed.py).

Each case runs ``--repeat`` times after a warm-up, through the read model a page calls
(the query, the row objects and the dataclasses; not HTTP, not the template), for the
heavy user (10 % of all calls), a light one and the operator. Prints p50 and p95 in
milliseconds. Results: docs/benchmarks.md ("Console read models at 1M records").

    python -m bench.console_queries [--url sqlite:///bench/results/console.db] [--repeat 50]
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import statistics
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from relaygate.accounts.audit import AuditTrail
from relaygate.billing.bills_export import bill_csv
from relaygate.billing.bills_view import BillFilters, BillsView
from relaygate.billing.catalogue import Catalogue, CatalogueService
from relaygate.billing.charge_explain import explain
from relaygate.billing.console_reads import ConsoleReads, console_reads
from relaygate.billing.tier_rules import FixedTiers
from relaygate.db.engine import Database

HEAVY, LIGHT = 1, 150


@dataclass(frozen=True)
class _Channel:
    id: int
    name: str


class _Breakers:
    def state(self, channel_id: int) -> dict[str, Any]:
        return {"state": "open" if channel_id == 3 else "closed", "consecutive_failures": 0}


def _cases(
    reads: ConsoleReads, bills: BillsView, audit: AuditTrail, catalogue: Catalogue
) -> dict[str, Callable[[], Awaitable[Any]]]:
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    channels = [_Channel(i, f"channel-{i}") for i in range(1, 7)]
    state: dict[str, Any] = {}

    async def deep_page() -> Any:
        return await bills.page(HEAVY, limit=50, after=state["deep"])

    async def explain_line() -> Any:
        row = await bills.record(HEAVY, state["line"])
        return explain(row, catalogue.rated(row.model).price)

    async def export_day() -> Any:
        filters = BillFilters(since=today - timedelta(days=1), until=today, model=state["model"])
        return [chunk async for chunk in bill_csv(bills, HEAVY, filters)]

    async def draws() -> Any:
        return await reads.packages.draws(state["package_user"], state["package"], limit=50)

    async def prepare() -> None:
        walk = await bills.page(HEAVY, limit=500)
        for _ in range(20):  # 10,000 rows deep
            walk = await bills.page(HEAVY, limit=500, after=walk.next)
        state["deep"] = walk.next
        state["line"] = walk.rows[0].id
        state["model"] = walk.rows[0].model
        lines = await reads.packages.packages(HEAVY)
        state["package_user"], state["package"] = HEAVY, lines[0].id

    return {
        "_prepare": prepare,
        "dashboard (heavy user)": lambda: reads.dashboard.for_user(HEAVY),
        "dashboard (light user)": lambda: reads.dashboard.for_user(LIGHT),
        "bills: first page (50)": lambda: bills.page(HEAVY, limit=50),
        "bills: page 10,000 rows deep": deep_page,
        "bills: model filter": lambda: bills.page(HEAVY, BillFilters(model=state["model"])),
        "bills: 5xx filter": lambda: bills.page(HEAVY, BillFilters(status_class=5)),
        "bills: route group filter": lambda: bills.page(HEAVY, BillFilters(route_group="cc-omg")),
        "bills: last 24 h": lambda: bills.page(HEAVY, BillFilters(since=today)),
        "charge explanation": explain_line,
        "CSV export: one day, one model": export_day,
        "packages: list": lambda: reads.packages.packages(HEAVY),
        "packages: draws page": draws,
        "invites": lambda: reads.invites.invitees(HEAVY),
        "prices: for user": lambda: reads.prices.for_user(HEAVY),
        "prices: predict": lambda: reads.prices.predict(HEAVY, "model-01", 1200, 300),
        "overview (operator)": lambda: reads.overview.overview(),
        "channels in trouble": lambda: reads.overview.channels_in_trouble(channels, _Breakers()),
        "users: search by email": lambda: reads.users.search("user1"),
        "users: ledger page (heavy)": lambda: reads.users.ledger(HEAVY),
        "audit: all, first page": lambda: audit.list_all(),
        "audit: one user": lambda: audit.list_for(HEAVY + 1),
    }


async def _time(work: Callable[[], Awaitable[Any]], repeat: int) -> tuple[float, float]:
    await work()  # warm: statement caches, the page cache
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        await work()
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    return statistics.median(samples), samples[max(0, int(len(samples) * 0.95) - 1)]


async def _main(url: str, repeat: int) -> None:
    db = Database(url)
    catalogue = Catalogue({"cc-omg": Decimal("0.2"), "codex-omg": Decimal("0.2")}, Decimal("0.5"))
    await CatalogueService(db, catalogue).publish()
    reads = console_reads(db, catalogue, FixedTiers())
    cases = _cases(reads, reads.bills, AuditTrail(db), catalogue)
    await cases.pop("_prepare")()
    print(f"{platform.machine()}, Python {platform.python_version()}, {url.split(':')[0]}")
    print(f"{'read model':40} {'p50 ms':>8} {'p95 ms':>8}")
    for name, work in cases.items():
        p50, p95 = await _time(work, repeat)
        print(f"{name:40} {p50:8.2f} {p95:8.2f}")
    await db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default="sqlite:///bench/results/console.db")
    parser.add_argument("--repeat", type=int, default=50)
    args = parser.parse_args()
    asyncio.run(_main(args.url, args.repeat))


if __name__ == "__main__":
    main()
