"""Blobs in an S3-compatible bucket (AWS S3, MinIO, Ceph, R2...): the scale-out store.

Imported only when ``RELAYGATE_BLOB_URL`` is ``s3://...``: aiobotocore and botocore cost
tens of megabytes and a noticeable start-up time that the embedded mode never needs.

``put`` sends an object smaller than one part with a single PUT; a larger one as a
multipart upload of :data:`PART_SIZE` parts, so at most one part is in memory per upload.
Either way the object appears only when complete: a multipart upload is invisible until
it is completed, and one that fails is aborted (the bucket keeps no parts). ``get`` is a
ranged GET when asked for a range, streamed as the body arrives.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

from aiobotocore.config import AioConfig
from aiobotocore.session import get_session
from botocore.exceptions import ClientError

from relaygate.storage.blobstore import BlobNotFound, ByteRange, check_name

__all__ = ["PART_SIZE", "S3BlobStore", "S3Location", "parse_s3_url"]

PART_SIZE = 8 * 1024 * 1024  # S3's minimum part is 5 MiB (the last one excepted)
READ_CHUNK = 256 * 1024
_MISSING = frozenset({"NoSuchKey", "404", "NotFound"})


@dataclass(frozen=True, slots=True)
class S3Location:
    """What ``s3://bucket/prefix?endpoint=...&region=...`` names."""

    bucket: str
    prefix: str
    endpoint: str | None
    region: str | None
    path_style: bool


def parse_s3_url(url: str) -> S3Location:
    """``s3://bucket[/prefix][?endpoint=http://host:9000][&region=r][&path_style=true]``."""
    parts = urlsplit(url)
    if parts.scheme != "s3" or not parts.netloc:
        raise ValueError(f"not an s3:// blob URL with a bucket: {url!r}")
    query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    prefix = parts.path.strip("/")
    return S3Location(
        bucket=parts.netloc,
        prefix=f"{prefix}/" if prefix else "",
        endpoint=query.get("endpoint") or None,
        region=query.get("region") or None,
        path_style=query.get("path_style", "true" if "endpoint" in query else "false")
        in ("1", "true"),
    )


class S3BlobStore:
    """Built with :meth:`open` (the client is an async context); closed with the app."""

    def __init__(self, client: Any, location: S3Location, stack: AsyncExitStack) -> None:
        self.client = client
        self.location = location
        self._stack = stack

    @classmethod
    async def open(
        cls, url: str, access_key_id: str = "", secret_access_key: str = "", region: str = ""
    ) -> S3BlobStore:
        """The client for ``url``; credentials from the settings, else botocore's own
        chain (the instance's role, ``~/.aws``)."""
        location = parse_s3_url(url)
        config = AioConfig(
            s3={"addressing_style": "path" if location.path_style else "auto"},
            retries={"max_attempts": 3, "mode": "standard"},
        )
        credentials: dict[str, Any] = {}
        if access_key_id:
            credentials = {
                "aws_access_key_id": access_key_id,
                "aws_secret_access_key": secret_access_key,
            }
        stack = AsyncExitStack()
        client = await stack.enter_async_context(
            get_session().create_client(
                "s3",
                region_name=location.region or region or "us-east-1",
                endpoint_url=location.endpoint,
                config=config,
                **credentials,
            )
        )
        return cls(client, location, stack)

    def _key(self, name: str) -> str:
        return self.location.prefix + check_name(name)

    async def put(self, name: str, chunks: AsyncIterator[bytes]) -> int:
        key, bucket = self._key(name), self.location.bucket
        buffer = bytearray()
        size = 0
        upload_id: str | None = None
        parts: list[dict[str, Any]] = []
        try:
            async for chunk in chunks:
                buffer += chunk
                size += len(chunk)
                if len(buffer) >= PART_SIZE:
                    if upload_id is None:
                        started = await self.client.create_multipart_upload(Bucket=bucket, Key=key)
                        upload_id = str(started["UploadId"])
                    parts.append(await self._part(key, upload_id, len(parts) + 1, buffer))
                    buffer = bytearray()
            if upload_id is None:
                await self.client.put_object(Bucket=bucket, Key=key, Body=bytes(buffer))
                return size
            if buffer or not parts:
                parts.append(await self._part(key, upload_id, len(parts) + 1, buffer))
            await self.client.complete_multipart_upload(
                Bucket=bucket, Key=key, UploadId=upload_id, MultipartUpload={"Parts": parts}
            )
        except BaseException:
            if upload_id is not None:
                await self.client.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id)
            raise
        return size

    async def _part(self, key: str, upload_id: str, number: int, data: bytearray) -> dict[str, Any]:
        answer = await self.client.upload_part(
            Bucket=self.location.bucket,
            Key=key,
            UploadId=upload_id,
            PartNumber=number,
            Body=bytes(data),
        )
        return {"ETag": answer["ETag"], "PartNumber": number}

    async def get(self, name: str, byte_range: ByteRange | None = None) -> AsyncIterator[bytes]:
        extra = {}
        if byte_range is not None:
            extra["Range"] = f"bytes={byte_range.start}-{byte_range.end}"
        try:
            answer = await self.client.get_object(
                Bucket=self.location.bucket, Key=self._key(name), **extra
            )
        except ClientError as exc:
            if _code(exc) in _MISSING:
                raise BlobNotFound(name) from None
            raise
        async with answer["Body"] as body:
            async for chunk in body.iter_chunks(READ_CHUNK):
                yield chunk

    async def delete(self, name: str) -> None:
        await self.client.delete_object(Bucket=self.location.bucket, Key=self._key(name))

    async def size(self, name: str) -> int | None:
        try:
            head = await self.client.head_object(Bucket=self.location.bucket, Key=self._key(name))
        except ClientError as exc:
            if _code(exc) in _MISSING:
                return None
            raise
        return int(head["ContentLength"])

    async def close(self) -> None:
        await self._stack.aclose()


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))
