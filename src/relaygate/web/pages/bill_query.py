"""The bills page's query string: its filters, cursor and page size, read and written back.

The URL is the page's state (a filtered page can be bookmarked, shared or reloaded), so
every link the page draws (the next and previous pages, the CSV of the same range, a
filter removed) is this query with one thing changed. Every value is checked before a
query runs: a bad one is a 400 page saying which field, never a 500.

Dates are whole days in UTC, both ends included (``until=2026-12-07`` reads up to the end
of that day), as the date inputs give them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from urllib.parse import urlencode

from relaygate.billing.bills_view import BillFilters
from relaygate.core.errors import InvalidRequest
from relaygate.core.pagination import MAX_ID, Position, decode_cursor
from relaygate.relay.groups import ROUTE_GROUPS
from relaygate.web.i18n import N_

__all__ = [
    "DEFAULT_LIMIT",
    "GROUPS",
    "MAX_LIMIT",
    "STATUSES",
    "BillQuery",
    "bill_query",
    "parse_limit",
    "position_of",
    "query_params",
]

DEFAULT_LIMIT = 50
MAX_LIMIT = 200
V1 = "v1"  # the query's name for calls made on /v1 itself (route_group "")
GROUPS = (V1, *ROUTE_GROUPS)
# the status select: the hundreds digit of each class
STATUSES = {"2xx": N_("Succeeded (2xx)"), "4xx": N_("Refused (4xx)"), "5xx": N_("Failed (5xx)")}
_STATUS_CODE = re.compile(r"[1-5]\d\d")
_MAX_MODEL = 200

BAD_SINCE = N_("From: enter a date like 2026-12-07.")
BAD_UNTIL = N_("To: enter a date like 2026-12-07.")
BAD_RANGE = N_("To: the end date must not be before the start date.")
BAD_KEY = N_("Key: choose one of your keys.")
BAD_MODEL = N_("Model: the model name is too long or not text.")
BAD_STATUS = N_("Status: choose 2xx, 4xx or 5xx, or give a status code like 429.")
BAD_GROUP = N_("Route group: choose /v1 or one of the route groups.")
BAD_CURSOR = N_("This page link is no longer valid: open the bills page again from the start.")
BAD_LIMIT = N_("Rows per page: a whole number from 1 to 200.")


@dataclass(frozen=True, slots=True)
class BillQuery:
    """The page's query, checked; the text fields are as the form shows them again."""

    since: str = ""  # YYYY-MM-DD or ""
    until: str = ""
    key: str = ""  # a key id, or ""
    model: str = ""
    status: str = ""  # "2xx", "4xx", "5xx", a code, or ""
    group: str = ""  # "v1", a route group, or ""
    limit: int = DEFAULT_LIMIT
    cursor: str = ""  # older than this position
    before: str = ""  # newer than this position
    filters: BillFilters = BillFilters()

    @property
    def after_position(self) -> Position | None:
        return decode_cursor(self.cursor) if self.cursor else None

    @property
    def before_position(self) -> Position | None:
        return decode_cursor(self.before) if self.before else None

    @property
    def filtered(self) -> bool:
        return any((self.since, self.until, self.key, self.model, self.status, self.group))

    def params(self, *, paging: bool = True) -> dict[str, str]:
        """The non-empty parameters (the page size only when not the default)."""
        values = {
            "since": self.since,
            "until": self.until,
            "key": self.key,
            "model": self.model,
            "status": self.status,
            "group": self.group,
        }
        if self.limit != DEFAULT_LIMIT:
            values["limit"] = str(self.limit)
        if paging:
            values.update(cursor=self.cursor, before=self.before)
        return {name: value for name, value in values.items() if value}

    def link(self, path: str, *, paging: bool = False, **changes: str) -> str:
        """``path`` with this query (its cursor too with ``paging``), ``changes`` applied
        ("" removes a parameter)."""
        values = {**self.params(paging=paging), **changes}
        query = urlencode({k: v for k, v in values.items() if v})
        return f"{path}?{query}" if query else path


def position_of(cursor: str) -> str:
    """A cursor checked (a 400 page if it is not one the page made)."""
    try:
        decode_cursor(cursor)
    except InvalidRequest:
        raise InvalidRequest(BAD_CURSOR, param="cursor") from None
    return cursor


def _day(text: str, problem: str, param: str) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise InvalidRequest(problem, param=param) from None


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def _key(text: str) -> int | None:
    if not text:
        return None
    if not text.isascii() or not text.isdigit() or not 1 <= int(text) <= MAX_ID:
        raise InvalidRequest(BAD_KEY, param="key")
    return int(text)


def _status(text: str) -> tuple[int | None, int | None]:
    """(status, status_class) of the status parameter."""
    if not text:
        return None, None
    if text in STATUSES:
        return None, int(text[0])
    if _STATUS_CODE.fullmatch(text):
        return int(text), None
    raise InvalidRequest(BAD_STATUS, param="status")


def _group(text: str) -> str | None:
    if not text:
        return None
    if text not in GROUPS:
        raise InvalidRequest(BAD_GROUP, param="group")
    return "" if text == V1 else text


def parse_limit(text: str) -> int:
    if not text:
        return DEFAULT_LIMIT
    if not text.isascii() or not text.isdigit() or not 1 <= int(text) <= MAX_LIMIT:
        raise InvalidRequest(BAD_LIMIT, param="limit")
    return int(text)


def query_params(items: Iterable[tuple[str, str]]) -> dict[str, str]:
    """The first value of each parameter (a repeated one does not override it)."""
    found: dict[str, str] = {}
    for name, value in items:
        found.setdefault(name, value)
    return found


def bill_query(params: dict[str, str]) -> BillQuery:
    """The page's parameters (a query string's first values), checked."""

    def get(name: str) -> str:
        return params.get(name, "").strip()

    first, last = _day(get("since"), BAD_SINCE, "since"), _day(get("until"), BAD_UNTIL, "until")
    if first is not None and last is not None and last < first:
        raise InvalidRequest(BAD_RANGE, param="until")
    model = get("model")
    if len(model) > _MAX_MODEL or "\x00" in model:
        raise InvalidRequest(BAD_MODEL, param="model")
    status, status_class = _status(get("status"))
    cursor, before = get("cursor"), get("before")
    if cursor and before:
        raise InvalidRequest(BAD_CURSOR, param="cursor")
    filters = BillFilters(
        since=_midnight(first) if first else None,
        until=_midnight(last + timedelta(days=1)) if last and last < date.max else None,
        key_id=_key(get("key")),
        model=model or None,
        status=status,
        status_class=status_class,
        route_group=_group(get("group")),
    )
    return BillQuery(
        since=first.isoformat() if first else "",
        until=last.isoformat() if last else "",
        key=get("key"),
        model=model,
        status=get("status"),
        group=get("group"),
        limit=parse_limit(get("limit")),
        cursor=position_of(cursor) if cursor else "",
        before=position_of(before) if before else "",
        filters=filters,
    )
