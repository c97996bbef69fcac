"""FileService's background work on a real (migrated SQLite) database and blob directory:
the expiry sweep deletes rows then blobs and runs on one replica per round (a kv lease),
and the storage charge is one ledger entry per user and day however often it runs."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from relaygate.accounts.models import User
from relaygate.billing.ledger import STORAGE, LedgerService
from relaygate.db.engine import Database
from relaygate.db.migrate import upgrade
from relaygate.kv.memory import MemoryKV
from relaygate.storage.local import LocalBlobStore
from relaygate.storage.service import FileLimits, FileService, NewFile, StoragePrice

GB = 1_000_000_000


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path}/files.db"
    upgrade(url)
    return url


@pytest.fixture
async def db(db_url: str) -> AsyncIterator[Database]:
    database = Database(db_url)
    yield database
    await database.dispose()


async def _free(_user: int) -> str:
    return "free"


async def _user(db: Database) -> int:
    async with db.session() as session, session.begin():
        user = User(email=f"u{datetime.now(UTC).timestamp()}@example.test", name="")
        session.add(user)
        await session.flush()
        return user.id


async def _bytes(*chunks: bytes) -> AsyncIterator[bytes]:
    for chunk in chunks:
        yield chunk


def _service(db: Database, root: Path, kv: MemoryKV, **kwargs: object) -> FileService:
    return FileService(
        db,
        LocalBlobStore(root),
        FileLimits(10 * GB, 100 * GB),
        _free,
        leases=kv.counters,
        **kwargs,  # type: ignore[arg-type]
    )


async def test_the_sweep_deletes_expired_rows_then_blobs(db: Database, tmp_path: Path) -> None:
    kv = MemoryKV()
    files = _service(db, tmp_path / "blobs", kv)
    user = await _user(db)
    soon = datetime.now(UTC) + timedelta(hours=1)
    old = await files.upload(user, _bytes(b"old"), lambda: NewFile("old.txt", expires_at=soon))
    kept = await files.upload(user, _bytes(b"kept"), lambda: NewFile("kept.txt"))
    assert await files.sweep() == 0
    later = soon + timedelta(seconds=1)
    assert await files.sweep(later) == 1
    assert await files.blobs.size(old.uid) is None
    assert await files.blobs.size(kept.uid) == 4
    assert [row.uid for row in await files.many(user, [old.uid, kept.uid])] == [kept.uid]


async def test_one_replica_sweeps_per_round(db: Database, tmp_path: Path) -> None:
    """Two services on one kv (two replicas): in one round only the lease holder sweeps;
    once the lease lapses (its TTL) the other may."""
    kv = MemoryKV()
    first = _service(db, tmp_path / "blobs", kv)
    second = _service(db, tmp_path / "blobs", kv)
    user = await _user(db)
    soon = datetime.now(UTC) + timedelta(minutes=5)
    moment = soon + timedelta(seconds=1)

    async def expiring(name: str) -> str:
        row = await first.upload(user, _bytes(b"x"), lambda: NewFile(name, expires_at=soon))
        return row.uid

    a = await expiring("a")
    await first.sweep_round(60, moment)  # takes the round's lease and sweeps
    assert await first.blobs.size(a) is None
    b = await expiring("b")
    await second.sweep_round(60, moment)  # same round: the lease is the first's
    assert await second.blobs.size(b) == 1
    await kv.counters.delete("files:sweep")  # the lease lapsed
    await second.sweep_round(60, moment)
    assert await second.blobs.size(b) is None


async def test_storage_is_charged_once_per_user_and_day(db: Database, tmp_path: Path) -> None:
    kv = MemoryKV()
    ledger = LedgerService(db)

    async def charge(user_id: int, amount: int, request_id: str, memo: str) -> bool:
        return await ledger.charge_once(user_id, amount, STORAGE, request_id, memo)

    price = StoragePrice(per_gb_day=2_000_000)  # 2.00 per GB-day
    files = _service(db, tmp_path / "blobs", kv, charge=charge, price=price)
    heavy, light = await _user(db), await _user(db)
    await files.upload(heavy, _bytes(b"h" * 1_500_000), lambda: NewFile("h"))
    await files.upload(light, _bytes(b"l"), lambda: NewFile("l"))
    day = date(2026, 12, 7)
    assert await files.charge_day(day) == 2
    assert await files.charge_day(day) == 0  # the same day again: nothing
    assert (await ledger.balance(heavy)).balance == -3000  # 0.0015 GB x 2.00 = 0.003
    assert (await ledger.balance(light)).balance == -1  # rounded up to one micro-unit
    entries = await ledger.entries(heavy)
    assert [(e.kind, e.amount, e.request_id) for e in entries] == [
        (STORAGE, -3000, f"storage:{heavy}:2026-12-07")
    ]
    assert await ledger.entries_sum(heavy) == (-3000, 0)
    assert await files.charge_day(date(2026, 12, 8)) == 2
    # a round charges yesterday once, on the replica that takes the day's lease
    await files.sweep_round(60, datetime(2026, 12, 10, 0, 5, tzinfo=UTC))
    await files.sweep_round(60, datetime(2026, 12, 10, 0, 6, tzinfo=UTC))
    assert len(await ledger.entries(heavy)) == 3


async def test_free_storage_charges_nothing(db: Database, tmp_path: Path) -> None:
    files = _service(db, tmp_path / "blobs", MemoryKV())
    user = await _user(db)
    await files.upload(user, _bytes(b"x" * 1000), lambda: NewFile("x"))
    assert await files.charge_day(date(2026, 12, 7)) == 0
