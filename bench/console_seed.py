"""Seed a database for the console's read models: a million usage records and what goes
with them (users, wallets, keys, prices, the ledger, packages, referrals, the daily
roll-up, audit lines).

200 users with a skewed share of the traffic (one heavy user with 10 %, a Zipf-like tail
for the rest), 40 models (each user calls 3 to 8 of them), 90 days up to now, 2 % of
calls failed, a fifth through a route group, 5 % partly paid by a package. Charges are
ledger entries, as the bill writer makes them; the roll-up is summed by the bill
writer's own code (``billing.rollup.daily_rows``). Bulk inserts: ``executemany`` on one
SQLite transaction, or PostgreSQL's COPY.

    python -m bench.console_seed [--rows 1000000] [--file bench/results/console.db]
    python -m bench.console_seed --postgres postgresql://postgres@127.0.0.1:5432/test

Prints the database URL for ``python -m bench.console_queries``.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sqlite3
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from operator import attrgetter
from pathlib import Path
from typing import Any

from relaygate.billing.rollup import daily_rows
from relaygate.billing.usage_row import USAGE_COLUMNS, UsageRow
from relaygate.db.migrate import upgrade

USERS = 200
MODELS = 40
DAYS = 90
CHUNK = 50_000
HEAVY_SHARE = 0.10
_VALUES = attrgetter(*USAGE_COLUMNS)
_ROUTES = ("", "", "", "", "cc-omg")
_STATUSES = (200,) * 98 + (429, 502)


def _user_weights(rng: random.Random) -> list[float]:
    rest = [1.0 / (rank + 1) ** 0.8 for rank in range(USERS - 1)]
    total = sum(rest)
    return [HEAVY_SHARE] + [(1 - HEAVY_SHARE) * w / total for w in rest]


def _models_of(rng: random.Random) -> dict[int, list[str]]:
    return {
        uid: rng.sample([f"model-{m:02d}" for m in range(MODELS)], rng.randint(3, 8))
        for uid in range(1, USERS + 1)
    }


def usage_rows(rows: int, now: datetime, seed: int = 7) -> Iterator[list[UsageRow]]:
    """Chunks of usage rows, spread over the last ``DAYS`` days (not in time order)."""
    rng = random.Random(seed)
    weights = _user_weights(rng)
    models = _models_of(rng)
    users = list(range(1, USERS + 1))
    span = DAYS * 86_400
    done = 0
    while done < rows:
        size = min(CHUNK, rows - done)
        owners = rng.choices(users, weights, k=size)
        chunk = []
        for n, uid in enumerate(owners, start=done):
            chunk.append(
                _row(rng, n, uid, models[uid], now - timedelta(seconds=rng.random() * span))
            )
        done += size
        yield chunk


def _row(rng: random.Random, n: int, uid: int, models: list[str], at: datetime) -> UsageRow:
    status = rng.choice(_STATUSES)
    ok = status == 200
    prompt = rng.randint(50, 20_000) if ok else 0
    completion = rng.randint(10, 4_000) if ok else 0
    official = (prompt * 3 + completion * 15) // 1 if ok else 0
    package = official // 2 if ok and rng.random() < 0.05 else 0
    route = rng.choice(_ROUTES)
    multiplier = "0.2" if route else "1"
    amount = (official - package) // 5 if route else official - package
    return UsageRow(
        request_id=f"seed-{n}", created_at=at, user_id=uid, key_id=uid * 3 - rng.randint(0, 2),
        model=rng.choice(models), upstream_model="upstream", channel_id=rng.randint(1, 6),
        endpoint="chat/completions", status=status, stream=rng.random() < 0.6,
        prompt_tokens=prompt, completion_tokens=completion, cached_tokens=prompt // 4,
        reasoning_tokens=0, usage_estimated=False, rurt_ms=rng.randint(1, 80),
        ttfb_ms=rng.randint(100, 900), duration_ms=rng.randint(300, 30_000), client_ip="10.0.0.1",
        error=None if ok else "upstream error", official_cost=official, amount=amount,
        free_amount=0, multiplier=multiplier, package_amount=package, attempts=1, images=0,
        characters=0, audio_ms=0, route_group=route, model_multiplier="1",
        route_multiplier=multiplier, tier_multiplier="1", group_multiplier="1",
    )  # fmt: skip


def side_tables(now: datetime) -> dict[str, tuple[tuple[str, ...], list[tuple[Any, ...]]]]:
    """Users, wallets, keys, prices, packages, referrals and audit lines."""
    rng = random.Random(11)
    joined = now - timedelta(days=120)
    users = [(u, f"user{u:03d}@example.test", f"User {u}", u == 1, False, "", joined)
             for u in range(1, USERS + 1)]  # fmt: skip
    wallets = [(u, 50_000_000, 1_000_000, 100_000_000, now - timedelta(days=100))
               for u in range(1, USERS + 1)]  # fmt: skip
    keys = [(u * 3 - k, u, f"{u:03d}{k}".ljust(64, "0"), f"sk-...{k}", f"key {k}", False, False,
             0, 0, 0, now - timedelta(days=90))
            for u in range(1, USERS + 1) for k in range(3)]  # fmt: skip
    prices = [(f"model-{m:02d}", 3_000_000, 15_000_000, 0, 0, 0, 0, "1", False, False, "api", now)
              for m in range(MODELS)]  # fmt: skip
    packages = [(p, 1 + p % USERS, "Starter", 20_000_000, rng.randint(0, 20_000_000), "[]", "[]",
                 "operator", now + timedelta(days=rng.randint(-10, 30)), now - timedelta(days=20))
                for p in range(1, 401)]  # fmt: skip
    referrals = [(r, 1, 1 + r, now - timedelta(days=r), True) for r in range(1, 41)]
    audit = [(a, now - timedelta(minutes=a), 1, 1 + a % USERS, "balance.topup", '{"amount": 1}')
             for a in range(1, 20_001)]  # fmt: skip
    return {
        "users": (("id", "email", "name", "is_operator", "is_disabled", '"group"',
                   "created_at"), users),
        "wallets": (("user_id", "balance", "free_balance", "topped_up_total",
                     "first_topup_at"), wallets),
        "api_keys": (("id", "user_id", "key_hash", "hint", "remark", "is_disabled", "is_admin",
                      "max_fee", "used_fee", "used_times", "created_at"), keys),
        "model_prices": (("model", "input", "output", "per_call", "per_image", "per_character",
                          "per_second", "multiplier", "flex", "vip_only", "source", "updated_at"),
                         prices),
        "packages": (("id", "user_id", "name", "amount", "remaining", "scope_routes",
                      "scope_models",
                      "source", "expires_at", "created_at"), packages),
        "referrals": (("id", "inviter_id", "invitee_id", "created_at", "rewarded"), referrals),
        "audit_log": (("id", "at", "actor_id", "subject_user_id", "action", "detail"), audit),
    }  # fmt: skip


def ledger_rows(chunk: list[UsageRow]) -> list[tuple[Any, ...]]:
    """The bill writer's entries for a chunk: a charge per charged call, a package use."""
    out: list[tuple[Any, ...]] = []
    for row in chunk:
        if row.amount:
            out.append(
                (row.user_id, "charge", -row.amount, 0, None, 0, row.request_id, "", row.created_at)
            )
        if row.package_amount:
            package = 1 + (row.user_id or 1) % 400
            out.append((row.user_id, "package_use", 0, 0, package, -row.package_amount,
                        row.request_id, "", row.created_at))  # fmt: skip
    return out


LEDGER = ("user_id", "kind", "amount", "free_amount", "package_id", "package_amount",
          "request_id", "memo", "created_at")  # fmt: skip
DAILY = ("level", "user_id", "day", "model", "calls", "failed", "prompt_tokens",
         "completion_tokens", "amount", "official_cost", "package_amount",
         "free_amount")  # fmt: skip


def _topups(now: datetime) -> list[tuple[Any, ...]]:
    rng = random.Random(3)
    return [
        (rng.randint(1, USERS), "topup", 20_000_000, 0, None, 0, None, "seed",
         now - timedelta(seconds=rng.random() * DAYS * 86_400))
        for _ in range(3_000)
    ]  # fmt: skip


def _merge(into: dict[tuple[Any, ...], list[int]], rows: list[tuple[Any, ...]]) -> None:
    for row in rows:
        key, sums = row[:4], row[4:]
        found = into.setdefault(key, [0] * len(sums))
        for i, value in enumerate(sums):
            found[i] += int(value)


def _sqlite_time(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(" ", "microseconds")[:26]


def _sqlite_value(value: Any) -> Any:
    return _sqlite_time(value) if isinstance(value, datetime) else value


def seed_sqlite(path: Path, rows: int) -> None:
    url = f"sqlite:///{path}"
    upgrade(url)
    now = datetime.now(UTC)
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=OFF")
    conn.execute("BEGIN")

    def insert(table: str, columns: tuple[str, ...], values: list[tuple[Any, ...]]) -> None:
        marks = ", ".join("?" for _ in columns)
        sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})"
        conn.executemany(sql, ([_sqlite_value(v) for v in row] for row in values))

    for table, (columns, values) in side_tables(now).items():
        insert(table, columns, values)
    daily: dict[tuple[Any, ...], list[int]] = {}
    for chunk in usage_rows(rows, now):
        insert("usage_records", USAGE_COLUMNS, [_VALUES(r) for r in chunk])
        insert("ledger_entries", LEDGER, ledger_rows(chunk))
        _merge(daily, daily_rows(chunk))
    insert("ledger_entries", LEDGER, _topups(now))
    insert("usage_daily", DAILY, [(*k, *v) for k, v in daily.items()])
    conn.execute("COMMIT")
    conn.execute("ANALYZE")
    conn.close()


async def seed_postgres(url: str, rows: int) -> None:
    import asyncpg  # type: ignore[import-untyped]

    now = datetime.now(UTC)
    conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))

    def naive(row: tuple[Any, ...]) -> tuple[Any, ...]:
        return tuple(v.replace(tzinfo=None) if isinstance(v, datetime) else v for v in row)

    async def copy(table: str, columns: tuple[str, ...], values: list[tuple[Any, ...]]) -> None:
        names = [c.strip('"') for c in columns]
        await conn.copy_records_to_table(table, records=[naive(r) for r in values], columns=names)

    for table, (columns, values) in side_tables(now).items():
        if table in ("packages", "audit_log"):
            values = [tuple(v if not (isinstance(v, str) and v.startswith(("[", "{"))) else v
                            for v in r) for r in values]  # fmt: skip
        await copy(table, columns, values)
    daily: dict[tuple[Any, ...], list[int]] = {}
    for chunk in usage_rows(rows, now):
        await copy("usage_records", USAGE_COLUMNS, [_VALUES(r) for r in chunk])
        await copy("ledger_entries", LEDGER, ledger_rows(chunk))
        _merge(daily, daily_rows(chunk))
    await copy("ledger_entries", LEDGER, _topups(now))
    await copy("usage_daily", DAILY, [(*k, *v) for k, v in daily.items()])
    for table in ("users", "api_keys", "packages", "referrals", "audit_log"):
        await conn.execute(
            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT MAX(id) FROM {table}))"
        )
    await conn.execute("VACUUM ANALYZE")  # the visibility map: index-only scans, as in service
    await conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--file", type=Path, default=Path("bench/results/console.db"))
    parser.add_argument("--postgres", metavar="URL", help="seed this (empty) PostgreSQL database")
    args = parser.parse_args()
    started = time.perf_counter()
    if args.postgres:
        upgrade(args.postgres)  # its own event loop: before ours
        asyncio.run(seed_postgres(args.postgres, args.rows))
        url = args.postgres
    else:
        args.file.parent.mkdir(parents=True, exist_ok=True)
        for suffix in ("", "-wal", "-shm"):
            Path(f"{args.file}{suffix}").unlink(missing_ok=True)
        seed_sqlite(args.file, args.rows)
        url = f"sqlite:///{args.file}"
    print(f"seeded {args.rows:,} usage records in {time.perf_counter() - started:.0f} s: {url}")


if __name__ == "__main__":
    main()
