"""What BillWriter stores for known bills, column by column, on SQLite and PostgreSQL.

The usage row is a named record (billing/usage_row.py) and each database has its own sink
(billing/bill_sinks.py); the rows stored must stay what they were: the usage record's
values with ``created_at`` in the database's own form (SQLite: text with microseconds;
PostgreSQL: naive UTC), one ledger entry per charged call, one wallet update per user
(paid and free summed over the batch) and one counter update per key.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Iterator
from datetime import UTC
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from relaygate.billing.charging import Charge
from relaygate.billing.pricing import Multipliers
from relaygate.billing.usage_row import USAGE_COLUMNS
from relaygate.billing.writer import Bill, BillWriter
from relaygate.core.units import Usage
from relaygate.db.engine import Database
from relaygate.db.migrate import upgrade
from relaygate.relay.context import CallContext
from tests.harness import create_pg_database, drop_pg_database

DATABASES = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
_SEED = [
    'INSERT INTO users (id, email, name, is_operator, is_disabled, "group", created_at) '
    "VALUES (7, 'a@example.com', '', false, false, '', '2026-01-01 00:00:00')",
    "INSERT INTO api_keys (id, user_id, key_hash, hint, remark, is_disabled, is_admin, "
    "max_fee, used_fee, used_times, created_at) "
    "VALUES (3, 7, 'h3', 'x', '', false, false, 0, 0, 0, '2026-01-01 00:00:00')",
]


@pytest.fixture(params=DATABASES)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    url = f"sqlite:///{tmp_path / 'bills.db'}" if request.param == "sqlite" else None
    url = url or create_pg_database()
    upgrade(url)
    yield url
    if request.param != "sqlite":
        drop_pg_database(url)


def _calls() -> list[tuple[CallContext, int, int, tuple[tuple[int, int], ...]]]:
    """A priced call (free part, multipliers), a failed one and a plain one of the same user."""
    priced = CallContext("req_a", "chat/completions", "10.0.0.1", "cc-omg")
    priced.user_id, priced.key_id, priced.channel_id, priced.attempts = 7, 3, 2, 2
    priced.model, priced.upstream_model, priced.status, priced.stream = "m", "m-up", 200, True
    priced.usage = Usage(1200, 300, cached_tokens=200, reasoning_tokens=50, estimated=True)
    rates = Multipliers(Decimal("1.250"), Decimal("0.8"))
    priced.charge = Charge(6000, 7000, 5000, 2000, rates.total, (), rates)
    failed = CallContext("req_b", "messages", "10.0.0.2")
    failed.user_id, failed.key_id = 7, 3
    failed.fail(502, "upstream broke")
    plain = CallContext("req_c", "embeddings", "")
    plain.user_id, plain.key_id, plain.status = 7, 3, 200
    plain.charge = Charge(10, 10, 10, 0, Decimal(1))
    return [(priced, 5000, 2000, ()), (failed, 0, 0, ()), (plain, 10, 0, ())]


async def _write(url: str) -> tuple[list[Bill], dict[str, list[tuple[Any, ...]]]]:
    db = Database(url)
    async with db.engine.begin() as conn:
        for statement in _SEED:
            await conn.exec_driver_sql(statement)
    writer = BillWriter(db, batch_size=64)
    bills = [
        Bill(ctx.record(), ctx.user_id, ctx.key_id, ctx.request_id, paid, free, ctx.status == 200)
        for ctx, paid, free, _ in _calls()
    ]
    committed = [writer.submit(bill, durable=True) for bill in bills]  # one batch
    writer.start()
    await asyncio.gather(*[c for c in committed if c is not None])
    await writer.close()
    tables = {
        "usage": f"SELECT {', '.join(USAGE_COLUMNS)} FROM usage_records ORDER BY id",
        "ledger": "SELECT user_id, kind, amount, free_amount, request_id FROM ledger_entries "
        "ORDER BY id",
        "wallet": "SELECT user_id, balance, free_balance FROM wallets",
        "key": "SELECT used_fee, used_times FROM api_keys WHERE id = 3",
    }
    stored = {}
    async with db.engine.connect() as conn:
        for name, sql in tables.items():
            stored[name] = [tuple(r) for r in (await conn.exec_driver_sql(sql)).fetchall()]
    await db.dispose()
    return bills, stored


def test_the_writer_stores_each_bill_as_its_usage_row(database_url: str) -> None:
    bills, stored = asyncio.run(_write(database_url))
    sqlite = database_url.startswith("sqlite")
    expected = []
    for bill in bills:
        naive = bill.row.created_at.astimezone(UTC).replace(tzinfo=None)
        when = naive.isoformat(" ", "microseconds") if sqlite else naive
        expected.append(dataclasses.astuple(dataclasses.replace(bill.row, created_at=when)))
    usage = [_normalised(row, sqlite) for row in stored["usage"]]
    assert usage == expected
    first = dict(zip(USAGE_COLUMNS, usage[0], strict=True))
    multipliers = (first["multiplier"], first["model_multiplier"], first["route_multiplier"])
    assert multipliers == ("1.0000", "1.25", "0.8")
    assert stored["ledger"] == [
        (7, "charge", -5000, -2000, "req_a"),
        (7, "charge", -10, 0, "req_c"),
    ]
    assert stored["wallet"] == [(7, -5010, -2000)]
    assert stored["key"] == [(7010, 2)]  # the failed call is counted by neither


def _normalised(row: tuple[Any, ...], sqlite: bool) -> tuple[Any, ...]:
    """Booleans as the record holds them (SQLite stores them as 0 and 1)."""
    if not sqlite:
        return row
    flags = {USAGE_COLUMNS.index("stream"), USAGE_COLUMNS.index("usage_estimated")}
    return tuple(bool(v) if i in flags else v for i, v in enumerate(row))
