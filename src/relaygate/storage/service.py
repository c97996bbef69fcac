"""Files: upload (streamed into the blob store), metadata, listing, downloads, deletion,
the expiry sweep and the optional storage charge.

An upload is checked as it streams: the bytes go to the blob store through a meter that
hashes them (SHA-256) and refuses the chunk that passes the user's limits (413 past the
largest file their membership tier allows, 403 past their storage quota), and the blob
store's ``put`` is atomic, so a refused or broken upload leaves nothing. The metadata row
is written only after the bytes are stored; its transaction checks the quota again
against what the user's other uploads committed meanwhile.

Deletion is the row first, then the blob: once the row is gone (or expired) the file is
gone from every route of every replica, whatever happens to the blob afterwards.

The sweeper (expired files, and the daily storage charge when priced) runs on every
replica's timer but works on one only: each round takes a lease in the kv (a counter
with a ceiling of 1 and a TTL, so a crashed holder's lease lapses by itself), and the
deletions are ``DELETE ... RETURNING``, so even two overlapping rounds never delete one
blob twice. The charge is idempotent per user and day in the ledger (its request id).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import secrets
import string
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from relaygate.accounts.models import User
from relaygate.core.clock import utcnow
from relaygate.core.errors import InvalidRequest, NotFound, PayloadTooLarge
from relaygate.core.tasks import cancel_and_wait
from relaygate.db.engine import Database
from relaygate.kv.protocols import Counter
from relaygate.storage.blobstore import BlobNotFound, BlobStore, ByteRange
from relaygate.storage.errors import FileTooLarge, QuotaExceeded
from relaygate.storage.models import StoredFile
from relaygate.storage.repository import FileFilter, FileRepository

__all__ = [
    "ID_LENGTH",
    "PURPOSES",
    "Allowance",
    "FileChanges",
    "FileLimits",
    "FilePage",
    "FileService",
    "NewFile",
    "StoragePrice",
    "new_file_id",
]

log = logging.getLogger(__name__)

ID_LENGTH = 21
_ID_ALPHABET = string.ascii_letters + string.digits + "_-"  # URL-safe: 126 random bits
PURPOSES = {
    0: "COMMON",
    1: "FINETUNE",
    2: "CHAT",
    3: "LLM_TMP",
    4: "OPENAI_BATCH",
    5: "ANTHROPIC_BATCH",
}
MAX_TAGS = 20
MAX_TAG_LENGTH = 64
MAX_FILENAME = 255
_SWEEP_BATCH = 1000
_BYTES_PER_GB = 1_000_000_000

TierOf = Callable[[int], Awaitable[str]]
# (user, micro-units, request id, memo) -> whether this call charged (False: done before)
Charger = Callable[[int, int, str, str], Awaitable[bool]]


def new_file_id() -> str:
    return "".join(secrets.choice(_ID_ALPHABET) for _ in range(ID_LENGTH))


@dataclass(frozen=True, slots=True)
class FileLimits:
    """Bytes per file and per user, with overrides by membership tier (free, vip, premium)."""

    max_file_bytes: int
    quota_bytes: int
    max_file_by_tier: Mapping[str, int] = field(default_factory=dict)
    quota_by_tier: Mapping[str, int] = field(default_factory=dict)

    def of(self, tier: str) -> tuple[int, int]:
        return (
            self.max_file_by_tier.get(tier, self.max_file_bytes),
            self.quota_by_tier.get(tier, self.quota_bytes),
        )


@dataclass(frozen=True, slots=True)
class Allowance:
    """What one upload of a user may take, as their tier and stored bytes stand."""

    tier: str
    max_file_bytes: int
    quota_bytes: int
    stored_bytes: int

    @property
    def room(self) -> int:
        return max(0, min(self.max_file_bytes, self.quota_bytes - self.stored_bytes))

    def check(self, size: int) -> None:
        """413 for a file over the tier's largest, else 403 past the quota."""
        if size > self.max_file_bytes:
            raise FileTooLarge(
                f"The file is larger than {self.max_file_bytes} bytes, the largest a "
                f"{self.tier} account may store.",
                param="file",
            )
        self.check_total(self.stored_bytes + size)

    def check_total(self, total: int) -> None:
        if total > self.quota_bytes:
            left = max(0, self.quota_bytes - self.stored_bytes)
            raise QuotaExceeded(
                f"Storage quota exceeded: {left} of {self.quota_bytes} bytes are left for "
                f"this {self.tier} account. Delete files to make room.",
                param="file",
            )


@dataclass(frozen=True, slots=True)
class NewFile:
    """An upload's metadata, read from the form once its bytes are stored."""

    filename: str
    purpose: int = 0
    is_public: bool = False
    tags: tuple[str, ...] = ()
    expires_at: datetime | None = None
    mime_type: str = "application/octet-stream"


@dataclass(frozen=True, slots=True)
class FileChanges:
    """An update: ``None`` leaves a field as it is; ``unset_expires_at`` clears expiry."""

    filename: str | None = None
    purpose: int | None = None
    is_public: bool | None = None
    tags: tuple[str, ...] | None = None
    expires_at: datetime | None = None
    unset_expires_at: bool = False


@dataclass(frozen=True, slots=True)
class FilePage:
    total: int
    files: list[StoredFile]


@dataclass(frozen=True, slots=True)
class StoragePrice:
    """Micro-units per GB (10^9 bytes) per day; 0: storage is free."""

    per_gb_day: int = 0

    def of(self, size: int) -> int:
        return -(-size * self.per_gb_day // _BYTES_PER_GB)  # rounded up


class _Meter:
    """Counts and hashes an upload's bytes and stops it at the allowance."""

    def __init__(self, allowance: Allowance) -> None:
        self.allowance = allowance
        self.size = 0
        self.digest = hashlib.sha256()

    async def through(self, chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
        async for chunk in chunks:
            self.size += len(chunk)
            if self.size > self.allowance.room:
                self.allowance.check(self.size)
            self.digest.update(chunk)
            yield chunk


class FileService:
    def __init__(
        self,
        db: Database,
        blobs: BlobStore,
        limits: FileLimits,
        tier_of: TierOf,
        *,
        leases: Counter | None = None,
        charge: Charger | None = None,
        price: StoragePrice = StoragePrice(),
    ) -> None:
        self.db = db
        self.blobs = blobs
        self.limits = limits
        self.tier_of = tier_of
        self.leases = leases
        self.charge = charge
        self.price = price
        self._sweeper: asyncio.Task[None] | None = None

    # ------------------------------------------------------------ uploads
    async def allowance(self, user_id: int) -> Allowance:
        tier = await self.tier_of(user_id)
        max_file, quota = self.limits.of(tier)
        async with self.db.session() as session:
            stored = await FileRepository(session).stored_bytes(user_id)
        return Allowance(tier, max_file, quota, stored)

    async def upload(
        self,
        user_id: int,
        chunks: AsyncIterator[bytes],
        describe: Callable[[], NewFile],
        allowance: Allowance | None = None,
    ) -> StoredFile:
        """Store the chunks as a new file of ``user_id``; ``describe`` gives its metadata
        once the chunks are read (a form's fields may follow its file). Anything that
        fails (a limit, bad metadata, a client gone) leaves no blob and no row."""
        allowance = allowance or await self.allowance(user_id)
        uid = new_file_id()
        meter = _Meter(allowance)
        try:
            await self.blobs.put(uid, meter.through(chunks))
            meta = _checked(describe())
            return await self._insert(user_id, uid, meta, meter)
        except BaseException:
            with contextlib.suppress(Exception):  # clean-up; the first error is the answer
                await self.blobs.delete(uid)
            raise

    async def _insert(self, user_id: int, uid: str, meta: NewFile, meter: _Meter) -> StoredFile:
        now = utcnow()
        row = StoredFile(
            uid=uid,
            user_id=user_id,
            filename=meta.filename,
            purpose=meta.purpose,
            is_public=meta.is_public,
            tags=list(meta.tags),
            size=meter.size,
            mime_type=meta.mime_type,
            sha256=meter.digest.hexdigest(),
            expires_at=meta.expires_at,
            created_at=now,
            updated_at=now,
        )
        async with self.db.session() as session, session.begin():
            repo = FileRepository(session)
            repo.add(row)  # written first: on SQLite this takes the write lock
            await session.flush()
            # one upload of a user at a time from here to the commit (PostgreSQL; SQLite
            # serialises writers anyway), so concurrent uploads cannot both fit the quota
            await session.execute(select(User.id).where(User.id == user_id).with_for_update())
            meter.allowance.check_total(await repo.stored_bytes(user_id))
            await repo.set_tags(row.id, meta.tags)
        return row

    # ------------------------------------------------------------ reads
    async def get(self, user_id: int, uid: str) -> StoredFile:
        """The user's own live file; another user's, an expired or unknown one: 404."""
        async with self.db.session() as session:
            row = await FileRepository(session).by_uid(uid, utcnow())
        if row is None or row.user_id != user_id:
            raise NotFound(_missing(uid), param="fileUniqueId")
        return row

    async def public(self, uid: str) -> StoredFile:
        """A live public file; a private one is a 404 like an unknown one."""
        async with self.db.session() as session:
            row = await FileRepository(session).by_uid(uid, utcnow())
        if row is None or not row.is_public:
            raise NotFound(_missing(uid), param="fileUniqueId")
        return row

    async def many(self, user_id: int, uids: Sequence[str]) -> list[StoredFile]:
        """The user's live files among ``uids``, in the order asked; others left out."""
        async with self.db.session() as session:
            rows = await FileRepository(session).owned(user_id, list(set(uids)), utcnow())
        found = {row.uid: row for row in rows}
        return [found[uid] for uid in dict.fromkeys(uids) if uid in found]

    async def query(self, user_id: int, filters: FileFilter, page: int, page_size: int) -> FilePage:
        async with self.db.session() as session:
            total, rows = await FileRepository(session).page(
                user_id, filters, utcnow(), (page - 1) * page_size, page_size
            )
        return FilePage(total, rows)

    async def open(
        self, row: StoredFile, byte_range: ByteRange | None = None
    ) -> AsyncIterator[bytes]:
        """The file's bytes as a stream, its first chunk already read: a blob that is gone
        (deleted meanwhile) is a 404 here, before a response has started."""
        stream = aiter(self.blobs.get(row.uid, byte_range))
        try:
            first = await anext(stream)
        except BlobNotFound:
            raise NotFound(_missing(row.uid), param="fileUniqueId") from None
        except StopAsyncIteration:
            first = b""
        return _prepend(first, stream)

    async def content(self, user_id: int, uid: str, max_bytes: int) -> tuple[StoredFile, bytes]:
        """A user's file whole, for the callers that must send it on (a model input); a
        file over ``max_bytes`` is a 413 rather than a read into memory."""
        row = await self.get(user_id, uid)
        if row.size > max_bytes:
            raise PayloadTooLarge(
                f"File {uid} is {row.size} bytes; at most {max_bytes} can be used here.",
                param="fileUniqueId",
            )
        data = bytearray()
        async for chunk in await self.open(row):
            data += chunk
        return row, bytes(data)

    # ------------------------------------------------------------ changes
    async def update(self, user_id: int, uid: str, changes: FileChanges) -> StoredFile:
        _check_changes(changes)
        async with self.db.session() as session, session.begin():
            repo = FileRepository(session)
            row = await repo.by_uid(uid, utcnow())
            if row is None or row.user_id != user_id:
                raise NotFound(_missing(uid), param="fileUniqueId")
            if changes.filename is not None:
                row.filename = changes.filename
            if changes.purpose is not None:
                row.purpose = changes.purpose
            if changes.is_public is not None:
                row.is_public = changes.is_public
            if changes.tags is not None:
                tags = list(dict.fromkeys(changes.tags))
                row.tags = tags
                await repo.set_tags(row.id, tags)
            if changes.unset_expires_at:
                row.expires_at = None
            elif changes.expires_at is not None:
                row.expires_at = changes.expires_at
            row.updated_at = utcnow()
        return row

    async def delete(self, user_id: int, uids: Sequence[str]) -> int:
        """Delete the user's files among ``uids`` (others' are left alone, uncounted);
        the rows go first, then the blobs."""
        async with self.db.session() as session, session.begin():
            deleted = await FileRepository(session).delete_owned(user_id, list(set(uids)))
        await self._remove_blobs(deleted)
        return len(deleted)

    async def _remove_blobs(self, uids: Sequence[str]) -> None:
        for uid in uids:
            try:
                await self.blobs.delete(uid)
            except Exception:  # the row is gone: an unreachable store leaves an orphan
                log.warning("could not delete the blob of file %s", uid, exc_info=True)

    # ------------------------------------------------------------ the sweeper
    async def start(self, interval: float) -> None:
        if self._sweeper is None:
            self._sweeper = asyncio.create_task(self._sweep_every(interval))

    async def close(self) -> None:
        await cancel_and_wait(self._sweeper)
        self._sweeper = None
        await self.blobs.close()

    async def sweep(self, now: datetime | None = None) -> int:
        """Delete every expired file (rows, then blobs); returns how many."""
        moment = now or utcnow()
        removed = 0
        while True:
            async with self.db.session() as session, session.begin():
                uids = await FileRepository(session).delete_expired(moment, _SWEEP_BATCH)
            await self._remove_blobs(uids)
            removed += len(uids)
            if len(uids) < _SWEEP_BATCH:
                return removed

    async def charge_day(self, day: date) -> int:
        """Charge every user storing files for ``day``, at the price per GB-day, by what
        they store now; once per user and day whoever calls it. Returns the charges made."""
        if self.charge is None or self.price.per_gb_day <= 0:
            return 0
        async with self.db.session() as session:
            usage = await FileRepository(session).bytes_per_user()
        made = 0
        for entry in usage:
            amount = self.price.of(entry.size)
            if amount <= 0:
                continue
            request_id = f"storage:{entry.user_id}:{day.isoformat()}"
            memo = f"file storage, {entry.size} bytes on {day.isoformat()}"
            if await self.charge(entry.user_id, amount, request_id, memo):
                made += 1
        return made

    async def _lease(self, key: str, ttl_s: float) -> bool:
        if self.leases is None:
            return True
        taken, _ = await self.leases.add(key, 1, ceiling=1, ttl_s=ttl_s)
        return taken

    async def sweep_round(self, interval: float, now: datetime | None = None) -> None:
        """One round of the timer: the sweep, then yesterday's charge, each on the one
        replica that takes its lease."""
        moment = now or utcnow()
        if await self._lease("files:sweep", interval * 0.9):
            removed = await self.sweep(moment)
            if removed:
                log.info("files: removed %d expired files", removed)
        if self.charge is None or self.price.per_gb_day <= 0:
            return
        day = (moment - timedelta(days=1)).date()
        key = f"files:charged:{day.isoformat()}"
        if await self._lease(key, 3 * 86400):
            try:
                made = await self.charge_day(day)
            except BaseException:
                if self.leases is not None:  # let the next round try again (idempotent)
                    await self.leases.delete(key)
                raise
            log.info("files: %d storage charges for %s", made, day.isoformat())

    async def _sweep_every(self, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            try:
                await self.sweep_round(interval)
            except (SQLAlchemyError, OSError):
                log.warning("the files sweep failed; retrying later", exc_info=True)


async def _prepend(first: bytes, rest: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    if first:
        yield first
    async for chunk in rest:
        yield chunk


def _missing(uid: str) -> str:
    return f"No file {uid[:40]!r}."


def check_expiry(expires_at: datetime | None) -> None:
    if expires_at is not None and expires_at <= utcnow():
        raise InvalidRequest("'expires_at' must be in the future.", param="expires_at")


def _check_tags(tags: Sequence[str]) -> None:
    if len(tags) > MAX_TAGS:
        raise InvalidRequest(f"At most {MAX_TAGS} tags.", param="tags")
    for tag in tags:
        if not 1 <= len(tag) <= MAX_TAG_LENGTH:
            raise InvalidRequest(f"A tag is 1 to {MAX_TAG_LENGTH} characters.", param="tags")


def _check_filename(name: str) -> None:
    if not 1 <= len(name) <= MAX_FILENAME or any(ord(c) < 32 for c in name):
        raise InvalidRequest(
            f"'filename' must be 1 to {MAX_FILENAME} characters, without control characters.",
            param="filename",
        )


def _check_purpose(purpose: int) -> None:
    if purpose not in PURPOSES:
        raise InvalidRequest("'purpose' must be 0 to 5.", param="purpose")


def _checked(meta: NewFile) -> NewFile:
    _check_filename(meta.filename)
    _check_purpose(meta.purpose)
    _check_tags(meta.tags)
    check_expiry(meta.expires_at)
    return NewFile(
        meta.filename,
        meta.purpose,
        meta.is_public,
        tuple(dict.fromkeys(meta.tags)),
        meta.expires_at,
        meta.mime_type,
    )


def _check_changes(changes: FileChanges) -> None:
    if changes.filename is not None:
        _check_filename(changes.filename)
    if changes.purpose is not None:
        _check_purpose(changes.purpose)
    if changes.tags is not None:
        _check_tags(changes.tags)
    if changes.unset_expires_at and changes.expires_at is not None:
        raise InvalidRequest(
            "Give 'expires_at' or 'unset_expires_at', not both.", param="unset_expires_at"
        )
    check_expiry(changes.expires_at)
