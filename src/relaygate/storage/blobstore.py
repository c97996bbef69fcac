"""The contract of the place file bytes live: a directory (embedded) or an S3 bucket.

Why a protocol and not a file system path: the scale-out mode runs N stateless replicas,
and a file uploaded through one must be downloadable through every other, so the bytes
live behind a URL (``RELAYGATE_BLOB_URL``) and every capability that keeps files talks to
this protocol only. Both implementations pass one contract suite
(``tests/contract/test_blobstore_contract.py``); what it does not test is not promised.

Promises:

* ``put`` streams: it consumes the chunks as they come and never holds the whole object.
  It is atomic: the object appears under ``name`` only once every chunk was written; if
  the chunks' iterator raises (a limit, a client that went away) nothing is left behind
  and the exception propagates unchanged.
* ``get`` streams the object, or the inclusive byte range ``[start, end]`` of it.
* ``delete`` is idempotent; ``size`` is ``None`` for a missing object.

Names are chosen by Relaygate (file ids), never by users: an implementation refuses any
name outside :data:`NAME_PATTERN`, so no user text can become a path or a key prefix.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Protocol

__all__ = ["NAME_PATTERN", "BlobNotFound", "BlobStore", "ByteRange", "check_name"]

NAME_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,64}")


class BlobNotFound(LookupError):
    """No object of that name (deleted, or never committed)."""


def check_name(name: str) -> str:
    """The name, if it is one of ours; a ``ValueError`` otherwise (a bug, not input)."""
    if not NAME_PATTERN.fullmatch(name):
        raise ValueError(f"not a blob name: {name[:80]!r}")
    return name


@dataclass(frozen=True, slots=True)
class ByteRange:
    """Bytes ``start`` to ``end`` inclusive (HTTP's own convention), within the object."""

    start: int
    end: int

    @property
    def length(self) -> int:
        return self.end - self.start + 1


class BlobStore(Protocol):
    """Where file bytes live; built once from ``RELAYGATE_BLOB_URL`` (storage/factory.py)."""

    async def put(self, name: str, chunks: AsyncIterator[bytes]) -> int:
        """Store the chunks under ``name`` atomically; returns the size written."""
        ...

    def get(self, name: str, byte_range: ByteRange | None = None) -> AsyncIterator[bytes]:
        """The object's bytes (or the range's) as they are read; raises
        :class:`BlobNotFound` on the first iteration when there is no such object."""
        ...

    async def delete(self, name: str) -> None: ...

    async def size(self, name: str) -> int | None: ...

    async def close(self) -> None: ...
