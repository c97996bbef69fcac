"""``/console/bills``: "what did this call cost, and why".

The user's calls newest first with the platform's columns (time, model, promptTokens,
completionTokens, RURT, TPS, Free, amount) plus package use and route group; filters and
the page position live in the query string (bill_query.py); each line opens
``/console/bills/<id>``, the charge step by step (billing/charge_explain.py); a line
the user's override rules rewrote names them (a link to each rule's page, or its id once
deleted), in the table and in its explanation; and
``/console/bills.csv`` streams the same filtered range as CSV (billing/bills_export.py),
a page of rows at a time, whatever its length.

Everything is read through ``Services.console.bills``, scoped to the signed-in user: a
key filter or a line id of another user's is the 404 page.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, StreamingResponse

from relaygate.accounts.models import ApiKey
from relaygate.billing.bills_export import bill_csv
from relaygate.billing.bills_view import BillRow, bill_row
from relaygate.billing.charge_explain import ChargeExplanation, explain
from relaygate.billing.repository import BillLine
from relaygate.core.clock import utcnow
from relaygate.core.errors import NotFound
from relaygate.core.money import format_exact
from relaygate.core.pagination import MAX_ID, encode_cursor
from relaygate.services import AccountsDep, ConsoleReadsDep, PricesDep, RulesDep
from relaygate.web.pages.bill_query import (
    GROUPS,
    STATUSES,
    BillQuery,
    bill_query,
    query_params,
)
from relaygate.web.render import render
from relaygate.web.session import ConsoleUserDep

__all__ = ["BillsPage", "KeyOption", "LinePage", "router"]

router = APIRouter(include_in_schema=False)
PAGE = "/console/bills"
CSV = "/console/bills.csv"


@dataclass(frozen=True, slots=True)
class KeyOption:
    id: int
    label: str  # the remark and the key's safe hint ("sk-AbCd…wXyZ")


@dataclass(frozen=True, slots=True)
class BillsPage:
    query: BillQuery
    rows: tuple[BillRow, ...]
    keys: tuple[KeyOption, ...]  # the key select
    key_names: dict[int, str]  # the table: the remark, or the hint of a key without one
    statuses: dict[str, str]  # value -> msgid
    groups: tuple[str, ...]
    line_suffix: str  # "?<this query>": a line's page leads back to this very page
    newer: str | None  # links; None: no such page
    older: str | None
    newest: str | None
    csv: str
    clear: str
    rule_names: dict[int, str]  # the page's fired rules that still exist, by id


@dataclass(frozen=True, slots=True)
class LinePage:
    row: BillRow
    key_label: str | None
    explanation: ChargeExplanation
    back: str
    rule_names: dict[int, str]


def _key_options(keys: Sequence[ApiKey]) -> tuple[KeyOption, ...]:
    return tuple(
        KeyOption(key.id, f"{key.remark} ({key.hint})" if key.remark else key.hint) for key in keys
    )


def _suffix(query: BillQuery) -> str:
    params = query.params()
    return "?" + urlencode(params) if params else ""


@router.get(PAGE, response_class=HTMLResponse)
async def bills(
    request: Request,
    user: ConsoleUserDep,
    console: ConsoleReadsDep,
    accounts: AccountsDep,
    rules: RulesDep,
) -> HTMLResponse:
    query = bill_query(query_params(request.query_params.multi_items()))
    page = await console.bills.page(
        user.user_id,
        query.filters,
        limit=query.limit,
        after=query.after_position,
        before=query.before_position,
    )
    mine = await accounts.keys_of(user.user_id)
    paged = bool(query.cursor or query.before)
    view = BillsPage(
        query=query,
        rows=page.rows,
        keys=_key_options(mine),
        key_names={key.id: key.remark or key.hint for key in mine},
        statuses=STATUSES,
        groups=GROUPS,
        line_suffix=_suffix(query),
        newer=query.link(PAGE, before=encode_cursor(page.prev)) if page.prev else None,
        older=query.link(PAGE, cursor=encode_cursor(page.next)) if page.next else None,
        newest=query.link(PAGE) if paged and page.prev else None,
        csv=query.link(CSV, limit=""),
        clear=PAGE,
        rule_names=await rules.names_of(user.user_id, {i for row in page.rows for i in row.rules}),
    )
    return render(request, "bills/index.html", {"view": view}, user=user)


@router.get(CSV)
async def bills_csv(
    request: Request, user: ConsoleUserDep, console: ConsoleReadsDep
) -> StreamingResponse:
    query = bill_query(query_params(request.query_params.multi_items()))
    chunks = bill_csv(console.bills, user.user_id, query.filters)
    first = await anext(chunks)  # another user's key is the 404 page, before any byte

    async def body() -> AsyncIterator[str]:
        yield first
        async for chunk in chunks:
            yield chunk

    name = f"relaygate-bills-{utcnow():%Y-%m-%d}.csv"
    headers = {
        "content-disposition": f'attachment; filename="{name}"',
        "cache-control": "no-store",
    }
    return StreamingResponse(body(), media_type="text/csv; charset=utf-8", headers=headers)


def _line_id(text: str) -> int:
    """A line id as the URL gives it; anything that cannot be one is the 404 page."""
    if not text.isascii() or not text.isdigit() or not 1 <= int(text) <= MAX_ID:
        raise NotFound("No such bill line.")
    return int(text)


@router.get(PAGE + "/{line_id}", response_class=HTMLResponse)
async def bill_line(
    request: Request,
    line_id: str,
    user: ConsoleUserDep,
    console: ConsoleReadsDep,
    prices: PricesDep,
    accounts: AccountsDep,
    rules: RulesDep,
) -> HTMLResponse:
    query = bill_query(query_params(request.query_params.multi_items()))  # the way back
    record = await console.bills.record(user.user_id, _line_id(line_id))
    labels = {key.id: key.label for key in _key_options(await accounts.keys_of(user.user_id))}
    view = LinePage(
        row=bill_row(BillLine(record, None)),
        key_label=labels.get(record.key_id) if record.key_id is not None else None,
        explanation=explain(record, prices.catalogue.rated(record.model).price),
        back=query.link(PAGE, paging=True),
        rule_names=await rules.names_of(user.user_id, record.rule_ids),
    )
    context = {"view": view, "exact": format_exact}
    return render(request, "bills/line.html", context, user=user)
