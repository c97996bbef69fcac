"""The bill as CSV: a filtered range of a user's calls, streamed a page at a time.

An async iterator of text chunks (the header row, then one chunk per page of rows): a
response streams it as it comes, and memory holds one page (``PAGE`` rows) whatever the
range, since each page is a keyset read continuing below the last (bills_view.py).
Money is exact (``core.money.format_money``: six decimals), booleans are ``true`` and
``false`` as in the JSON, times are ISO 8601 UTC with ``Z``; ``rules`` is the ids of the
override rules that rewrote the call ("12,15"), as in the bills API's CSV.

CSV injection: a spreadsheet runs a cell that starts with ``=``, ``+``, ``-`` or ``@``
(and some also with a tab or a carriage return) as a formula, and a model name, a key's
remark or a request id are chosen by callers; such a cell is written with a leading
``'``, which spreadsheets show as text. Numbers are written as numbers (none of ours is
negative).
"""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator, Sequence
from typing import Any

from relaygate.billing.bills_view import NO_FILTERS, BillFilters, BillRow, BillsView
from relaygate.core.money import format_money

__all__ = ["COLUMNS", "PAGE", "bill_csv", "csv_rows", "safe_cell"]

PAGE = 500
COLUMNS = (
    "time", "requestId", "keyId", "keyRemark", "model", "endpoint", "status", "stream",
    "promptTokens", "completionTokens", "cachedTokens", "RURT", "TPS", "Free", "amount",
    "freeAmount", "officialCost", "packageAmount", "packageUsed", "routeGroup", "multiplier",
    "rules",
)  # fmt: skip
_FORMULA = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> str | int:
    """A cell as written: text that a spreadsheet would run as a formula gets a ``'``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return value
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA) else text


def _cells(row: BillRow) -> list[Any]:
    return [
        row.time.isoformat().replace("+00:00", "Z"),
        row.request_id,
        row.key_id,
        row.key_remark,
        row.model,
        row.endpoint,
        row.status,
        row.stream,
        row.prompt_tokens,
        row.completion_tokens,
        row.cached_tokens,
        row.rurt_ms,
        str(row.tps),
        row.free,
        format_money(row.amount),
        format_money(row.free_amount),
        format_money(row.official_cost),
        format_money(row.package_amount),
        row.package_used,
        row.route_group,
        row.multiplier,
        ",".join(map(str, row.rules)),  # the override rules that fired (docs/rules.md)
    ]


def csv_rows(rows: Sequence[BillRow], header: bool = False) -> str:
    """``rows`` as CSV text (with the header row first when asked)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    if header:
        writer.writerow(COLUMNS)
    writer.writerows([safe_cell(cell) for cell in _cells(row)] for row in rows)
    return out.getvalue()


async def bill_csv(
    bills: BillsView, user_id: int, filters: BillFilters = NO_FILTERS
) -> AsyncIterator[str]:
    """``user_id``'s calls matching ``filters``, newest first, as CSV chunks: the header
    first (even for an empty range), then a chunk per page. A key filter that is not the
    user's raises :class:`~relaygate.core.errors.NotFound` before the first chunk."""
    page = await bills.page(user_id, filters, limit=PAGE)
    yield csv_rows(page.rows, header=True)
    while page.next is not None:
        page = await bills.page(user_id, filters, limit=PAGE, after=page.next)
        yield csv_rows(page.rows)
