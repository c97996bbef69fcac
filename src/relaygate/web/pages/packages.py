"""``/console/packages``: the user's resource packages, and the calls that drew on each.

A package pays for calls in its scope at official prices before the balance does; the
list shows what is left, the scope, the expiry and whether it still pays, and
``/console/packages/<id>`` lists its draws newest first, a page at a time (keyset, the
``cursor`` parameter), each linking to the bill line it paid for. Read through
``Services.console.packages``: another user's package id is the 404 page.
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from relaygate.billing.packages_view import PackageDraw, PackageLine
from relaygate.core.errors import NotFound
from relaygate.core.pagination import MAX_ID, decode_cursor, encode_cursor
from relaygate.services import ConsoleReadsDep
from relaygate.web.i18n import N_
from relaygate.web.pages.bill_query import parse_limit, position_of, query_params
from relaygate.web.render import render
from relaygate.web.session import ConsoleUserDep

__all__ = ["PackagePage", "PackagesPage", "router", "status_of"]

router = APIRouter(include_in_schema=False)
PAGE = "/console/packages"
SOURCES = {
    "operator": N_("From the operator"),
    "referral": N_("Invitation reward"),
    "redeem": N_("Redemption code"),
}
ACTIVE, USED_UP, EXPIRED = N_("Active"), N_("Used up"), N_("Expired")


@dataclass(frozen=True, slots=True)
class PackagesPage:
    packages: tuple[PackageLine, ...]
    statuses: dict[int, str]  # package id -> msgid
    sources: dict[str, str]


@dataclass(frozen=True, slots=True)
class PackagePage:
    package: PackageLine
    status: str  # msgid
    sources: dict[str, str]
    draws: tuple[PackageDraw, ...]
    older: str | None  # links; None: no such page
    newest: str | None


def status_of(line: PackageLine) -> str:
    """Why a package pays or does not (a msgid)."""
    if line.active:
        return ACTIVE
    return USED_UP if line.remaining <= 0 else EXPIRED


def _package_id(text: str) -> int:
    if not text.isascii() or not text.isdigit() or not 1 <= int(text) <= MAX_ID:
        raise NotFound("No such package.")
    return int(text)


@router.get(PAGE, response_class=HTMLResponse)
async def packages(
    request: Request, user: ConsoleUserDep, console: ConsoleReadsDep
) -> HTMLResponse:
    lines = await console.packages.packages(user.user_id)
    view = PackagesPage(lines, {line.id: status_of(line) for line in lines}, SOURCES)
    return render(request, "packages/index.html", {"view": view}, user=user)


@router.get(PAGE + "/{package_id}", response_class=HTMLResponse)
async def package(
    request: Request, package_id: str, user: ConsoleUserDep, console: ConsoleReadsDep
) -> HTMLResponse:
    pid = _package_id(package_id)
    params = query_params(request.query_params.multi_items())
    limit = parse_limit(params.get("limit", ""))
    cursor = position_of(params["cursor"]) if params.get("cursor") else ""
    after = decode_cursor(cursor) if cursor else None
    # another user's package: NotFound, the 404 page
    page = await console.packages.draws(user.user_id, pid, limit=limit, after=after)
    found = [line for line in await console.packages.packages(user.user_id) if line.id == pid]
    if not found:
        raise NotFound("No such package.")
    here = f"{PAGE}/{pid}"
    keep = f"&limit={limit}" if params.get("limit") else ""
    view = PackagePage(
        package=found[0],
        status=status_of(found[0]),
        sources=SOURCES,
        draws=page.draws,
        older=f"{here}?cursor={encode_cursor(page.next)}{keep}" if page.next else None,
        newest=(here + (f"?limit={limit}" if keep else "")) if cursor else None,
    )
    return render(request, "packages/detail.html", {"view": view}, user=user)
