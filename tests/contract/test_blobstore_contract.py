"""One contract for every blob store: the same tests on a local directory and on a real
S3-compatible server (moto's, over HTTP on loopback), as the kv contract does for memory
and Redis. What storage/blobstore.py promises is what is tested here."""

from __future__ import annotations

import hashlib
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from relaygate.storage.blobstore import BlobNotFound, BlobStore, ByteRange
from relaygate.storage.factory import open_blobs
from relaygate.storage.s3 import PART_SIZE
from tests.fakes.s3 import ACCESS_KEY, SECRET_KEY, FakeS3


@pytest.fixture(scope="module")
def s3_server() -> Iterator[FakeS3]:
    with FakeS3() as server:
        yield server


class Store:
    """A store and a way to see what it holds underneath (files or bucket keys)."""

    def __init__(self, blobs: BlobStore, leftovers: object) -> None:
        self.blobs = blobs
        self._leftovers = leftovers

    def leftovers(self) -> list[str]:
        return self._leftovers()  # type: ignore[operator,no-any-return]


@pytest.fixture(params=["local", "s3"])
async def store(
    request: pytest.FixtureRequest, tmp_path: Path, s3_server: FakeS3
) -> AsyncIterator[Store]:
    if request.param == "local":
        blobs = await open_blobs(f"file://{tmp_path}/blobs")
        root = tmp_path / "blobs"

        def files() -> list[str]:
            return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())

        yield Store(blobs, files)
    else:
        bucket = s3_server.new_bucket()
        blobs = await open_blobs(
            s3_server.url(bucket), access_key_id=ACCESS_KEY, secret_access_key=SECRET_KEY
        )

        def keys() -> list[str]:
            return s3_server.keys(bucket) + ["upload"] * s3_server.pending_uploads(bucket)

        yield Store(blobs, keys)
    await blobs.close()


async def _chunks(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


async def _read(blobs: BlobStore, name: str, byte_range: ByteRange | None = None) -> bytes:
    return b"".join([chunk async for chunk in blobs.get(name, byte_range)])


async def test_put_then_get_returns_the_bytes(store: Store) -> None:
    size = await store.blobs.put("abc_DEF-123", _chunks(b"hello ", b"", b"world"))
    assert size == 11
    assert await _read(store.blobs, "abc_DEF-123") == b"hello world"
    assert await store.blobs.size("abc_DEF-123") == 11


async def test_empty_object(store: Store) -> None:
    assert await store.blobs.put("empty", _chunks()) == 0
    assert await _read(store.blobs, "empty") == b""
    assert await store.blobs.size("empty") == 0


async def test_ranges_are_inclusive(store: Store) -> None:
    await store.blobs.put("ranged", _chunks(bytes(range(256)) * 4))
    assert await _read(store.blobs, "ranged", ByteRange(0, 0)) == b"\x00"
    assert await _read(store.blobs, "ranged", ByteRange(10, 19)) == bytes(range(10, 20))
    assert await _read(store.blobs, "ranged", ByteRange(1020, 1023)) == bytes(range(252, 256))


async def test_missing_object(store: Store) -> None:
    assert await store.blobs.size("nothing") is None
    with pytest.raises(BlobNotFound):
        await _read(store.blobs, "nothing")
    await store.blobs.delete("nothing")  # idempotent


async def test_delete_removes_the_object(store: Store) -> None:
    await store.blobs.put("gone", _chunks(b"x" * 100))
    await store.blobs.delete("gone")
    assert await store.blobs.size("gone") is None
    with pytest.raises(BlobNotFound):
        await _read(store.blobs, "gone")
    assert store.leftovers() == []


async def test_put_overwrites(store: Store) -> None:
    await store.blobs.put("again", _chunks(b"first"))
    await store.blobs.put("again", _chunks(b"second"))
    assert await _read(store.blobs, "again") == b"second"


class Refused(Exception):
    pass


async def _failing(after: int, chunk: bytes) -> AsyncIterator[bytes]:
    sent = 0
    while sent < after:
        yield chunk
        sent += len(chunk)
    raise Refused


async def test_a_failed_put_leaves_nothing(store: Store) -> None:
    with pytest.raises(Refused):
        await store.blobs.put("failed", _failing(1000, b"y" * 100))
    assert await store.blobs.size("failed") is None
    assert store.leftovers() == []


async def test_a_failed_large_put_leaves_no_parts(store: Store) -> None:
    """Past one S3 part the upload is multipart: a failure aborts it."""
    with pytest.raises(Refused):
        await store.blobs.put("failed-big", _failing(PART_SIZE * 2, b"z" * (1024 * 1024)))
    assert await store.blobs.size("failed-big") is None
    assert store.leftovers() == []


async def test_large_objects_stream_in_parts(store: Store) -> None:
    """Several S3 parts plus a short last one; the bytes and a late range come back."""
    block = os.urandom(1024 * 1024)
    count = PART_SIZE // len(block) * 2 + 3
    size = await store.blobs.put("big", _chunks(*([block] * count)))
    assert size == len(block) * count
    digest = hashlib.sha256()
    async for chunk in store.blobs.get("big"):
        digest.update(chunk)
    assert digest.hexdigest() == hashlib.sha256(block * count).hexdigest()
    tail = await _read(store.blobs, "big", ByteRange(size - 10, size - 1))
    assert tail == block[-10:]


async def test_names_are_ours_only(store: Store) -> None:
    for bad in ("../../etc/passwd", "a/b", "", ".hidden", "x" * 65, "name with space"):
        with pytest.raises(ValueError):
            await store.blobs.put(bad, _chunks(b"x"))
        with pytest.raises(ValueError):
            await store.blobs.size(bad)
    assert store.leftovers() == []
