"""The operator's usage listing over a large SQLite database: how long a page takes.

Loads ``--rows`` usage records (default one million: 2,000 users, three keys each, seven
models, 2 % failed calls, one a second) into a fresh migrated SQLite file, then times
pages through the service the route calls (``UsageService.page``: the query and the row
objects, not HTTP): the first page, a page deep in a walk, and each filter. Prints the
median of ``--repeat`` runs per case. Results: docs/benchmarks.md#usage-listing.

    python -m bench.usage_listing [--rows 1000000] [--limit 100] [--repeat 7] [--keep FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import text

from relaygate.billing.schemas import UsageQuery
from relaygate.billing.service import UsageService
from relaygate.core.pagination import Position
from relaygate.db.engine import Database
from relaygate.db.migrate import upgrade

USERS = 2_000
START = datetime(2026, 1, 1, tzinfo=UTC)

_LOAD = """
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < :rows)
INSERT INTO usage_records (request_id, created_at, user_id, key_id, model, upstream_model,
    endpoint, status, stream, prompt_tokens, completion_tokens, cached_tokens,
    reasoning_tokens, usage_estimated, rurt_ms, duration_ms, client_ip, amount)
SELECT 'req_' || i, strftime('%Y-%m-%d %H:%M:%f', '2026-01-01', '+' || i || ' seconds'),
    i % :users, i % (:users * 3), 'model-' || (i % 7), 'upstream', 'chat/completions',
    CASE WHEN i % 50 = 0 THEN 500 ELSE 200 END, 0, 1000, 500, 0, 0, 0, 3, 900,
    '127.0.0.1', 3000
FROM n
"""
_KEYS = """
WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < :users * 3 - 1)
INSERT INTO api_keys (id, user_id, key_hash, hint, remark, is_disabled, is_admin, max_fee,
    used_fee, used_times, created_at)
SELECT i + 1, (i + 1) % :users, 'hash-' || i, 'sk-…', '', 0, 0, 0, 0, 0, '2026-01-01'
FROM n
"""
_USERS = """
WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < :users - 1)
INSERT INTO users (id, email, name, is_operator, is_disabled, created_at)
SELECT i, 'u' || i || '@example.test', '', 0, 0, '2026-01-01' FROM n
"""


async def _load(db: Database, rows: int) -> float:
    started = time.perf_counter()
    async with db.engine.begin() as conn:
        await conn.execute(text(_USERS), {"users": USERS})
        await conn.execute(text(_KEYS), {"users": USERS})
        await conn.execute(text(_LOAD), {"rows": rows, "users": USERS})
        await conn.execute(text("ANALYZE"))
    return time.perf_counter() - started


def _cases(rows: int, limit: int) -> list[tuple[str, UsageQuery]]:
    middle = START + timedelta(seconds=rows // 2)
    deep = Position(middle, rows // 2)
    since, until = middle - timedelta(hours=6), middle
    first = UsageQuery(limit=limit)
    return [
        ("first page", first),
        ("a page halfway through the walk", replace(first, after=deep)),
        ("offset 10000 (deprecated)", replace(first, offset=10_000)),
        ("a six-hour window", replace(first, since=since, until=until)),
        ("a user", replace(first, user_id=17)),
        ("a user, halfway", replace(first, user_id=17, after=deep)),
        ("a key (through its user)", replace(first, key_id=18)),
        ("5xx", replace(first, status_class=5)),
        ("5xx, halfway", replace(first, status_class=5, after=deep)),
        ("a model in a six-hour window", replace(first, model="model-3", since=since, until=until)),
        ("status 200", replace(first, status=200)),
    ]


async def _time(svc: UsageService, query: UsageQuery, repeat: int) -> tuple[float, int]:
    times = []
    found = 0
    for _ in range(repeat):
        started = time.perf_counter()
        page = await svc.page(query)
        times.append(time.perf_counter() - started)
        found = len(page.records)
    return statistics.median(times), found


async def main(rows: int, limit: int, repeat: int, keep: Path | None) -> None:
    folder = tempfile.TemporaryDirectory(prefix="relaygate-bench-")
    path = keep or Path(folder.name) / "usage.db"
    url = f"sqlite:///{path}"
    await asyncio.to_thread(upgrade, url)
    db = Database(url)
    try:
        loaded = await _load(db, rows)
        size = path.stat().st_size / 2**20
        print(f"{rows:,} usage records loaded in {loaded:.1f} s ({size:.0f} MB)")
        svc = UsageService(db)
        print(f"{'case':<34} {'median ms':>10} {'rows':>6}")
        for name, query in _cases(rows, limit):
            seconds, found = await _time(svc, query, repeat)
            print(f"{name:<34} {seconds * 1000:>10.2f} {found:>6}")
    finally:
        await db.dispose()
        folder.cleanup()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--limit", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--keep", type=Path, default=None, help="the SQLite file to write")
    args = parser.parse_args()
    asyncio.run(main(args.rows, args.limit, args.repeat, args.keep))
