"""Stored files as a model call's inputs: the parts a call names them in, filled inline.

The caller's dialect finds the parts (``Dialect.file_inputs``, relay/dialects/
file_inputs.py) and says how each is filled; this reads the files. It runs once per
call, in the call lifecycle (``CallLifecycle.attach_files``), after the caller is
authenticated and the model admitted, and only for a body that mentions a file at all.

The caller's own live files only: one with another owner, an unknown, expired or
deleted one is the same 400 naming the id (as on the files API, the answer never tells
whether a file exists). Only files kept for chats can be inputs (``COMMON``, ``CHAT``,
``LLM_TMP``; fine-tuning and batch files are refused), only types the upstreams take
inline (images, PDFs, plain text), and at most ``max_file_bytes`` each and
``max_total_bytes`` per call (413), read whole into memory: they are sent whole.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from relaygate.core.errors import InvalidRequest, NotFound, PayloadTooLarge
from relaygate.relay.dialects.file_inputs import DOCUMENT_TYPES, IMAGE_TYPES, FileBytes, FileInput
from relaygate.storage.models import StoredFile
from relaygate.storage.service import PURPOSES, FileService

__all__ = ["INPUT_PURPOSES", "FileInputs"]

INPUT_PURPOSES = frozenset({0, 2, 3})  # COMMON, CHAT, LLM_TMP
_USABLE = IMAGE_TYPES | DOCUMENT_TYPES


@dataclass(frozen=True, slots=True)
class FileInputs:
    files: FileService
    max_file_bytes: int
    max_total_bytes: int

    async def attach(self, user_id: int, wanted: Sequence[FileInput]) -> None:
        """Fill every part of ``wanted`` with its file (the caller's 400 or 413 when one
        cannot be used); one database read for all of them."""
        uids = list(dict.fromkeys(ref.uid for ref in wanted))
        rows = {row.uid: row for row in await self.files.many(user_id, uids)}
        total = 0
        for ref in wanted:
            row = rows.get(ref.uid)
            self._check(ref, row)
            assert row is not None
            total += row.size
            if total > self.max_total_bytes:
                raise PayloadTooLarge(
                    f"The files of this call take more than {self.max_total_bytes} bytes.",
                    param=ref.param,
                )
        read: dict[str, FileBytes] = {}
        for ref in wanted:
            file = read.get(ref.uid)
            if file is None:
                file = read[ref.uid] = await self._read(rows[ref.uid], ref.param)
            ref.fill(file)

    def _check(self, ref: FileInput, row: StoredFile | None) -> None:
        uid = ref.uid[:40]
        if row is None:
            raise InvalidRequest(
                f"No file {uid!r}: give the id of one of your stored files.",
                param=ref.param,
                code="file_not_found",
            )
        if row.purpose not in INPUT_PURPOSES:
            raise InvalidRequest(
                f"File {uid!r} is stored for {PURPOSES.get(row.purpose, row.purpose)}; only "
                "COMMON, CHAT and LLM_TMP files can be model inputs.",
                param=ref.param,
                code="invalid_file",
            )
        if media_type(row.mime_type) not in _USABLE:
            raise InvalidRequest(
                f"File {uid!r} is {row.mime_type}; a model input must be an image (PNG, "
                "JPEG, GIF, WebP), a PDF or plain text.",
                param=ref.param,
                code="invalid_file",
            )
        if row.size > self.max_file_bytes:
            raise PayloadTooLarge(
                f"File {uid!r} is {row.size} bytes; a model input may be at most "
                f"{self.max_file_bytes}.",
                param=ref.param,
            )

    async def _read(self, row: StoredFile, param: str) -> FileBytes:
        data = bytearray()
        try:
            async for chunk in await self.files.open(row):
                data += chunk
        except NotFound:  # deleted since it was looked up
            raise InvalidRequest(
                f"No file {row.uid!r}: give the id of one of your stored files.",
                param=param,
                code="file_not_found",
            ) from None
        return FileBytes(row.uid, row.filename, media_type(row.mime_type), bytes(data))


def media_type(mime_type: str) -> str:
    """The type without its parameters (``text/plain; charset=utf-8`` → ``text/plain``)."""
    return mime_type.split(";", 1)[0].strip().lower()
