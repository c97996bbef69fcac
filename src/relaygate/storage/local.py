"""Blobs in a local directory: the embedded mode's store.

An object is written to ``<root>/.tmp/<name>.<random>``, flushed to disk, then renamed to
``<root>/<first two characters>/<name>``: a rename within one file system is atomic, so a
reader sees the whole object or none, and an upload that fails leaves only a temporary
file, removed at once (or, after a crash, at the next start). Names are Relaygate's ids
(checked against :data:`~relaygate.storage.blobstore.NAME_PATTERN`), never user file
names, so no path can leave the directory.

Disk reads and the final flush run in worker threads; the writes of incoming chunks go
to the page cache and are short enough to stay on the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import BinaryIO

from relaygate.storage.blobstore import BlobNotFound, ByteRange, check_name

__all__ = ["LocalBlobStore"]

READ_BLOCK = 256 * 1024
_STALE_TMP_S = 3600.0  # leftovers of a crashed process, removed at start


class LocalBlobStore:
    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self.tmp = self.root / ".tmp"
        self.tmp.mkdir(parents=True, exist_ok=True)
        self._clean_tmp()

    def _clean_tmp(self) -> None:
        cutoff = time.time() - _STALE_TMP_S
        for leftover in self.tmp.iterdir():
            with contextlib.suppress(OSError):
                if leftover.stat().st_mtime < cutoff:
                    leftover.unlink()

    def _path(self, name: str) -> Path:
        check_name(name)
        return self.root / name[:2] / name

    async def put(self, name: str, chunks: AsyncIterator[bytes]) -> int:
        final = self._path(name)
        partial = self.tmp / f"{name}.{secrets.token_hex(8)}"
        size = 0
        try:
            with partial.open("xb") as out:
                async for chunk in chunks:
                    out.write(chunk)
                    size += len(chunk)
                await asyncio.to_thread(_flush, out)
            final.parent.mkdir(exist_ok=True)
            os.replace(partial, final)
        except BaseException:
            with contextlib.suppress(OSError):
                partial.unlink()
            raise
        return size

    async def get(self, name: str, byte_range: ByteRange | None = None) -> AsyncIterator[bytes]:
        try:
            source = self._path(name).open("rb")
        except FileNotFoundError:
            raise BlobNotFound(name) from None
        with source:
            left = -1
            if byte_range is not None:
                source.seek(byte_range.start)
                left = byte_range.length
            while left != 0:
                want = READ_BLOCK if left < 0 else min(READ_BLOCK, left)
                block = await asyncio.to_thread(source.read, want)
                if not block:
                    return
                if left > 0:
                    left -= len(block)
                yield block

    async def delete(self, name: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self._path(name).unlink()

    async def size(self, name: str) -> int | None:
        try:
            return self._path(name).stat().st_size
        except FileNotFoundError:
            return None

    async def close(self) -> None:
        return None


def _flush(out: BinaryIO) -> None:
    out.flush()
    os.fsync(out.fileno())
