"""``/console/admin/codes``: redemption-code batches: generate one (money or a package,
quantity, uses per code, last day), see each batch's usage, disable or enable it, and
download its codes as CSV (``/console/admin/codes/<id>.csv``).

Batches change through ``RedemptionService`` (with audit lines), checked by the JSON
API's own model (``BatchIn``); the CSV is the API's export. The codes are gift-card
numbers: only operators reach this page, and the download is never cached.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from relaygate.accounts.sessions import ActiveSession
from relaygate.billing.redemption import NewBatch
from relaygate.billing.redemption_api import BatchIn, batch_csv
from relaygate.core.bounds import RowId
from relaygate.core.clock import utcnow
from relaygate.core.errors import InvalidRequest, NotFound
from relaygate.core.money import parse_money
from relaygate.services import ServicesDep
from relaygate.web.forms import FormErrors, page_form, schema_errors
from relaygate.web.i18n import N_
from relaygate.web.render import render
from relaygate.web.session import ConsoleOperatorDep, OperatorCsrfDep

__all__ = ["router"]

router = APIRouter(include_in_schema=False)
PAGE = "/console/admin/codes"
NOTICES = {
    "created": N_("Codes generated. Download them as CSV from the list."),
    "disabled": N_("Batch disabled: its codes are refused from now on."),
    "enabled": N_("Batch enabled."),
}
FIELDS = ("name", "amount", "package_type_id", "quantity", "max_redemptions", "expires_on")


def _defaults() -> dict[str, str]:
    last_day = (utcnow() + timedelta(days=90)).date().isoformat()
    return {
        "name": "",
        "amount": "",
        "package_type_id": "",
        "quantity": "100",
        "max_redemptions": "1",
        "expires_on": last_day,
    }


def _expiry(text: str) -> datetime:
    """A last valid day (UTC): the codes work through that day."""
    try:
        day = date.fromisoformat(text.strip())
    except ValueError:
        raise FormErrors({"expires_on": "Enter a date as YYYY-MM-DD."}) from None
    return datetime.combine(day + timedelta(days=1), time(), tzinfo=UTC)


def read_batch(form: dict[str, Any]) -> NewBatch:
    """The batch as the API checks it; raises FormErrors."""
    values = {k: str(form.get(k, "")).strip() for k in FIELDS}
    body: dict[str, Any] = {
        "name": values["name"],
        "quantity": values["quantity"] or "1",
        "max_redemptions": values["max_redemptions"] or "1",
        "expires_at": _expiry(values["expires_on"]),
    }
    if values["package_type_id"]:
        body["package_type_id"] = values["package_type_id"]
    else:
        body["amount"] = values["amount"] or "0"
    try:
        checked = BatchIn.model_validate(body)
    except ValidationError as err:
        raise FormErrors(schema_errors(err)) from None
    return NewBatch(
        name=checked.name,
        amount=parse_money(checked.amount) if checked.amount is not None else 0,
        package_type_id=checked.package_type_id,
        max_redemptions=checked.max_redemptions,
        quantity=checked.quantity,
        expires_at=checked.expires_at,
    )


async def _page(
    request: Request,
    user: ActiveSession,
    s: ServicesDep,
    *,
    form: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> HTMLResponse:
    context = {
        "batches": await s.redemptions.batches(),
        "types": [t for t in await s.packages.types() if t.active],
        "form": form or _defaults(),
        "errors": errors or {},
        "notice": NOTICES.get(request.query_params.get("done", "")),
        "now": utcnow(),
    }
    return render(request, "admin/codes.html", context, user=user, status=status)


@router.get(PAGE, response_class=HTMLResponse)
async def codes(request: Request, user: ConsoleOperatorDep, s: ServicesDep) -> HTMLResponse:
    return await _page(request, user, s)


@router.post(PAGE, response_model=None)
async def create_batch(request: Request, user: OperatorCsrfDep, s: ServicesDep) -> Response:
    form = await page_form(request)
    try:
        await s.redemptions.create_batch(read_batch(form), actor_id=user.user_id)
    except (FormErrors, InvalidRequest, NotFound) as err:
        errors = err.errors if isinstance(err, FormErrors) else {"form": err.message}
        shown = {k: str(form.get(k, "")) for k in FIELDS}
        return await _page(request, user, s, form=shown, errors=errors, status=400)
    return RedirectResponse(f"{PAGE}?done=created", status_code=303)


@router.post(PAGE + "/{batch_id}/active", response_model=None)
async def set_active(
    request: Request, batch_id: RowId, user: OperatorCsrfDep, s: ServicesDep
) -> Response:
    active = (await page_form(request)).get("active") == "true"
    await s.redemptions.set_active(batch_id, active, actor_id=user.user_id)
    done = "enabled" if active else "disabled"
    return RedirectResponse(f"{PAGE}?done={done}", status_code=303)


@router.get(PAGE + "/{batch_id}.csv", response_model=None)
async def download(batch_id: RowId, _: ConsoleOperatorDep, s: ServicesDep) -> Response:
    return await batch_csv(s.redemptions, batch_id)
