"""``RELAYGATE_BLOB_URL`` → a :class:`~relaygate.storage.blobstore.BlobStore`.

``file:///abs/dir`` or ``file://relative/dir`` (relative to the working directory): a
local directory. ``s3://bucket[/prefix]?endpoint=...&region=...``: an S3-compatible
bucket, whose client library is imported here and only here (storage/s3.py says why).
"""

from __future__ import annotations

from pathlib import Path

from relaygate.storage.blobstore import BlobStore
from relaygate.storage.local import LocalBlobStore

__all__ = ["local_dir", "open_blobs"]


def local_dir(url: str) -> Path:
    """The directory of a ``file://`` URL (``file:///srv/files``, ``file://files``)."""
    if not url.startswith("file://"):
        raise ValueError(f"not a file:// blob URL: {url!r}")
    path = url[len("file://") :]
    if not path:
        raise ValueError("a file:// blob URL needs a directory")
    return Path(path)


async def open_blobs(
    url: str, *, access_key_id: str = "", secret_access_key: str = "", region: str = ""
) -> BlobStore:
    if url.startswith("s3://"):
        from relaygate.storage.s3 import S3BlobStore

        return await S3BlobStore.open(url, access_key_id, secret_access_key, region)
    if url.startswith("file://"):
        return LocalBlobStore(local_dir(url))
    raise ValueError(f"RELAYGATE_BLOB_URL must be file://... or s3://..., not {url!r}")
