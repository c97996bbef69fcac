"""``/console/admin/packages``: resource package types (list, create, edit).

Package types change through ``PackageService`` (with audit lines), checked by the
package API's own model (``PackageTypeIn``). Which type the referral reward grants is
edited with the tiers (``/console/admin/tiers``: web/pages/admin_tiers.py), which this
page names. A disabled type is no longer granted by the operator (console or API);
packages granted from it are untouched.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from relaygate.billing.models import PackageType
from relaygate.billing.package_api import PackageTypeIn
from relaygate.core.bounds import RowId
from relaygate.core.errors import InvalidRequest
from relaygate.core.money import MoneyError, format_money, parse_money
from relaygate.services import ServicesDep
from relaygate.web.forms import FormErrors, page_form, schema_errors
from relaygate.web.i18n import N_
from relaygate.web.render import render
from relaygate.web.session import ConsoleOperatorDep, CsrfDep

__all__ = ["router"]

router = APIRouter(include_in_schema=False)
PAGE = "/console/admin/packages"
NOTICES = {
    "created": N_("Package type created."),
    "saved": N_("Package type saved."),
    "disabled": N_("Package type disabled: it can no longer be granted."),
    "enabled": N_("Package type enabled."),
}


def _lines(text: str) -> list[str]:
    return [part.strip() for part in text.replace(",", "\n").splitlines() if part.strip()]


def _form_values(row: PackageType | None) -> dict[str, str]:
    if row is None:
        return {
            **dict.fromkeys(("name", "amount", "scope_routes", "scope_models"), ""),
            "validity_days": "30",
        }
    return {
        "name": row.name,
        "amount": format_money(row.amount),
        "scope_routes": ", ".join(str(r) for r in row.scope_routes or []),
        "scope_models": ", ".join(str(m) for m in row.scope_models or []),
        "validity_days": str(row.validity_days),
    }


def read_type(form: dict[str, Any]) -> dict[str, Any]:
    """The type's fields as the package API checks and stores them; raises FormErrors."""
    body = {
        "name": str(form.get("name", "")).strip(),
        "amount": str(form.get("amount", "")).strip() or "0",
        "scope_routes": _lines(str(form.get("scope_routes", ""))),
        "scope_models": _lines(str(form.get("scope_models", ""))),
        "validity_days": str(form.get("validity_days", "")).strip() or "30",
    }
    try:
        checked = PackageTypeIn.model_validate(body)
        return {**checked.model_dump(), "amount": parse_money(checked.amount)}
    except ValidationError as err:
        raise FormErrors(schema_errors(err)) from None
    except MoneyError as err:
        raise FormErrors({"amount": err.message}) from None


async def _page(
    request: Request,
    user: Any,
    s: ServicesDep,
    *,
    editing: PackageType | None = None,
    form: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> HTMLResponse:
    context = {
        "types": await s.packages.types(),
        "editing": editing,
        "form": form or _form_values(editing),
        "errors": errors or {},
        "notice": NOTICES.get(request.query_params.get("done", "")),
        "referral_type": s.tiers.current.referral.package_type,
    }
    return render(request, "admin/packages.html", context, user=user, status=status)


@router.get(PAGE, response_class=HTMLResponse)
async def packages(request: Request, user: ConsoleOperatorDep, s: ServicesDep) -> HTMLResponse:
    return await _page(request, user, s)


@router.get(PAGE + "/{type_id}", response_class=HTMLResponse)
async def package_type(
    request: Request, type_id: RowId, user: ConsoleOperatorDep, s: ServicesDep
) -> HTMLResponse:
    return await _page(request, user, s, editing=await s.packages.type_by_id(type_id))


@router.post(PAGE, response_model=None)
async def create_type(
    request: Request, _: ConsoleOperatorDep, user: CsrfDep, s: ServicesDep
) -> Response:
    form = await page_form(request)
    try:
        await s.packages.create_type(read_type(form), actor_id=user.user_id)
    except (FormErrors, InvalidRequest) as err:
        errors = err.errors if isinstance(err, FormErrors) else {err.param or "form": err.message}
        shown = {k: str(form.get(k, "")) for k in _form_values(None)}
        return await _page(request, user, s, form=shown, errors=errors, status=400)
    return RedirectResponse(f"{PAGE}?done=created", status_code=303)


@router.post(PAGE + "/{type_id}", response_model=None)
async def edit_type(
    request: Request, type_id: RowId, _: ConsoleOperatorDep, user: CsrfDep, s: ServicesDep
) -> Response:
    row = await s.packages.type_by_id(type_id)
    form = await page_form(request)
    try:
        await s.packages.update_type(type_id, read_type(form), actor_id=user.user_id)
    except (FormErrors, InvalidRequest) as err:
        errors = err.errors if isinstance(err, FormErrors) else {err.param or "form": err.message}
        shown = {k: str(form.get(k, "")) for k in _form_values(None)}
        return await _page(request, user, s, editing=row, form=shown, errors=errors, status=400)
    return RedirectResponse(f"{PAGE}?done=saved", status_code=303)


@router.post(PAGE + "/{type_id}/active", response_model=None)
async def set_active(
    request: Request, type_id: RowId, _: ConsoleOperatorDep, user: CsrfDep, s: ServicesDep
) -> Response:
    active = (await page_form(request)).get("active") == "true"
    await s.packages.set_type_active(type_id, active, actor_id=user.user_id)
    done = "enabled" if active else "disabled"
    return RedirectResponse(f"{PAGE}?done={done}", status_code=303)
