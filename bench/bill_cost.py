"""CPU of one call's bill: building its usage row, binding it into the batch, writing it.

``python -m bench.bill_cost [sqlite|postgresql://...]`` times, per call, on a priced call
with usage and multipliers (the common case on the hot path):

- ``build``: ``CallContext.record()`` plus the :class:`Bill` around it (once per call);
- ``bind``: the writer turning a batch of bills into its statements' parameter rows;
- ``write``: a whole group commit of batches of ``BATCH`` bills into a real database
  (SQLite in a temporary directory, or the PostgreSQL URL given), bind included.

Process CPU time, best of ``ROUNDS``; run the old and the new code alternately in one
sitting (``PYTHONPATH=<old checkout>/src``) to compare.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

from relaygate.billing.charging import Charge
from relaygate.billing.pricing import Multipliers
from relaygate.billing.writer import Bill, BillWriter
from relaygate.db.engine import Database
from relaygate.db.migrate import upgrade
from relaygate.relay.canonical import Usage
from relaygate.relay.context import CallContext

CALLS = 20_000
BATCH = 64
WRITES = 3_200
ROUNDS = 5


def _context(i: int) -> CallContext:
    ctx = CallContext(f"req_{i}", "chat/completions", "127.0.0.1", "cc-omg")
    ctx.user_id, ctx.key_id, ctx.channel_id = 1, 1, 1
    ctx.model, ctx.upstream_model, ctx.status, ctx.stream = "gpt-4o", "gpt-4o", 200, True
    ctx.usage = Usage(prompt_tokens=1200, completion_tokens=300, cached_tokens=200)
    ctx.rurt_ms, ctx.ttfb_ms, ctx.attempts = 40, 120, 1
    rates = Multipliers(Decimal("1.25"), Decimal("0.8"))
    ctx.charge = Charge(6000, 6000, 5000, 1000, rates.total, (), rates)
    return ctx


def _bill(ctx: CallContext) -> Bill:
    return Bill(ctx.record(), ctx.user_id, ctx.key_id, ctx.request_id, 5000, 1000, True, ())


def _best(work: Callable[[], object], per: int) -> float:
    """Best CPU microseconds per item over ROUNDS runs of ``work`` (``per`` items each)."""
    best = float("inf")
    for _ in range(ROUNDS):
        start = time.process_time()
        work()
        best = min(best, time.process_time() - start)
    return best / per * 1e6


async def _main(url: str) -> None:
    contexts = [_context(i) for i in range(BATCH)]
    build = _best(lambda: [_bill(contexts[i % BATCH]) for i in range(CALLS)], CALLS)
    db = Database(url)
    writer = BillWriter(db, BATCH)
    batch = [_bill(ctx) for ctx in contexts]
    rounds = CALLS // BATCH
    bind = _best(lambda: [writer._statements(batch) for _ in range(rounds)], rounds * BATCH)
    fresh = [[_bill(_context(r * BATCH + i)) for i in range(BATCH)] for r in range(WRITES // BATCH)]
    best = float("inf")
    for n in range(ROUNDS):
        batches = [[_renamed(b, n) for b in group] for group in fresh]
        start = time.process_time()
        for group in batches:
            await writer._commit(group)
        best = min(best, time.process_time() - start)
    await writer.close()
    await db.dispose()
    write = best / WRITES * 1e6
    print(f"build {build:6.2f} µs/call   bind {bind:6.2f} µs/row   write {write:6.2f} µs/row")


def _renamed(bill: Bill, n: int) -> Bill:
    """The same bill under a request id unique to round ``n`` (request_id is unique)."""
    ctx = _context(0)
    ctx.request_id = f"{bill.request_id}_{n}"
    return _bill(ctx)


def main() -> None:
    target = sys.argv[1] if len(sys.argv) > 1 else "sqlite"
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.db'}" if target == "sqlite" else target
        upgrade(url)
        asyncio.run(_main(url))


if __name__ == "__main__":
    main()
