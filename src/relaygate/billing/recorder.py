"""Writes usage records off the hot path, in batches, without losing any.

A call hands its finished record to :meth:`UsageRecorder.add` (no I/O, no await); a
writer task inserts whatever has accumulated in one transaction, as soon as the previous
batch is done (so one waiting record is written at once and many share a commit). A
failed insert is retried; :meth:`close` drains everything before the process exits.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from typing import Any

from relaygate.core.tasks import cancel_and_wait
from relaygate.db.engine import Database

__all__ = ["USAGE_COLUMNS", "UsageRecorder"]

USAGE_COLUMNS = (
    "request_id", "created_at", "user_id", "key_id", "model", "upstream_model", "channel_id",
    "endpoint", "status", "stream", "prompt_tokens", "completion_tokens", "cached_tokens",
    "reasoning_tokens", "usage_estimated", "rurt_ms", "ttfb_ms", "duration_ms", "client_ip",
    "error",
)  # fmt: skip
_CREATED_AT = USAGE_COLUMNS.index("created_at")


def _insert_sql(paramstyle: str) -> str:
    if paramstyle == "qmark":
        marks = ", ".join("?" for _ in USAGE_COLUMNS)
    elif paramstyle == "numeric_dollar":
        marks = ", ".join(f"${i}" for i in range(1, len(USAGE_COLUMNS) + 1))
    else:
        raise ValueError(f"unsupported DB-API parameter style {paramstyle!r}")
    return f"INSERT INTO usage_records ({', '.join(USAGE_COLUMNS)}) VALUES ({marks})"


def _naive_utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None)


def _sqlite_time(moment: datetime) -> str:
    return _naive_utc(moment).strftime("%Y-%m-%d %H:%M:%S.%f")


log = logging.getLogger(__name__)
_RETRY_DELAY = 1.0


class UsageRecorder:
    def __init__(self, db: Database, flush_interval: float, batch_size: int) -> None:
        self.db = db
        self.flush_interval = flush_interval
        self.batch_size = batch_size
        self._buffer: list[tuple[Any, ...]] = []
        self._sql = _insert_sql(db.engine.dialect.paramstyle)
        self._time = _sqlite_time if db.is_sqlite else _naive_utc
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self.written = 0

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="usage-recorder")

    def add(self, record: tuple[Any, ...]) -> None:
        """Queue one row, in :data:`USAGE_COLUMNS` order."""
        self._buffer.append(record)
        if not self._wake.is_set():
            self._wake.set()

    async def _run(self) -> None:
        while not self._closing:
            await self._wake.wait()
            self._wake.clear()
            await self._drain()
            if self.flush_interval > 0:
                await asyncio.sleep(self.flush_interval)

    async def _drain(self) -> None:
        while self._buffer:
            batch = self._buffer[: self.batch_size]
            try:
                await self._insert(batch)
            except Exception:  # the database is away: keep the rows and try again
                log.exception("writing %d usage records failed; retrying", len(batch))
                if self._closing:
                    raise
                await asyncio.sleep(_RETRY_DELAY)
                continue
            del self._buffer[: len(batch)]
            self.written += len(batch)

    async def _insert(self, rows: list[tuple[Any, ...]]) -> None:
        convert, at = self._time, _CREATED_AT
        prepared = [(*row[:at], convert(row[at]), *row[at + 1 :]) for row in rows]
        async with self.db.engine.begin() as conn:
            await conn.exec_driver_sql(self._sql, prepared)

    async def close(self) -> None:
        """Stop the writer and write every record still buffered."""
        self._closing = True
        self._wake.set()
        await cancel_and_wait(self._task)
        await self._drain()
