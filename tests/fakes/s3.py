"""A real S3-compatible server on loopback: moto's server mode, over HTTP.

The blob store's S3 tests talk to it exactly as to AWS or MinIO (signed requests,
multipart uploads, ranged GETs), so nothing of ours is patched. One server per test
session is enough: each user of it makes a bucket of its own.
"""

from __future__ import annotations

import uuid
from types import TracebackType

import boto3
from moto.server import ThreadedMotoServer

__all__ = ["ACCESS_KEY", "SECRET_KEY", "FakeS3"]

ACCESS_KEY = "relaygate-test"
SECRET_KEY = "relaygate-test-secret"


class FakeS3:
    def __init__(self) -> None:
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self.endpoint = ""

    def __enter__(self) -> FakeS3:
        self._server.start()
        host, port = self._server.get_host_and_port()
        self.endpoint = f"http://{host}:{port}"
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._server.stop()

    def client(self):  # type: ignore[no-untyped-def]
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            region_name="us-east-1",
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
        )

    def new_bucket(self) -> str:
        name = f"rg-{uuid.uuid4().hex[:20]}"
        self.client().create_bucket(Bucket=name)
        return name

    def url(self, bucket: str, prefix: str = "files") -> str:
        """The gateway's ``blob_url`` for ``bucket``."""
        return f"s3://{bucket}/{prefix}?endpoint={self.endpoint}&region=us-east-1"

    def keys(self, bucket: str) -> list[str]:
        listed = self.client().list_objects_v2(Bucket=bucket)
        return [str(item["Key"]) for item in listed.get("Contents", [])]

    def pending_uploads(self, bucket: str) -> int:
        listed = self.client().list_multipart_uploads(Bucket=bucket)
        return len(listed.get("Uploads", []))
