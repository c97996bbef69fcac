"""Generated images re-hosted in Relaygate's own storage (docs/storage.md).

An upstream's image URL is signed and short-lived (Black Forest Labs': ten minutes), so
each image is downloaded as soon as its task is done (through the channel's proxy and
timeouts, at most ``tools_image_max_bytes``, within ``tools_image_download_seconds``)
and stored as one of the caller's files (purpose ``COMMON``, tagged ``draw`` and the
model), under the caller's quota like any upload, with a public or a private link as
the call asked. The URL comes from the upstream the operator chose, so it is fetched
as that upstream is; only ``http``/``https`` URLs are.

Storing is best effort: when an image cannot be downloaded or stored (the quota is
full, the store is down), the caller still gets the upstream's own URL, with
``"stored": false`` and a ``note`` saying why, rather than losing an image that was
made (and is billed). ``b64_json`` needs the bytes: it is there whenever the download
worked.
"""

from __future__ import annotations

import asyncio
import base64
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from relaygate.channels.spec import ChannelSpec
from relaygate.core.errors import RelaygateError
from relaygate.relay.providers.call_options import call_options
from relaygate.relay.transport import HTTPClient, TransportError
from relaygate.storage.service import FileService, NewFile
from relaygate.tools.record import ImageDelivery

__all__ = ["ImageStore", "image_type"]

log = logging.getLogger(__name__)

_HEADERS = b"User-Agent: Relaygate\r\nAccept: image/*\r\n"
_EXTENSIONS = {"image/png": "png", "image/jpeg": "jpg", "image/webp": "webp", "image/gif": "gif"}
COMMON = 0  # the storage purpose of generated images (storage.service.PURPOSES)


def image_type(data: bytes) -> str | None:
    """The image type the bytes are (their signature, never a header's word), or None."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if data.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    return None


class _Unusable(Exception):
    """Why an image's bytes could not be had (for the caller's ``note``)."""


async def _once(data: bytes) -> AsyncIterator[bytes]:
    yield data


@dataclass(frozen=True, slots=True)
class ImageStore:
    files: FileService | None  # None: nothing is stored, every image keeps its upstream URL
    client: HTTPClient
    base_url: str  # the gateway's public address, for the links
    max_bytes: int
    timeout: float

    async def outputs(
        self,
        user_id: int,
        name: str,
        tags: tuple[str, ...],
        delivery: ImageDelivery,
        images: list[dict[str, Any]],
        channel: ChannelSpec | None,
    ) -> list[dict[str, Any]]:
        """The caller's output objects, in the upstream's order (``name``: the files'
        name, numbered)."""
        return list(
            await asyncio.gather(
                *(
                    self._one(user_id, f"{name}-{index}", tags, delivery, image, channel)
                    for index, image in enumerate(images, start=1)
                )
            )
        )

    async def _one(
        self,
        user_id: int,
        name: str,
        tags: tuple[str, ...],
        delivery: ImageDelivery,
        image: dict[str, Any],
        channel: ChannelSpec | None,
    ) -> dict[str, Any]:
        source: str = image["url"]
        output: dict[str, Any] = {"url": source}
        if "seed" in image:
            output["seed"] = image["seed"]
        try:
            data = await self._download(source, channel)
            kind = image_type(data)
            if kind is None:
                raise _Unusable("the upstream's file is not a png, jpeg, webp or gif image")
        except _Unusable as why:
            return {**output, "stored": False, "note": _note(str(why))}
        output["content_type"] = kind
        if delivery.b64:
            output["b64_json"] = base64.b64encode(data).decode("ascii")
        try:
            filename = f"{name}.{_EXTENSIONS[kind]}"
            link = await self._store(user_id, filename, tags, data, kind, delivery.public)
        except _Unusable as why:
            return {**output, "stored": False, "note": _note(str(why))}
        return {**output, **link, "stored": True}

    async def _download(self, url: str, channel: ChannelSpec | None) -> bytes:
        options = call_options(channel) if channel is not None else None
        parts: list[bytes] = []
        try:
            async with asyncio.timeout(self.timeout):
                response = await self.client.request(b"GET", url, _HEADERS, b"", options)
                try:
                    if response.status != 200:
                        raise _Unusable(f"its URL answered {response.status}")
                    size = 0
                    async for chunk in response.iter_chunks():
                        size += len(chunk)
                        if size > self.max_bytes:
                            raise _Unusable(f"it is larger than {self.max_bytes} bytes")
                        parts.append(chunk)
                finally:
                    response.close()
        except TimeoutError as exc:
            raise _Unusable("its download took too long") from exc
        except TransportError as exc:
            raise _Unusable("it could not be downloaded") from exc
        return b"".join(parts)

    async def _store(
        self,
        user_id: int,
        filename: str,
        tags: tuple[str, ...],
        data: bytes,
        kind: str,
        public: bool,
    ) -> dict[str, Any]:
        if self.files is None:
            raise _Unusable("this gateway stores no files")
        meta = NewFile(filename, COMMON, public, tags, None, kind)
        try:
            stored = await self.files.upload(user_id, _once(data), lambda: meta)
        except RelaygateError as err:  # the quota, the largest file of the caller's tier
            raise _Unusable(err.message) from err
        except Exception as exc:  # the store or the database is down: the upstream URL will do
            log.warning("a generated image could not be stored", exc_info=True)
            raise _Unusable("the file store could not take it") from exc
        where = "files/public" if public else "user/files/download"
        url = f"{self.base_url.rstrip('/')}/api/v1/{where}/{stored.uid}"
        return {"url": url, "fileUniqueID": stored.uid, "is_public": public}


def _note(why: str) -> str:
    return (
        f"Relaygate could not keep this image ({why}); the URL is the upstream's own and"
        " expires soon."
    )
