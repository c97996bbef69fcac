"""``/console/files``: "what have I stored, who can see it, how much room is left".

The user's files a page at a time (filters by purpose, tag, visibility and name in the
query string), the storage used against the tier's quota, and the forms: upload, make
public or private, delete. Every form calls FileService, as the files API does.

The upload is a plain ``multipart/form-data`` form, streamed into the blob store like
the API's (storage/api.py ``stream_upload``): the body is never read whole, so the CSRF
token is a form field that must come before the file (the form puts it first; a
browser sends fields in order) and is checked before the file's first byte is stored.
A refused upload (too large, over the quota, a bad field) shows the page again with
the reason. Another user's file id, on any form, is the 404 page (``FileService.get``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl, urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from relaygate.accounts.sessions import CSRF_FIELD, CSRF_HEADER, ActiveSession, csrf_matches
from relaygate.core.errors import ClientError, InvalidRequest, PermissionDenied
from relaygate.services import ServicesDep
from relaygate.storage.api import stream_upload
from relaygate.storage.content import pick_mime_type
from relaygate.storage.errors import FileTooLarge, QuotaExceeded
from relaygate.storage.models import StoredFile
from relaygate.storage.multipart import UploadForm
from relaygate.storage.repository import FileFilter
from relaygate.storage.service import MAX_TAGS, PURPOSES, Allowance, FileChanges, NewFile
from relaygate.web.forms import page_form
from relaygate.web.i18n import N_
from relaygate.web.render import render
from relaygate.web.session import CSRF_REFUSED, ConsoleUserDep, CsrfDep

__all__ = ["FilesView", "Size", "router", "size_of"]

router = APIRouter(include_in_schema=False)
PAGE = "/console/files"
PAGE_SIZE = 20
PUBLIC_ROUTE = "/api/v1/files/public/"
DOWNLOAD_ROUTE = "/api/v1/user/files/download/"
PURPOSE_LABELS = {
    0: N_("Common"),
    2: N_("Chat"),
    3: N_("Temporary (model input)"),
    1: N_("Fine-tuning"),
    4: N_("OpenAI batch"),
    5: N_("Anthropic batch"),
}
NOTICES = {
    "uploaded": N_("File uploaded."),
    "public": N_("The file is public now: anyone with its link can download it."),
    "private": N_("The file is private now: only you can download it."),
    "deleted": N_("File deleted."),
}
# why an upload was refused, by the field the service named
REFUSALS = {
    "filename": N_("The name must be 1 to 255 characters, without control characters."),
    "tags": N_("At most 20 tags, each of 1 to 64 characters."),
    "expires_at": N_("The expiry must be a day in the future."),
    "purpose": N_("Choose a purpose from the list."),
}
UNREADABLE = N_("The file could not be read. Choose a file and try again.")
_FILTERS = ("purpose", "tag", "public", "name")


@dataclass(frozen=True, slots=True)
class Size:
    """A byte count for people: ``_(unit, n=number(value))``."""

    unit: str  # msgid
    value: int | Decimal


def size_of(count: int) -> Size:
    """Bytes below 1 KiB, else KiB, MiB or GiB with one decimal (binary units, as the
    settings and the docs give the limits)."""
    if count < 1024:
        return Size(N_("%(n)s B"), count)
    for unit, power in ((N_("%(n)s KiB"), 1), (N_("%(n)s MiB"), 2), (N_("%(n)s GiB"), 3)):
        scaled = Decimal(count) / (1024**power)
        if scaled < 1024 or power == 3:
            return Size(unit, scaled.quantize(Decimal("0.1")))
    raise AssertionError("unreachable")


@dataclass(frozen=True, slots=True)
class Query:
    """The page's filters and position, as the query string gives them (bad values are
    ignored, never an error: it is a URL people edit)."""

    purpose: int | None = None
    tag: str = ""
    public: str = ""  # "", "yes", "no"
    name: str = ""
    page: int = 1

    @classmethod
    def of(cls, params: Mapping[str, str]) -> Query:
        purpose = params.get("purpose", "")
        page = params.get("page", "")
        return cls(
            purpose=int(purpose) if purpose.isdigit() and int(purpose) in PURPOSES else None,
            tag=params.get("tag", "").strip()[:64],
            public=params.get("public", "") if params.get("public") in ("yes", "no") else "",
            name=params.get("name", "").strip()[:255],
            page=min(int(page), 100_000) if page.isdigit() and int(page) > 0 else 1,
        )

    @property
    def filters(self) -> FileFilter:
        return FileFilter(
            purpose=self.purpose,
            tags=(self.tag,) if self.tag else (),
            is_public={"yes": True, "no": False}.get(self.public),
            name=self.name or None,
        )

    @property
    def filtered(self) -> bool:
        return bool(self.purpose is not None or self.tag or self.public or self.name)

    def params(self, **changes: Any) -> dict[str, str]:
        values: dict[str, Any] = {
            "purpose": "" if self.purpose is None else self.purpose,
            "tag": self.tag,
            "public": self.public,
            "name": self.name,
            "page": "" if self.page == 1 else self.page,
            **changes,
        }
        return {k: str(v) for k, v in values.items() if v not in ("", None, 1)}

    def link(self, **changes: Any) -> str:
        params = self.params(**changes)
        return PAGE + ("?" + urlencode(params) if params else "")


@dataclass(frozen=True, slots=True)
class Line:
    file: StoredFile
    size: Size
    purpose: str  # msgid
    public_url: str  # "" for a private file
    download: str


@dataclass(frozen=True, slots=True)
class FilesView:
    query: Query
    lines: tuple[Line, ...]
    total: int
    pages: int
    newer: str | None
    older: str | None
    allowance: Allowance
    used: Size
    left: Size
    quota: Size
    max_file: Size
    used_percent: int
    here: str  # this page's query string, sent back by the row forms


def _line(row: StoredFile, base: str) -> Line:
    return Line(
        file=row,
        size=size_of(row.size),
        purpose=PURPOSE_LABELS.get(row.purpose, N_("Common")),
        public_url=base + PUBLIC_ROUTE + row.uid if row.is_public else "",
        download=DOWNLOAD_ROUTE + row.uid,
    )


async def _view(s: ServicesDep, user: ActiveSession, query: Query) -> FilesView:
    found = await s.files.query(user.user_id, query.filters, query.page, PAGE_SIZE)
    allowance = await s.files.allowance(user.user_id)
    pages = max(1, -(-found.total // PAGE_SIZE))
    quota = allowance.quota_bytes
    return FilesView(
        query=query,
        lines=tuple(_line(row, s.settings.base_url) for row in found.files),
        total=found.total,
        pages=pages,
        newer=query.link(page=query.page - 1) if query.page > 1 else None,
        older=query.link(page=query.page + 1) if query.page < pages else None,
        allowance=allowance,
        used=size_of(allowance.stored_bytes),
        left=size_of(max(0, quota - allowance.stored_bytes)),
        quota=size_of(quota),
        max_file=size_of(allowance.max_file_bytes),
        used_percent=min(100, allowance.stored_bytes * 100 // quota) if quota else 100,
        here=urlencode(query.params()),
    )


def _page(
    request: Request, user: ActiveSession, view: FilesView, notice: str = "", refused: str = "",
    status: int = 200,
) -> HTMLResponse:  # fmt: skip
    context = {
        "view": view,
        "notice": notice,
        "refused": refused,
        "purposes": PURPOSE_LABELS,
        "max_tags": MAX_TAGS,
    }
    return render(request, "files/index.html", context, user=user, status=status)


@router.get(PAGE, response_class=HTMLResponse)
async def files(request: Request, user: ConsoleUserDep, s: ServicesDep, done: str = "") -> Response:
    query = Query.of(dict(request.query_params))
    return _page(request, user, await _view(s, user, query), NOTICES.get(done, ""))


# ------------------------------------------------------------------ upload


def _csrf_guard(request: Request, user: ActiveSession) -> Callable[[UploadForm], None]:
    """The CSRF check of a streamed form: the token field (or header) sent before the
    file; nothing is stored when it is missing or wrong."""
    header = request.headers.get(CSRF_HEADER)

    def guard(form: UploadForm) -> None:
        presented = header if header is not None else (form.value(CSRF_FIELD) or "")
        if not csrf_matches(user, presented):
            raise PermissionDenied(CSRF_REFUSED)

    return guard


def _describe(form: UploadForm) -> NewFile:
    """The upload form's fields: tags comma-separated, expiry a day (00:00 UTC)."""
    name = (form.value("filename") or "").strip() or form.filename
    if not name:
        raise InvalidRequest("'filename' is required.", param="filename")
    purpose = form.value("purpose") or "0"
    if not purpose.isdigit():
        raise InvalidRequest("'purpose' must be 0 to 5.", param="purpose")
    tags = [t.strip() for t in (form.value("tags") or "").split(",") if t.strip()]
    return NewFile(
        filename=name,
        purpose=int(purpose),
        is_public=form.value("is_public") in ("on", "true", "1"),
        tags=tuple(tags),
        expires_at=_day(form.value("expires_on") or ""),
        mime_type=pick_mime_type(form.content_type, name),
    )


def _day(text: str) -> datetime | None:
    if not text.strip():
        return None
    try:
        day = date.fromisoformat(text.strip())
    except ValueError:
        raise InvalidRequest("'expires_at' must be a date.", param="expires_at") from None
    return datetime.combine(day, time(), tzinfo=UTC)


def _refusal(err: ClientError) -> str:
    """The msgid that says why an upload was refused (its values: the page's sizes)."""
    if isinstance(err, FileTooLarge):
        return N_("The file is larger than %(size)s, the largest your account may store.")
    if isinstance(err, QuotaExceeded):
        return N_("Not enough storage left for this file: %(left)s of %(quota)s are free.")
    return REFUSALS.get(err.param or "", UNREADABLE)


@router.post(PAGE + "/upload", response_class=HTMLResponse)
async def upload(request: Request, user: ConsoleUserDep, s: ServicesDep) -> Response:
    guard = _csrf_guard(request, user)
    try:
        await stream_upload(request, user.user_id, s.files, _describe, guard)
    except PermissionDenied as err:
        if isinstance(err, QuotaExceeded):
            return await _refused(request, user, s, err)
        raise  # the CSRF check: the 403 page
    except ClientError as err:
        return await _refused(request, user, s, err)
    return RedirectResponse(f"{PAGE}?done=uploaded", status_code=303)


async def _refused(
    request: Request, user: ActiveSession, s: ServicesDep, err: ClientError
) -> HTMLResponse:
    view = await _view(s, user, Query())
    return _page(request, user, view, refused=_refusal(err), status=err.status)


# ------------------------------------------------------------------ row forms


async def _back(request: Request, done: str) -> RedirectResponse:
    """Back to the list as it was (its filters and page, from the form's ``back``)."""
    form = await page_form(request)
    kept = Query.of(dict(parse_qsl(str(form.get("back", ""))[:1000])))
    params = {**kept.params(), "done": done}
    return RedirectResponse(f"{PAGE}?{urlencode(params)}", status_code=303)


@router.post(PAGE + "/{uid}/public")
async def make_public(request: Request, uid: str, user: CsrfDep, s: ServicesDep) -> Response:
    row = await s.files.get(user.user_id, uid)  # another user's: the 404 page
    public = str((await page_form(request)).get("is_public", "")) == "true"
    await s.files.update(user.user_id, row.uid, FileChanges(is_public=public))
    return await _back(request, "public" if public else "private")


@router.post(PAGE + "/{uid}/delete")
async def delete(request: Request, uid: str, user: CsrfDep, s: ServicesDep) -> Response:
    row = await s.files.get(user.user_id, uid)  # another user's: the 404 page
    await s.files.delete(user.user_id, [row.uid])
    return await _back(request, "deleted")
