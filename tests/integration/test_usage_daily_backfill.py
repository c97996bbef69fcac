"""Migration 0017 rolls up the usage records written before it, as the bill writer
would have (billing/rollup.py), on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from relaygate.billing.rollup import daily_rows
from relaygate.billing.usage_row import USAGE_COLUMNS, UsageRow
from relaygate.db.engine import Database
from relaygate.db.migrate import upgrade
from tests.harness import create_pg_database, drop_pg_database, run_sync

START = datetime(2026, 3, 1, 22, tzinfo=UTC)


def _rows() -> list[UsageRow]:
    rows = []
    for i in range(60):
        rows.append(
            UsageRow(
                request_id=f"old-{i}",
                created_at=START + timedelta(minutes=7 * i),
                user_id=None if i % 10 == 0 else 1 + i % 3,
                key_id=None,
                model=f"m{i % 2}",
                upstream_model="",
                channel_id=None,
                endpoint="chat/completions",
                status=500 if i % 7 == 0 else 200,
                stream=False,
                prompt_tokens=i,
                completion_tokens=2 * i,
                cached_tokens=0,
                reasoning_tokens=0,
                usage_estimated=False,
                rurt_ms=0,
                ttfb_ms=None,
                duration_ms=0,
                client_ip="",
                error=None,
                official_cost=10 * i,
                amount=9 * i,
                free_amount=i % 3,
                multiplier="1",
                package_amount=i % 5,
                attempts=1,
                images=0,
                characters=0,
                audio_ms=0,
                route_group="",
                model_multiplier="1",
                route_multiplier="1",
                tier_multiplier="1",
                group_multiplier="1",
            )  # fmt: skip
        )
    return rows


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('backfill')}/old.db"
        return
    made = create_pg_database()
    try:
        yield made
    finally:
        drop_pg_database(made)


def test_backfill_matches_the_writer(url: str) -> None:
    upgrade(url, "0016")
    rows = _rows()

    async def insert() -> None:
        db = Database(url)
        try:
            async with db.engine.begin() as conn:
                # the columns of 0016's table: later migrations add more (rules, 0024)
                present = set((await conn.execute(text("SELECT * FROM usage_records"))).keys())
                columns = [c for c in USAGE_COLUMNS if c in present]
                marks = ", ".join(f":{c}" for c in columns)
                sql = text(f"INSERT INTO usage_records ({', '.join(columns)}) VALUES ({marks})")
                for row in rows:
                    values = {c: getattr(row, c) for c in columns}
                    values["created_at"] = row.created_at.replace(tzinfo=None)
                    await conn.execute(sql, values)
        finally:
            await db.dispose()

    async def rolled_up() -> list[tuple[object, ...]]:
        db = Database(url)
        try:
            async with db.engine.connect() as conn:
                result = await conn.execute(text("SELECT * FROM usage_daily"))
                return sorted(tuple(int(v) if isinstance(v, int) else v for v in r) for r in result)
        finally:
            await db.dispose()

    run_sync(insert())
    upgrade(url)
    expected = sorted(tuple(r) for r in daily_rows(rows))
    assert run_sync(rolled_up()) == expected
    assert len({r[2] for r in expected}) >= 2  # the rows span UTC days
