"""Group commit of bills: usage records, charges, wallet and key counters.

A finished call submits its :class:`Bill` (no I/O). One writer task commits whatever has
accumulated in a single transaction: the usage rows, a ledger entry per charged call, one
wallet update per user, one counter update per key, the daily roll-up and the override
rules' daily hits (rollup.py), so
many calls share a commit and the money and its record are never apart. A charged call
awaits the commit of its batch before its last byte is sent (a completed call is never
left unbilled); when the writer is idle a lone bill is committed at once. A failed
commit is retried and nothing is dropped; :meth:`BillWriter.close` drains everything on
shutdown.

Statements are prepared SQL in the driver's own parameter style: ORM inserts cost more
CPU than the relay call they record. How each database commits them is in bill_sinks.py.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date, datetime
from operator import attrgetter
from typing import Any, TypeVar

from relaygate.billing.bill_sinks import Sink, Statements, sink_for
from relaygate.billing.ledger import Split
from relaygate.billing.rollup import DAILY_SQL, RULE_HITS_SQL, daily_rows, rule_hit_rows
from relaygate.billing.usage_row import USAGE_COLUMNS, UsageRow
from relaygate.core.clock import utcnow
from relaygate.core.tasks import cancel_and_wait
from relaygate.db.engine import Database

__all__ = ["USAGE_COLUMNS", "Bill", "BillWriter"]

log = logging.getLogger(__name__)
T = TypeVar("T")
_RETRY_DELAY = 1.0

# created_at is bound first (converted to the database's form), the others as they are
_PLAIN_COLUMNS = tuple(name for name in USAGE_COLUMNS if name != "created_at")
_PLAIN_VALUES = attrgetter(*_PLAIN_COLUMNS)  # one C call: the row's values as a plain tuple
_INSERT_COLUMNS = ("created_at", *_PLAIN_COLUMNS)

_SQL = {
    "usage": f"INSERT INTO usage_records ({', '.join(_INSERT_COLUMNS)}) "
    f"VALUES ({', '.join('?' for _ in _INSERT_COLUMNS)})",
    "ledger": "INSERT INTO ledger_entries "
    "(user_id, kind, amount, free_amount, request_id, memo, created_at) "
    "VALUES (?, 'charge', ?, ?, ?, '', ?)",
    "package_use": "INSERT INTO ledger_entries (user_id, kind, amount, free_amount, "
    "package_id, package_amount, request_id, memo, created_at) "
    "VALUES (?, 'package_use', 0, 0, ?, ?, ?, '', ?)",
    "package": "UPDATE packages SET remaining = remaining - ? WHERE id = ?",
    "wallet_row": "INSERT INTO wallets (user_id, balance, free_balance, topped_up_total) "
    "VALUES (?, 0, 0, 0) ON CONFLICT (user_id) DO NOTHING",
    "wallet": "UPDATE wallets SET balance = balance - ?, free_balance = free_balance - ? "
    "WHERE user_id = ?",
    "key": "UPDATE api_keys SET used_fee = used_fee + ?, used_times = used_times + ?, "
    "used_at = ? WHERE id = ?",
    "daily": DAILY_SQL,
    "rule_hits": RULE_HITS_SQL,
}


def _in_style(sql: str, paramstyle: str) -> str:
    if paramstyle == "qmark":
        return sql
    if paramstyle != "numeric_dollar":
        raise ValueError(f"unsupported DB-API parameter style {paramstyle!r}")
    parts = sql.split("?")
    return parts[0] + "".join(f"${i}{part}" for i, part in enumerate(parts[1:], start=1))


def _same_day(day: date) -> date:
    return day


@dataclass(slots=True)
class _KeyUse:
    """What one batch adds to a key's counters."""

    fee: int = 0
    times: int = 0


@dataclass(slots=True)
class Bill:
    """One call's usage row and what it costs whom."""

    row: UsageRow
    user_id: int | None
    key_id: int | None
    request_id: str
    paid: int = 0  # from the balance
    free: int = 0  # from the free balance
    used: bool = True  # counts toward the key's used_times (a refused call does not)
    packages: tuple[tuple[int, int], ...] = ()  # (package id, amount taken)
    committed: asyncio.Future[None] | None = None

    @property
    def charged(self) -> int:
        return self.paid + self.free

    @property
    def has_money(self) -> bool:
        return bool(self.charged or self.packages)


class BillWriter:
    """The only writer of usage rows and charges, so that a call's money and its record
    land in the same transaction and many calls share one commit (module doc); a single
    task per process keeps SQLite to one writer and the batches in order. It owns what a
    batch writes (:meth:`_statements`); how a transaction reaches the database is its
    :class:`~relaygate.billing.bill_sinks.Sink`'s business."""

    def __init__(
        self,
        db: Database,
        batch_size: int,
        on_commit: Callable[[int, float], None] | None = None,
    ) -> None:
        self.db = db
        self._on_commit = on_commit  # (bills, seconds) of each commit: the metrics
        self.batch_size = batch_size
        style = db.engine.dialect.paramstyle
        self._sql = {name: _in_style(sql, style) for name, sql in _SQL.items()}
        self._sink: Sink = sink_for(db)
        self._day: Callable[[date], Any] = date.isoformat if db.is_sqlite else _same_day
        self._pending: list[Bill] = []
        self._busy = False  # the writer task is draining (committing or running reads)
        self._wallets: set[int] = set()  # users whose wallet row is known to exist
        self._reads: list[tuple[Callable[[], Awaitable[Any]], asyncio.Future[Any]]] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self.written = 0

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="bill-writer")

    def submit(self, bill: Bill, durable: bool, alone: bool = False) -> asyncio.Future[None] | None:
        """Queue ``bill``; with ``durable``, return a future done once it is committed.

        ``alone`` says no other call is in flight: then nothing could join the batch, and
        an idle writer whose sink commits inline (SQLite) commits the bill at once in the
        caller's step, which saves
        the two task switches of a hand-off to the writer task.
        """
        if durable:
            bill.committed = asyncio.get_running_loop().create_future()
        idle = not (self._busy or self._pending or self._reads)
        if alone and idle and self._sink.inline and self._commit_now(bill):
            if self._sink.maintenance_due:
                self._wake.set()  # the writer task maintains the database (lone calls do not)
            self._landed([bill])
            return bill.committed
        self._pending.append(bill)
        if not self._wake.is_set():
            self._wake.set()
        return bill.committed

    def _commit_now(self, bill: Bill) -> bool:
        started = time.perf_counter()
        done = self._sink.commit_now(self._statement_list([bill]))
        if done and self._on_commit is not None:
            self._on_commit(1, time.perf_counter() - started)
        return done

    @property
    def pending(self) -> int:
        """Bills waiting for a commit."""
        return len(self._pending)

    async def query(self, sql: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        """A small read (qmark SQL), in the loop's thread on SQLite, as the commits are.

        Times are passed and returned in the database's own form: see :meth:`db_time`.
        """
        return await self._sink.query(_in_style(sql, self.db.engine.dialect.paramstyle), params)

    def db_time(self, moment: datetime) -> Any:
        return self._sink.time(moment)

    async def read(self, fn: Callable[[], Awaitable[T]]) -> T:
        """Run ``fn`` between two commits, so what it reads is never half a batch behind.

        Callers that mirror committed bills in memory (the balance views) read through here.
        """
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._reads.append((fn, future))
        self._wake.set()
        return await future

    async def _run_reads(self) -> None:
        await asyncio.sleep(0)  # let the callbacks of the last commit run first
        reads, self._reads = self._reads, []
        for fn, future in reads:
            try:
                result = await fn()
            except Exception as exc:  # noqa: BLE001 - not swallowed: the reader gets it
                if not future.done():
                    future.set_exception(exc)
            else:
                if not future.done():
                    future.set_result(result)

    async def _run(self) -> None:
        while not self._closing:
            await self._wake.wait()
            self._wake.clear()
            await self._drain()

    async def _drain(self) -> None:
        self._busy = True
        try:
            await self._drain_all()
        finally:
            self._busy = False

    async def _drain_all(self) -> None:
        if self._reads:
            await self._run_reads()
        while self._pending:
            batch = self._pending[: self.batch_size]
            try:
                await self._commit(batch)
            except Exception:  # the database is away: keep the bills and try again
                log.exception("committing %d bills failed; retrying", len(batch))
                if self._closing:
                    raise
                await asyncio.sleep(_RETRY_DELAY)
                continue
            del self._pending[: len(batch)]
            self._landed(batch)
            if self._reads:
                await self._run_reads()
        await self._sink.maintain()  # while nothing else writes (_busy keeps lone calls out)

    def _landed(self, batch: list[Bill]) -> None:
        self.written += len(batch)
        for bill in batch:
            if bill.charged and bill.user_id is not None:
                self._wallets.add(bill.user_id)
            if bill.committed is not None and not bill.committed.done():
                bill.committed.set_result(None)

    def _statements(self, batch: list[Bill]) -> Statements:
        """The batch as (SQL, rows) pairs, in the order they must run."""
        convert, values = self._sink.time, _PLAIN_VALUES
        stamp = convert(utcnow())
        usage = [(convert(b.row.created_at), *values(b.row)) for b in batch]
        charged: list[Bill] = []
        wallets: defaultdict[int, Split] = defaultdict(Split)
        keys: defaultdict[int, _KeyUse] = defaultdict(_KeyUse)
        for bill in batch:  # in batch order: the rows (and so their ids) keep that order
            if bill.key_id is not None and (bill.used or bill.charged):
                use = keys[bill.key_id]
                use.fee += bill.charged
                use.times += 1
            if bill.charged and bill.user_id is not None:
                charged.append(bill)
                wallet = wallets[bill.user_id]
                wallet.paid += bill.paid
                wallet.free += bill.free
        uses = [
            (b.user_id, pid, -amt, b.request_id, stamp) for b in batch for pid, amt in b.packages
        ]
        sql = self._sql
        return [
            (sql["usage"], usage),
            (sql["ledger"], [(b.user_id, -b.paid, -b.free, b.request_id, stamp) for b in charged]),
            (sql["wallet_row"], [(uid,) for uid in wallets if uid not in self._wallets]),
            (sql["wallet"], [(w.paid, w.free, uid) for uid, w in wallets.items()]),
            (sql["package_use"], uses),
            (sql["package"], [(-amt, pid) for _, pid, amt, _, _ in uses]),
            (sql["key"], [(k.fee, k.times, stamp, kid) for kid, k in keys.items()]),
            (sql["daily"], daily_rows(b.row for b in batch)),
            (sql["rule_hits"], rule_hit_rows((b.row for b in batch), self._day, convert)),
        ]

    def _statement_list(self, batch: list[Bill]) -> Statements:
        return [(sql, rows) for sql, rows in self._statements(batch) if rows]

    async def _commit(self, batch: list[Bill]) -> None:
        started = time.perf_counter()
        await self._sink.commit(self._statement_list(batch))
        if self._on_commit is not None:
            self._on_commit(len(batch), time.perf_counter() - started)

    async def close(self) -> None:
        """Stop the writer and commit every bill still queued."""
        self._closing = True
        self._wake.set()
        await cancel_and_wait(self._task)
        await self._drain()
        self._sink.close()
