"""``/console/admin/tiers``: the membership tiers, the RPM tiers and the referral terms,
edited in place (billing/tier_config.py, the same service as ``PUT
/api/v1/operator/tiers``), each section saved or reset to the settings on its own.

The forms work without script: a table shows the stored rows and two blank ones; a blank
row is ignored and a row whose "Remove" box is ticked is dropped, so adding and removing
rows is one save. The service's refusal names a row by its place in what was kept
(``rate_limit_tiers[2].rpm``); the page maps it back onto the row as shown.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from relaygate.accounts.sessions import ActiveSession
from relaygate.billing.tier_rules import (
    LEVELS,
    MEMBERSHIP,
    RATE_LIMITS,
    REFERRAL,
    SECTIONS,
    Section,
    section_json,
)
from relaygate.core.errors import InvalidRequest
from relaygate.services import ServicesDep
from relaygate.web.forms import page_form
from relaygate.web.i18n import N_
from relaygate.web.render import render
from relaygate.web.session import ConsoleOperatorDep, OperatorCsrfDep

__all__ = ["router"]

router = APIRouter(include_in_schema=False)
PAGE = "/console/admin/tiers"
BLANK_ROWS = 2
# the form's fields of a row, per table
FIELDS: dict[Section, tuple[str, ...]] = {
    MEMBERSHIP: ("level", "min_topup", "months"),
    RATE_LIMITS: ("min_topup", "rpm"),
}
SLUGS: dict[str, Section] = {"membership": MEMBERSHIP, "rate-limits": RATE_LIMITS}
NOTICES = {
    "membership_tiers": N_("Membership tiers saved: they apply at once."),
    "rate_limit_tiers": N_("RPM tiers saved: they apply at once."),
    "referral": N_("Referral rewards saved: they apply to the next invite code."),
    "reset": N_("Reset: the configuration file's values apply again."),
}
TITLES = {
    MEMBERSHIP: N_("Membership tiers"),
    RATE_LIMITS: N_("RPM tiers"),
    REFERRAL: N_("Referral rewards"),
}
LEVEL_NAMES = {"vip": N_("VIP"), "premium": N_("Premium")}
_ERROR_AT = re.compile(r"^(\w+)\[(\d+)\]\.(\w+)$")


@dataclass
class Posted:
    """What a failed save shows again: the section's rows (or referral fields) as typed,
    and the errors by ``<field>_<row>`` (or field name, or "form")."""

    section: Section
    rows: list[dict[str, str]] = field(default_factory=list)
    referral: dict[str, str] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)


def _stored_rows(value: list[dict[str, Any]]) -> list[dict[str, str]]:
    return [{name: str(v) for name, v in row.items()} for row in value]


def _referral_form(value: dict[str, Any]) -> dict[str, str]:
    return {
        "package_type": str(value["package_type"]),
        "allowed_domains": "\n".join(value["allowed_domains"]),
        "denied_domains": "\n".join(value["denied_domains"]),
        "redeem_days": str(value["redeem_days"]),
    }


async def _page(
    request: Request, user: ActiveSession, s: ServicesDep, posted: Posted | None = None
) -> HTMLResponse:
    view = await s.tiers.view()
    tables: dict[str, list[dict[str, str]]] = {}
    for section in FIELDS:
        rows = _stored_rows(section_json(view.tables, section))
        if posted is not None and posted.section == section:
            rows = posted.rows
        tables[section] = rows + [dict.fromkeys(FIELDS[section], "")] * BLANK_ROWS
    referral = _referral_form(section_json(view.tables, REFERRAL))
    if posted is not None and posted.section == REFERRAL:
        referral = posted.referral
    types = [t.name for t in await s.packages.types()]
    context = {
        "view": view,
        "tables": tables,
        "referral": referral,
        "package_types": types,
        "posted": posted,
        "errors": posted.errors if posted else {},
        "notice": NOTICES.get(request.query_params.get("done", "")),
        "LEVELS": LEVELS,
        "LEVEL_NAMES": LEVEL_NAMES,
        "TITLES": TITLES,
        "SECTIONS": SECTIONS,
    }
    return render(request, "admin/tiers.html", context, user=user, status=400 if posted else 200)


@router.get(PAGE, response_class=HTMLResponse)
async def tiers(request: Request, user: ConsoleOperatorDep, s: ServicesDep) -> HTMLResponse:
    return await _page(request, user, s)


def _read_rows(form: dict[str, Any], section: Section) -> tuple[list[dict[str, str]], list[int]]:
    """The rows kept (not blank, not removed), as typed, and each one's index in the form."""
    names = FIELDS[section]
    kept: list[dict[str, str]] = []
    where: list[int] = []
    for index in range(64):
        if not any(f"{name}_{index}" in form for name in names):
            break
        row = {name: str(form.get(f"{name}_{index}", "")).strip() for name in names}
        blank = not any(row[name] for name in names if name != "level")
        if blank or form.get(f"remove_{index}"):
            continue
        kept.append(row)
        where.append(index)
    return kept, where


def _next_to_field(err: InvalidRequest) -> str:
    """The message without the leading ``'<param>'`` the JSON route needs: shown next to
    its field, the field is named already (and rows are counted from 1 there, not 0)."""
    text = err.message.removeprefix(f"'{err.param}'").lstrip(" :")
    return text[:1].upper() + text[1:] if text != err.message else err.message


def _row_errors(err: InvalidRequest, section: Section) -> dict[str, str]:
    """The refusal on its row's field (rows re-numbered as the kept rows are shown)."""
    found = _ERROR_AT.match(err.param or "")
    if found and found.group(1) == section:
        return {f"{found.group(3)}_{found.group(2)}": _next_to_field(err)}
    return {"form": err.message}


@router.post(PAGE + "/{slug}", response_model=None)
async def save_table(
    request: Request, slug: str, user: OperatorCsrfDep, s: ServicesDep
) -> Response:
    """Save the membership (``membership``) or RPM (``rate-limits``) table as posted."""
    if slug == "referral":
        return await _save_referral(request, user, s)
    section = SLUGS.get(slug)
    if section is None:
        return RedirectResponse(PAGE, status_code=303)
    rows, _ = _read_rows(await page_form(request), section)
    try:
        await s.tiers.save({section: rows}, actor_id=user.user_id)
    except InvalidRequest as err:
        posted = Posted(section, rows=rows, errors=_row_errors(err, section))
        return await _page(request, user, s, posted)
    return RedirectResponse(f"{PAGE}?done={section}#{section}", status_code=303)


async def _save_referral(request: Request, user: ActiveSession, s: ServicesDep) -> Response:
    form = await page_form(request)
    typed = {
        name: str(form.get(name, "")).strip()
        for name in ("package_type", "allowed_domains", "denied_domains", "redeem_days")
    }
    terms = {**typed, "redeem_days": typed["redeem_days"] or "0"}
    try:
        await s.tiers.save({REFERRAL: terms}, actor_id=user.user_id)
    except InvalidRequest as err:
        name = (err.param or "").removeprefix(REFERRAL + ".")
        shown = {name: _next_to_field(err)} if name in typed else {"form": err.message}
        posted = Posted(REFERRAL, referral=typed, errors=shown)
        return await _page(request, user, s, posted)
    return RedirectResponse(f"{PAGE}?done=referral#referral", status_code=303)


@router.post(PAGE + "/{section}/reset", response_model=None)
async def reset(request: Request, section: str, user: OperatorCsrfDep, s: ServicesDep) -> Response:
    if section in SECTIONS:
        await s.tiers.reset(section, actor_id=user.user_id)
    return RedirectResponse(f"{PAGE}?done=reset#{section}", status_code=303)
