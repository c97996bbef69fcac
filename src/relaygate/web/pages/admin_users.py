"""``/console/admin/users``: find a user, and ``/console/admin/users/<id>``: everything the
operator needs about one user on one page (money, membership, rate tier, ledger, keys,
recent bills, packages, the audit trail) with the forms that change it
(admin_user_actions.py posts them).

Reads only, through the console's read models and the capability services. The search
and the two long lists (ledger, audit) page by keyset cursors kept in the query string
(``?q=&after=``, ``?ledger=``, ``?audit=``), so every view is a bookmarkable URL.
Operators only: anyone else gets the 404 page, and an unknown user id is the 404 page.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from relaygate.accounts.audit import AuditPage
from relaygate.accounts.models import ApiKey, User
from relaygate.accounts.sessions import ActiveSession
from relaygate.billing.bills_view import BillPage
from relaygate.billing.dashboard import Dashboard
from relaygate.billing.models import PackageType
from relaygate.billing.packages_view import PackageLine
from relaygate.billing.users_view import LedgerPage, UserPage
from relaygate.core.bounds import RowId
from relaygate.core.pagination import Position, decode_cursor, encode_cursor
from relaygate.services import Services, ServicesDep
from relaygate.web.i18n import N_
from relaygate.web.render import render
from relaygate.web.session import ConsoleOperatorDep

__all__ = ["CREDIT_KINDS", "DONE", "UserForms", "render_user", "router", "user_path"]

router = APIRouter(include_in_schema=False)
PAGE = "/console/admin/users"
SEARCH_PAGE = 50
LEDGER_PAGE = 20
AUDIT_PAGE = 20
RECENT_BILLS = 10
CREDIT_KINDS = {
    "topup": N_("Top-up"),
    "free_grant": N_("Free grant"),
    "adjustment": N_("Adjustment"),
}
LEDGER_KINDS = {
    **CREDIT_KINDS,
    "charge": N_("Charge"),
    "package_grant": N_("Package grant"),
    "package_use": N_("Package use"),
}
MEMBERSHIP = {"free": N_("Free"), "vip": N_("VIP"), "premium": N_("Premium")}
DONE = {
    "credited": N_("The balance was changed and the change written to the ledger."),
    "package-granted": N_("The package was granted."),
    "group-set": N_("The group was changed. The user's next call is priced by it."),
    "disabled": N_("The user is disabled: their keys and sessions stop working at once."),
    "enabled": N_("The user is enabled again."),
    "key-disabled": N_("The key is disabled."),
    "key-enabled": N_("The key is enabled."),
}
Cursor = Annotated[str, Query(max_length=64)]


def user_path(user_id: int) -> str:
    return f"{PAGE}/{user_id}"


def _after(cursor: str) -> Position | None:
    return decode_cursor(cursor) if cursor else None


def _next(position: Position | None) -> str:
    return encode_cursor(position) if position else ""


@dataclass(frozen=True, slots=True)
class UserForms:
    """What a refused form showed: each field's error (a msgid) and the values sent, so
    the page comes back with the operator's input and the reason next to the field."""

    errors: Mapping[str, str] = field(default_factory=dict)
    values: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class UserDetail:
    user: User
    money: Dashboard  # balance, free balance, membership, RPM standing, packages in use
    ledger: LedgerPage
    ledger_cursor: str  # this page's cursor ("" = the newest)
    keys: list[ApiKey]
    bills: BillPage
    packages: tuple[PackageLine, ...]
    audit: AuditPage
    audit_cursor: str
    package_types: list[PackageType]
    groups: tuple[str, ...]  # the configured groups, the user's own first if unconfigured


def _groups(configured: Mapping[str, object], current: str) -> tuple[str, ...]:
    names = sorted(configured)
    return tuple(([current] if current and current not in configured else []) + names)


async def user_detail(s: Services, user_id: int, ledger: str, audit: str) -> UserDetail:
    user = await s.accounts.user(user_id)  # NotFound: the 404 page
    return UserDetail(
        user=user,
        money=await s.console.dashboard.for_user(user_id),
        ledger=await s.console.users.ledger(user_id, limit=LEDGER_PAGE, after=_after(ledger)),
        ledger_cursor=ledger,
        keys=await s.accounts.keys_of(user_id),
        bills=await s.console.bills.page(user_id, limit=RECENT_BILLS),
        packages=await s.console.packages.packages(user_id),
        audit=await s.audit.list_for(user_id, limit=AUDIT_PAGE, after=_after(audit)),
        audit_cursor=audit,
        package_types=await s.packages.types(),
        groups=_groups(s.prices.catalogue.group_multipliers, user.group),
    )


async def render_user(
    request: Request,
    operator: ActiveSession,
    s: Services,
    user_id: int,
    forms: UserForms | None = None,
    *,
    ledger: str = "",
    audit: str = "",
    status: int = 200,
) -> HTMLResponse:
    """The user's page; with ``forms``, the refused form's errors and values (a 400)."""
    detail = await user_detail(s, user_id, ledger, audit)
    done = request.query_params.get("done", "")
    context = {
        "view": detail,
        "forms": forms or UserForms(),
        "done": DONE.get(done, ""),
        "credit_kinds": CREDIT_KINDS,
        "ledger_kinds": LEDGER_KINDS,
        "membership": MEMBERSHIP,
        "next_ledger": _next(detail.ledger.next),
        "next_audit": _next(detail.audit.next),
        "is_self": user_id == operator.user_id,
    }
    return render(request, "admin/user.html", context, user=operator, status=status)


@router.get(PAGE, response_class=HTMLResponse)
async def search(
    request: Request,
    operator: ConsoleOperatorDep,
    s: ServicesDep,
    q: Annotated[str, Query(max_length=320)] = "",
    after: Cursor = "",
) -> HTMLResponse:
    found: UserPage = await s.console.users.search(q, limit=SEARCH_PAGE, after=_after(after))
    context = {"q": q, "page": found, "after": after, "next": _next(found.next)}
    return render(request, "admin/users.html", context, user=operator)


@router.get(PAGE + "/{user_id}", response_class=HTMLResponse)
async def detail(
    request: Request,
    user_id: RowId,
    operator: ConsoleOperatorDep,
    s: ServicesDep,
    ledger: Cursor = "",
    audit: Cursor = "",
) -> HTMLResponse:
    return await render_user(request, operator, s, user_id, ledger=ledger, audit=audit)
