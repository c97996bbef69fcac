"""The usage listing's queries read an index made for them, in order (no sort), on SQLite
and PostgreSQL: EXPLAIN of the repository's own statements over a migrated database of
20,000 rows (statistics gathered, as a live database has them; see _PG_ORDERED_ONLY for
PostgreSQL). No timing is asserted:
bench/usage_listing.py measures a page over a million rows.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.expression import ClauseElement, Executable

from relaygate.billing.repository import listing
from relaygate.billing.schemas import UsageQuery
from relaygate.core.pagination import Position
from relaygate.db.engine import Database
from relaygate.db.migrate import upgrade
from tests.harness import create_pg_database, drop_pg_database, run_sync

ROWS = 20_000
USERS = 200
START = datetime(2026, 1, 1, tzinfo=UTC)


class Explain(Executable, ClauseElement):
    """``EXPLAIN`` of a statement, compiled with the statement's own bound parameters."""

    inherit_cache = False

    def __init__(self, statement: Any) -> None:
        self.statement = statement


@compiles(Explain)
def _explain(element: Explain, compiler: SQLCompiler, **kw: Any) -> str:
    prefix = "EXPLAIN QUERY PLAN " if compiler.dialect.name == "sqlite" else "EXPLAIN "
    return prefix + compiler.process(element.statement, **kw)


_SQLITE_LOAD = f"""
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {ROWS})
INSERT INTO usage_records (request_id, created_at, user_id, key_id, model, upstream_model,
    endpoint, status, client_ip, stream, usage_estimated, prompt_tokens, completion_tokens,
    cached_tokens, reasoning_tokens, rurt_ms, duration_ms)
SELECT 'req_' || i, strftime('%Y-%m-%d %H:%M:%f', '2026-01-01', '+' || i || ' seconds'),
    i % {USERS}, i % {USERS * 3}, 'model-' || (i % 7), '', 'chat/completions',
    CASE WHEN i % 50 = 0 THEN 500 WHEN i % 40 = 0 THEN 429 ELSE 200 END, '', 0, 0,
    0, 0, 0, 0, 0, 0
FROM n
"""
_PG_LOAD = f"""
INSERT INTO usage_records (request_id, created_at, user_id, key_id, model, upstream_model,
    endpoint, status, client_ip, stream, usage_estimated, prompt_tokens, completion_tokens,
    cached_tokens, reasoning_tokens, rurt_ms, duration_ms)
SELECT 'req_' || i, timestamp '2026-01-01' + i * interval '1 second',
    i % {USERS}, i % {USERS * 3}, 'model-' || (i % 7), '', 'chat/completions',
    CASE WHEN i % 50 = 0 THEN 500 WHEN i % 40 = 0 THEN 429 ELSE 200 END, '', false, false,
    0, 0, 0, 0, 0, 0
FROM generate_series(1, {ROWS}) AS i
"""


def _load(url: str) -> None:
    upgrade(url)

    async def load() -> None:
        db = Database(url)
        try:
            async with db.engine.begin() as conn:
                await conn.execute(text(_SQLITE_LOAD if db.is_sqlite else _PG_LOAD))
                await conn.execute(text("ANALYZE"))
        finally:
            await db.dispose()

    run_sync(load())


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def database(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('indexes')}/usage.db"
        _load(url)
        yield url
        return
    url = create_pg_database()
    try:
        _load(url)
        yield url
    finally:
        drop_pg_database(url)


# PostgreSQL costs plans from statistics: over 20,000 rows, a bitmap read and a sort of a
# few hundred rows costs what an ordered index read costs (over millions it does not).
# Switching these off asks the question the test is about: is there an index that reads
# this page in order? Without one, the planner still sorts (or scans), and the test fails.
_PG_ORDERED_ONLY = ("enable_seqscan", "enable_bitmapscan", "enable_sort")


def _plan(url: str, query: UsageQuery, ordered_only: bool = True) -> str:
    async def explain() -> str:
        db = Database(url)
        try:
            async with db.engine.connect() as conn:
                if ordered_only and not db.is_sqlite:
                    for knob in _PG_ORDERED_ONLY:
                        await conn.execute(text(f"SET {knob} = off"))
                rows = (await conn.execute(Explain(listing(query)))).all()
        finally:
            await db.dispose()
        # SQLite: (id, parent, notused, detail); PostgreSQL: one text line per row
        return "\n".join(str(row[-1]) for row in rows)

    return run_sync(explain())


WINDOW = {"since": START + timedelta(hours=1), "until": START + timedelta(hours=2)}
AFTER = Position(START + timedelta(hours=3), 10_800)
CASES = [
    ("first page", UsageQuery(limit=101), "ix_usage_records_created_at_id"),
    ("a later page", UsageQuery(limit=101, after=AFTER), "ix_usage_records_created_at_id"),
    ("a time window", UsageQuery(limit=101, **WINDOW), "ix_usage_records_created_at_id"),
    (
        "a model in a window",
        UsageQuery(limit=101, model="model-3", **WINDOW),
        "ix_usage_records_created_at_id",
    ),
    ("a user", UsageQuery(limit=101, user_id=17), "ix_usage_records_user_id_created_at_id"),
    (
        "a user, a window, a later page",
        UsageQuery(limit=101, user_id=17, after=AFTER, **WINDOW),
        "ix_usage_records_user_id_created_at_id",
    ),
    (
        "a key (through its user)",
        UsageQuery(limit=101, user_id=17, key_id=217),
        "ix_usage_records_user_id_created_at_id",
    ),
    (
        "a user, the newer page (before: the index read upwards)",
        UsageQuery(limit=101, user_id=17, before=AFTER),
        "ix_usage_records_user_id_created_at_id",
    ),
    (
        "a user's 5xx, the newer page",
        UsageQuery(limit=101, user_id=17, status_class=5, before=AFTER),
        "ix_usage_records_user_failed",
    ),
    ("one error status", UsageQuery(limit=101, status=500), "ix_usage_records_failed"),
    (
        "5xx, a later page",
        UsageQuery(limit=101, status_class=5, after=AFTER),
        "ix_usage_records_failed",
    ),
    ("4xx in a window", UsageQuery(limit=101, status_class=4, **WINDOW), "ix_usage_records_failed"),
    (
        "a user's 5xx (the bills page)",
        UsageQuery(limit=101, user_id=17, status_class=5),
        "ix_usage_records_user_failed",
    ),
    (
        "a user's errors, a later page",
        UsageQuery(limit=101, user_id=17, status=500, after=AFTER),
        "ix_usage_records_user_failed",
    ),
]


@pytest.mark.parametrize(("case", "query", "index"), CASES, ids=[c[0] for c in CASES])
def test_each_listing_reads_its_index_in_order(
    database: str, case: str, query: UsageQuery, index: str
) -> None:
    plan = _plan(database, query)
    assert index in plan, f"{case}:\n{plan}"
    if database.startswith("sqlite"):
        assert "TEMP B-TREE" not in plan, f"{case} sorts:\n{plan}"
        assert "SCAN usage_records\n" not in plan + "\n", f"{case} reads the table:\n{plan}"
    else:
        assert "Sort" not in plan, f"{case} sorts:\n{plan}"
        assert "Seq Scan" not in plan, f"{case} reads the table:\n{plan}"


def test_request_id_reads_its_unique_index(database: str) -> None:
    plan = _plan(database, UsageQuery(limit=101, request_id="req_42"), ordered_only=False)
    assert "request_id" in plan and (
        "autoindex" in plan or "uq_usage_records_request_id" in plan
    ), plan
