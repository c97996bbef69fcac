"""The operator's usage listing: every relayed call, newest first, a page at a time.

Pages follow a cursor (keyset pagination, core/pagination.py), so reading deep into
millions of records costs what the first page costs; the filters combine (AND) and each
is served by an index of migration 0013 (docs/operator-api.md#usage-records). Every
parameter is checked before a query runs: a bad one is a 400 naming it.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel

from relaygate.accounts.api import OperatorDep
from relaygate.billing.schemas import UsageOut, UsageQuery
from relaygate.core.envelope import envelope
from relaygate.core.errors import InvalidRequest
from relaygate.core.pagination import MAX_ID, decode_cursor, encode_cursor, parse_instant
from relaygate.services import UsageDep

__all__ = ["DEFAULT_LIMIT", "MAX_LIMIT", "MAX_OFFSET", "router"]

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
MAX_OFFSET = 10_000

router = APIRouter(tags=["billing"])


class UsagePageOut(BaseModel):
    """The platform envelope of a page: ``data`` is the records."""

    statusCode: int  # noqa: N815 - the platform envelope's own spelling
    message: str
    data: list[UsageOut]
    next_cursor: str | None
    has_more: bool


class ErrorOut(BaseModel):
    statusCode: int  # noqa: N815
    message: str
    data: None
    errorType: str  # noqa: N815


def _error(description: str) -> dict[str, Any]:
    return {"model": ErrorOut, "description": description}


_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"model": UsagePageOut, "description": "A page of records, newest first"},
    400: _error("A parameter is invalid (bad cursor, limit, time, id or status)"),
    401: _error("No key, or an unknown, disabled or expired key"),
    403: _error("The key is not the operator's management key"),
}
_TIME = (
    "ISO 8601 (`2026-12-07T18:00:00Z`; no zone means UTC) or unix seconds "
    "(`1796666400`, fractions allowed)"
)
Id = Annotated[int | None, Query(ge=1, le=MAX_ID)]


def _instant(text: str | None, param: str) -> Any:
    return None if text is None else parse_instant(text, param)


def _text(value: str | None, param: str) -> str | None:
    """A text filter; NUL is refused here (PostgreSQL text cannot hold it: a 500 there)."""
    if value is not None and "\x00" in value:
        raise InvalidRequest(f"{param}: must not contain NUL characters", param=param)
    return value


def usage_query(
    cursor: Annotated[
        str | None,
        Query(
            max_length=64,
            description="`next_cursor` of the previous page, unchanged: the page after it",
        ),
    ] = None,
    limit: Annotated[
        int, Query(ge=1, le=MAX_LIMIT, description=f"records per page (1 to {MAX_LIMIT})")
    ] = DEFAULT_LIMIT,
    since: Annotated[
        str | None, Query(max_length=64, description=f"only records at or after: {_TIME}")
    ] = None,
    until: Annotated[
        str | None, Query(max_length=64, description=f"only records before: {_TIME}")
    ] = None,
    user_id: Annotated[Id, Query(description="only this user's records")] = None,
    key_id: Annotated[Id, Query(description="only this key's records")] = None,
    model: Annotated[
        str | None, Query(max_length=200, description="only calls for this public model name")
    ] = None,
    status: Annotated[
        int | None, Query(ge=100, le=599, description="only calls that answered this status")
    ] = None,
    status_class: Annotated[
        str | None,
        Query(pattern="^[1-5]xx$", description="only calls in this class: `2xx`, `4xx`, `5xx`…"),
    ] = None,
    request_id: Annotated[
        str | None, Query(max_length=64, description="only the call with this `x-request-id`")
    ] = None,
    offset: Annotated[
        int,
        Query(
            ge=0,
            le=MAX_OFFSET,
            deprecated=True,
            description="deprecated: rows to skip (slow on deep pages); use `cursor`",
        ),
    ] = 0,
) -> UsageQuery:
    """The listing's parameters, checked (FastAPI documents each in the OpenAPI document)."""
    lower, upper = _instant(since, "since"), _instant(until, "until")
    if lower is not None and upper is not None and lower >= upper:
        raise InvalidRequest("until: must be later than since", param="until")
    return UsageQuery(
        request_id=_text(request_id, "request_id"),
        user_id=user_id,
        key_id=key_id,
        limit=limit,
        model=_text(model, "model"),
        since=lower,
        until=upper,
        offset=offset,
        status=status,
        status_class=int(status_class[0]) if status_class else None,
        after=decode_cursor(cursor) if cursor is not None else None,
    )


@router.get(
    "/api/v1/operator/usage",
    summary="List usage records, newest first, a page at a time",
    responses=_RESPONSES,
)
async def list_usage(
    _: OperatorDep,
    svc: UsageDep,
    query: Annotated[UsageQuery, Depends(usage_query)],
) -> dict[str, Any]:
    """Records newest first (by end time, then id). Follow `next_cursor` until it is null
    (`has_more` false); the filters combine. `offset` still works but is deprecated."""
    page = await svc.page(query)
    rows = [UsageOut.model_validate(r).model_dump(mode="json") for r in page.records]
    body = envelope(rows)
    body["next_cursor"] = encode_cursor(page.next) if page.next is not None else None
    body["has_more"] = page.next is not None
    return body
