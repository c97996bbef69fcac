"""``/console/invoices``: ask for an invoice on paid top-ups and follow it.

The form lists the user's paid top-ups that no live invoice covers (checkboxes), with the
organisation and tax id (required) and the address and bank (optional, printed in the
remarks); it calls ``InvoiceService.request`` as ``POST /api/v1/user/invoices`` does. The
list shows each invoice's state; a requested one can be cancelled, an issued one
downloaded (``/console/invoices/<id>.pdf``), a rejected one says why. Another user's
invoice is the 404 page.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from relaygate.accounts.sessions import ActiveSession
from relaygate.core.bounds import RowId
from relaygate.core.errors import ClientError
from relaygate.payments.invoice_api import pdf_response
from relaygate.payments.invoices import Buyer
from relaygate.services import ServicesDep
from relaygate.web.forms import page_form, page_form_list
from relaygate.web.i18n import N_
from relaygate.web.render import render
from relaygate.web.session import ConsoleUserDep, CsrfDep

__all__ = ["INVOICE_STATES", "router"]

router = APIRouter(include_in_schema=False)
PAGE = "/console/invoices"
FIELDS = ("organisation", "tax_id", "address", "bank_name", "bank_account")
INVOICE_STATES = {
    "requested": N_("Requested"),
    "issued": N_("Issued"),
    "rejected": N_("Rejected"),
    "cancelled": N_("Cancelled"),
}
NOTICES = {
    "requested": N_(
        "Invoice requested. The operator reviews it; this page shows when it is issued."
    ),
    "cancelled": N_("Request cancelled: its top-ups can be invoiced again."),
}
FIELD_ERRORS = {
    "organisation": N_("Enter the organisation's name (up to 200 characters)."),
    "tax_id": N_("Enter the organisation's tax id (up to 64 characters)."),
    "address": N_("At most 300 characters."),
    "bank_name": N_("At most 200 characters."),
    "bank_account": N_("At most 64 characters."),
    "order_ids": N_("Choose at least one paid top-up that is not on another invoice."),
}
TOO_LATE = N_("This request was already decided; it can no longer be cancelled.")


async def _render(
    request: Request,
    s: ServicesDep,
    user: ActiveSession,
    *,
    form: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> HTMLResponse:
    form = form or {}
    context = {
        "invoiceable": await s.invoices.invoiceable(user.user_id),
        "invoices": await s.invoices.invoices(user.user_id),
        "states": INVOICE_STATES,
        "form": {name: str(form.get(name, "")) for name in FIELDS},
        "chosen": set(form.get("order_ids", [])),
        "errors": errors or {},
        "notice": NOTICES.get(request.query_params.get("done", ""), ""),
    }
    return render(request, "invoices/index.html", context, user=user, status=status)


@router.get(PAGE, response_class=HTMLResponse)
async def invoices(request: Request, user: ConsoleUserDep, s: ServicesDep) -> HTMLResponse:
    return await _render(request, s, user)


def _order_ids(values: list[str]) -> list[int]:
    return [int(v) for v in values if v.isascii() and v.isdigit() and 0 < len(v) < 10]


@router.post(PAGE, response_model=None)
async def request_invoice(request: Request, user: CsrfDep, s: ServicesDep) -> Response:
    form = {name: str(v)[:1000] for name, v in (await page_form(request)).items()}
    chosen = _order_ids(await page_form_list(request, "order_id"))
    buyer = Buyer(*(form.get(name, "") for name in FIELDS))
    try:
        await s.invoices.request(user.user_id, chosen, buyer)
    except ClientError as err:  # a field's refusal, a taken or foreign order
        field = err.param if err.param in FIELD_ERRORS else "order_ids"
        shown: dict[str, Any] = {**form, "order_ids": [str(i) for i in chosen]}
        errors = {field: FIELD_ERRORS[field]}
        return await _render(request, s, user, form=shown, errors=errors, status=err.status)
    return RedirectResponse(f"{PAGE}?done=requested", status_code=303)


@router.post(PAGE + "/{invoice_id}/cancel", response_model=None)
async def cancel(request: Request, invoice_id: RowId, user: CsrfDep, s: ServicesDep) -> Response:
    await s.invoices.invoice(invoice_id, user.user_id)  # another's: the 404 page
    try:
        await s.invoices.cancel(invoice_id, user.user_id)
    except ClientError as err:
        return await _render(request, s, user, errors={"list": TOO_LATE}, status=err.status)
    return RedirectResponse(f"{PAGE}?done=cancelled", status_code=303)


@router.get(PAGE + "/{invoice_id}.pdf", response_model=None)
async def download(invoice_id: RowId, user: ConsoleUserDep, s: ServicesDep) -> Response:
    return pdf_response(await s.invoices.pdf(invoice_id, user.user_id))
