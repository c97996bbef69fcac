"""The files API (platform-api.md §9; docs/storage.md), in the platform envelope.

Uploads are ``multipart/form-data`` read as a stream (storage/multipart.py) straight into
the blob store; the other user routes take JSON. The user routes accept any of the user's
API keys or their signed-in console session (with ``X-CSRF-Token`` on POSTs); a public
file's download and metadata need nothing. Another user's file, like an unknown or an
expired one, is a 404 on every route.

Downloads (storage/content.py says why each header): the stored type with ``nosniff``,
``attachment`` for anything a browser could run, a ``sandbox`` CSP, the SHA-256 as a
strong ETag (``If-None-Match`` → 304), and one byte range (206, or 416 past the end).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Annotated, Any, Generic, TypeVar

from fastapi import APIRouter, Path, Request
from fastapi.responses import Response, StreamingResponse
from pydantic import AliasChoices, BaseModel, ConfigDict, Field, StringConstraints

from relaygate.accounts.user_api import KeyOrSessionDep
from relaygate.core.envelope import ErrorEnvelope, envelope, error_responses, refused_when
from relaygate.core.errors import ClientError, InvalidRequest, RangeNotSatisfiable
from relaygate.core.forms import parse_bool
from relaygate.core.pagination import parse_instant
from relaygate.core.patch import omittable
from relaygate.services import FilesDep
from relaygate.storage.content import (
    DOWNLOAD_CSP,
    Unsatisfiable,
    content_disposition,
    etag,
    is_inline,
    none_match,
    parse_range,
    pick_mime_type,
)
from relaygate.storage.models import StoredFile
from relaygate.storage.multipart import MAX_FIELD_BYTES, OVERHEAD_BYTES, UploadForm
from relaygate.storage.repository import FileFilter
from relaygate.storage.service import MAX_TAGS, FileChanges, FileService, NewFile

__all__ = ["describe_upload", "file_out", "router", "stream_upload"]

_DRAIN_BYTES = 16 * 1024 * 1024  # read (and drop) after a refusal, so the client sees it

FileId = Annotated[str, StringConstraints(min_length=1, max_length=64)]
Filename = Annotated[
    str, StringConstraints(min_length=1, max_length=255, pattern=r"^[^\x00-\x1f]+$")
]
Tag = Annotated[str, StringConstraints(min_length=1, max_length=64)]
Purpose = Annotated[
    int,
    Field(
        ge=0,
        le=5,
        description="0 COMMON, 1 FINETUNE, 2 CHAT, 3 LLM_TMP, 4 OPENAI_BATCH, 5 ANTHROPIC_BATCH",
    ),
]
_ONE_ID = AliasChoices("fileUniqueId", "fileUniqueID")
_MANY_IDS = AliasChoices("fileUniqueIds", "fileUinqueIds", "fileUniqueIDs")


class UpdateIn(BaseModel):
    """Fields left out stay as they are; ``fileUniqueID`` is accepted for ``fileUniqueId``."""

    model_config = ConfigDict(extra="forbid")

    fileUniqueId: FileId = Field(validation_alias=_ONE_ID)  # noqa: N815 - the wire name
    filename: Filename = omittable()
    purpose: Purpose = omittable()
    is_public: bool = omittable()
    tags: list[Tag] = omittable(max_length=MAX_TAGS)
    expires_at: datetime | None = Field(default=None, description="In the future.")
    unset_expires_at: bool = False


class DeleteIn(BaseModel):
    """Many ids (``fileUniqueIds``) or one (``fileUniqueId``)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "anyOf": [{"required": ["fileUniqueIds"]}, {"required": ["fileUniqueId"]}]
        },
    )

    fileUniqueIds: list[FileId] = omittable(  # noqa: N815
        validation_alias=_MANY_IDS, min_length=1, max_length=1000
    )
    fileUniqueId: FileId = omittable(validation_alias=_ONE_ID)  # noqa: N815


class MetadataIn(BaseModel):
    """The menu's spelling ``fileUinqueIds`` is accepted too."""

    model_config = ConfigDict(extra="forbid")

    fileUniqueIds: list[FileId] = Field(validation_alias=_MANY_IDS, max_length=100)  # noqa: N815


class QueryIn(BaseModel):
    """A page of the caller's files, newest first. ``tags``: files having all of them;
    ``filename``: a case-insensitive part of the name; times: ``created_at`` bounds."""

    model_config = ConfigDict(extra="forbid")

    page: int = Field(default=1, ge=1, le=1_000_000)
    pageSize: int = Field(default=20, ge=1, le=100)  # noqa: N815
    purpose: Purpose | None = None
    tags: list[Tag] | None = Field(default=None, max_length=MAX_TAGS)
    is_public: bool | None = None
    filename: str | None = Field(default=None, max_length=255)
    created_after: datetime | None = None
    created_before: datetime | None = None


class FileOut(BaseModel):
    fileUniqueId: str  # noqa: N815
    filename: str
    purpose: int
    is_public: bool
    tags: list[str]
    size: int
    mime_type: str
    sha256: str
    expires_at: str | None
    created_at: str
    updated_at: str


class UploadedOut(FileOut):
    fileUniqueID: str  # noqa: N815 - the upload answer's spelling (platform-api.md §9.1)


class Affected(BaseModel):
    affectedRows: int  # noqa: N815


class QueryOut(BaseModel):
    total: int
    page: int
    pageSize: int  # noqa: N815
    list: list[FileOut]


Data = TypeVar("Data")


class Enveloped(BaseModel, Generic[Data]):
    """The platform envelope around a route's ``data``, for the OpenAPI document."""

    statusCode: int  # noqa: N815
    message: str
    data: Data


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat().replace("+00:00", "Z")


def file_out(row: StoredFile) -> dict[str, Any]:
    return {
        "fileUniqueId": row.uid,
        "filename": row.filename,
        "purpose": row.purpose,
        "is_public": row.is_public,
        "tags": list(row.tags),
        "size": row.size,
        "mime_type": row.mime_type,
        "sha256": row.sha256,
        "expires_at": _iso(row.expires_at),
        "created_at": _iso(row.created_at),
        "updated_at": _iso(row.updated_at),
    }


def _utc(moment: datetime | None, field: str) -> datetime | None:
    if moment is None:
        return None
    try:
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    except OverflowError:
        raise InvalidRequest(f"'{field}' is out of range.", param=field) from None


router = APIRouter(tags=["platform: files"])
_USER_ERRORS = error_responses(400, 401, 403, 500)
_NOT_FOUND = error_responses(404)

# ------------------------------------------------------------------ upload

_UPLOAD_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {
                        "file": {"type": "string", "format": "binary"},
                        "filename": {
                            "type": "string",
                            "minLength": 1,
                            "maxLength": 255,
                            "pattern": "^[^\\u0000-\\u001f]+$",
                            "description": "The display name (default: the part's file "
                            "name). Never used as a path.",
                        },
                        "purpose": {"type": "integer", "minimum": 0, "maximum": 5},
                        "is_public": {"type": "string", "enum": ["true", "false", "1", "0"]},
                        "tags": {
                            "type": "array",
                            "maxItems": MAX_TAGS,
                            "items": {"type": "string", "minLength": 1, "maxLength": 64},
                        },
                        "expires_at": {
                            "type": "string",
                            "format": "date-time",
                            "description": "ISO 8601 with an offset, in the future: the "
                            "file is deleted then.",
                        },
                    },
                },
                "encoding": {"tags": {"style": "form", "explode": True}},
            }
        },
    }
}


class _Body:
    """The request body as it arrives, and whether it has all arrived (so that what is
    left after a refusal can be read and dropped without waiting for more)."""

    def __init__(self, request: Request) -> None:
        self.receive = request.receive
        self.done = False

    async def chunks(self) -> AsyncIterator[bytes]:
        while not self.done:
            message = await self.receive()
            if message["type"] != "http.request":
                self.done = True
                raise InvalidRequest("The client went away during the upload.", param="file")
            self.done = not message.get("more_body", False)
            chunk = message.get("body", b"")
            if chunk:
                yield chunk

    async def drain(self, limit: int) -> None:
        left = limit
        async for chunk in self.chunks():
            left -= len(chunk)
            if left <= 0:
                return


def describe_upload(form: UploadForm) -> NewFile:
    """The upload's metadata from its text fields (read once the body is in)."""
    filename = form.value("filename") or form.filename
    if not filename:
        raise InvalidRequest("'filename' is required.", param="filename")
    purpose_text = form.value("purpose")
    try:
        purpose = int(purpose_text) if purpose_text not in (None, "") else 0
    except ValueError:
        raise InvalidRequest("'purpose' must be 0 to 5.", param="purpose") from None
    public_text = form.value("is_public")
    expires_text = form.value("expires_at")
    tags = [tag for tag in form.values("tags") + form.values("tags[]") if tag != ""]
    return NewFile(
        filename=filename,
        purpose=purpose,
        is_public=parse_bool(public_text, "is_public") if public_text else False,
        tags=tuple(tags),
        expires_at=parse_instant(expires_text, "expires_at") if expires_text else None,
        mime_type=pick_mime_type(form.content_type, filename),
    )


async def _guarded(
    form: UploadForm, chunks: AsyncIterator[bytes], guard: Callable[[UploadForm], None]
) -> AsyncIterator[bytes]:
    """The file's bytes, ``guard`` run on the fields sent before them (before the first
    byte is stored; at the end for an empty file)."""
    guarded = False
    async for chunk in chunks:
        if not guarded:
            guard(form)
            guarded = True
        yield chunk
    if not guarded:
        guard(form)


async def stream_upload(
    request: Request,
    user_id: int,
    svc: FileService,
    describe: Callable[[UploadForm], NewFile] = describe_upload,
    guard: Callable[[UploadForm], None] | None = None,
) -> StoredFile:
    """Store the request's multipart upload as a file of ``user_id``, streamed (the API's
    route and the console's form both): ``describe`` reads its metadata from the fields,
    ``guard`` (the console's CSRF check) vets the fields sent before the file's bytes. A
    refusal reads and drops the rest of a small body, so the client sees the answer."""
    body = _Body(request)
    allowance = await svc.allowance(user_id)
    try:
        declared = int(request.headers.get("content-length", ""))
    except ValueError:
        declared = None
    if declared is not None and declared - OVERHEAD_BYTES > allowance.room:
        allowance.check(declared - OVERHEAD_BYTES)  # refused before a byte is read
    form = UploadForm(body.chunks(), request.headers.get("content-type", ""))
    chunks = form.file_chunks()
    if guard is not None:
        chunks = _guarded(form, chunks, guard)
    try:
        return await svc.upload(user_id, chunks, lambda: describe(form), allowance)
    except ClientError:
        if declared is None or declared <= _DRAIN_BYTES + MAX_FIELD_BYTES:
            await body.drain(_DRAIN_BYTES)
        raise


@router.post(
    "/api/v1/user/files/upload",
    summary="Upload a file (multipart, streamed)",
    openapi_extra=_UPLOAD_BODY,
    response_model=Enveloped[UploadedOut],
    responses={
        **_USER_ERRORS,
        **refused_when("an expiry in the past"),
        403: {
            "model": ErrorEnvelope,
            "description": "The storage quota of the caller's membership tier is used up",
        },
        **error_responses(413),
    },
)
async def upload(request: Request, principal: KeyOrSessionDep, svc: FilesDep) -> dict[str, Any]:
    row = await stream_upload(request, principal.user_id, svc)
    return envelope({"fileUniqueID": row.uid, **file_out(row)}, "File Upload Success")


# ------------------------------------------------------------------ JSON routes


@router.post(
    "/api/v1/user/files/update",
    summary="Change a file's name, purpose, visibility, tags or expiry",
    response_model=Enveloped[Affected],
    responses={
        **_USER_ERRORS,
        **_NOT_FOUND,
        **refused_when("an expiry in the past, or both expires_at and unset_expires_at"),
    },
)
async def update(body: UpdateIn, principal: KeyOrSessionDep, svc: FilesDep) -> dict[str, Any]:
    sent = body.model_fields_set
    changes = FileChanges(
        filename=body.filename if "filename" in sent else None,
        purpose=body.purpose if "purpose" in sent else None,
        is_public=body.is_public if "is_public" in sent else None,
        tags=tuple(body.tags) if "tags" in sent and body.tags is not None else None,
        expires_at=_utc(body.expires_at, "expires_at"),
        unset_expires_at=body.unset_expires_at,
    )
    await svc.update(principal.user_id, body.fileUniqueId, changes)
    return envelope({"affectedRows": 1}, "File info updated successfully")


@router.post(
    "/api/v1/user/files/delete",
    summary="Delete files (one or many); others' ids are ignored",
    response_model=Enveloped[Affected],
    responses=_USER_ERRORS,
)
async def delete(body: DeleteIn, principal: KeyOrSessionDep, svc: FilesDep) -> dict[str, Any]:
    uids = list(body.fileUniqueIds or [])
    if body.fileUniqueId is not None:
        uids.append(body.fileUniqueId)
    if not uids:
        raise InvalidRequest("Give 'fileUniqueIds' or 'fileUniqueId'.", param="fileUniqueIds")
    deleted = await svc.delete(principal.user_id, uids)
    return envelope({"affectedRows": deleted}, "Files deleted successfully")


@router.post(
    "/api/v1/user/files/query",
    summary="List your files, a page at a time, with filters",
    response_model=Enveloped[QueryOut],
    responses=_USER_ERRORS,
)
async def query(body: QueryIn, principal: KeyOrSessionDep, svc: FilesDep) -> dict[str, Any]:
    filters = FileFilter(
        purpose=body.purpose,
        tags=tuple(body.tags or ()),
        is_public=body.is_public,
        name=body.filename or None,
        created_after=_utc(body.created_after, "created_after"),
        created_before=_utc(body.created_before, "created_before"),
    )
    found = await svc.query(principal.user_id, filters, body.page, body.pageSize)
    data = {
        "total": found.total,
        "page": body.page,
        "pageSize": body.pageSize,
        "list": [file_out(row) for row in found.files],
    }
    return envelope(data, "Query files success")


@router.post(
    "/api/v1/user/files/metadata",
    summary="Your files' metadata by id (unknown and others' ids are left out)",
    response_model=Enveloped[list[FileOut]],
    responses=_USER_ERRORS,
)
async def metadata(body: MetadataIn, principal: KeyOrSessionDep, svc: FilesDep) -> dict[str, Any]:
    rows = await svc.many(principal.user_id, body.fileUniqueIds)
    return envelope([file_out(row) for row in rows], "Get files metadata success")


# ------------------------------------------------------------------ downloads

_BYTES = {"*/*": {"schema": {"type": "string", "format": "binary"}}}
_DOWNLOAD_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"content": _BYTES, "description": "The file, with its stored content type"},
    206: {"content": _BYTES, "description": "The one byte range asked for (`content-range`)"},
    304: {"description": "`If-None-Match` names the file's ETag: unchanged"},
    **_NOT_FOUND,
    **error_responses(400, 416, 500),
}
FilePath = Annotated[str, Path(min_length=1, max_length=64)]


async def _serve(svc: FileService, row: StoredFile, request: Request, public: bool) -> Response:
    tag = etag(row.sha256)
    headers = {
        "etag": tag,
        "cache-control": ("public" if public else "private") + ", no-cache",
        "accept-ranges": "bytes",
        "x-content-type-options": "nosniff",
        "content-security-policy": DOWNLOAD_CSP,
        "content-disposition": content_disposition(row.filename, is_inline(row.mime_type)),
        "last-modified": format_datetime(row.created_at, usegmt=True),
    }
    if none_match(request.headers.get("if-none-match"), tag):
        return Response(status_code=304, headers=headers)
    asked = request.headers.get("range")
    if_range = request.headers.get("if-range")
    if if_range is not None and if_range.strip() != tag:
        asked = None  # the client's copy is another version: send it all
    try:
        byte_range = parse_range(asked, row.size)
    except Unsatisfiable:
        raise RangeNotSatisfiable(
            f"The range starts past the end of the {row.size}-byte file.",
            param="range",
            headers={"content-range": f"bytes */{row.size}"},
        ) from None
    stream = await svc.open(row, byte_range)
    headers["content-type"] = row.mime_type  # as stored: no charset guessed for text
    if byte_range is None:
        headers["content-length"] = str(row.size)
        return StreamingResponse(stream, 200, headers)
    headers["content-length"] = str(byte_range.length)
    headers["content-range"] = f"bytes {byte_range.start}-{byte_range.end}/{row.size}"
    return StreamingResponse(stream, 206, headers)


@router.get(
    "/api/v1/user/files/download/{file_id}",
    summary="Download one of your files (private or public)",
    response_class=Response,
    responses={**_DOWNLOAD_RESPONSES, **error_responses(401, 403)},
)
async def download(
    file_id: FilePath, request: Request, principal: KeyOrSessionDep, svc: FilesDep
) -> Response:
    return await _serve(svc, await svc.get(principal.user_id, file_id), request, False)


@router.get(
    "/api/v1/files/public/{file_id}",
    summary="Download a public file (no key needed)",
    response_class=Response,
    responses=_DOWNLOAD_RESPONSES,
)
async def public_download(file_id: FilePath, request: Request, svc: FilesDep) -> Response:
    return await _serve(svc, await svc.public(file_id), request, True)


@router.get(
    "/api/v1/files/public/{file_id}/metadata",
    summary="A public file's metadata (no key needed)",
    response_model=Enveloped[FileOut],
    responses={**_NOT_FOUND, **error_responses(400, 500)},
)
async def public_metadata(file_id: FilePath, svc: FilesDep) -> dict[str, Any]:
    return envelope(file_out(await svc.public(file_id)), "Get file metadata success")
