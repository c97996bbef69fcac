"""``/console/admin/invoices``: the operator's invoice queue. Every request, newest first,
filtered by state (``?state=requested``), with the buyer's details and the top-ups it
covers; a requested one has **Issue** (numbers it and draws the PDF) and **Reject**
(with a reason the user sees); an issued one downloads.

The same ``InvoiceService`` calls as the operator JSON API, with the operator as
``actor_id`` (audit lines ``invoice.issue``, ``invoice.reject``).
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from relaygate.accounts.sessions import ActiveSession
from relaygate.core.bounds import RowId
from relaygate.core.errors import ClientError
from relaygate.payments.invoice_api import pdf_response
from relaygate.payments.invoices import (
    INVOICE_STATES,
    ISSUER_NOT_SET,
    NOT_REQUESTED,
    ORDER_REFUNDED,
)
from relaygate.services import ServicesDep
from relaygate.web.forms import page_form
from relaygate.web.i18n import N_
from relaygate.web.pages.invoices import INVOICE_STATES as STATE_LABELS
from relaygate.web.render import render
from relaygate.web.session import ConsoleOperatorDep, OperatorCsrfDep

__all__ = ["router"]

router = APIRouter(include_in_schema=False)
PAGE = "/console/admin/invoices"
NOTICES = {
    "issued": N_("Invoice issued: the user can download it now."),
    "rejected": N_("Invoice rejected: the user sees your reason, and its top-ups are free again."),
}
REFUSALS = {
    ISSUER_NOT_SET: N_("Set invoice_issuer_name (docs/invoices.md) before issuing invoices."),
    NOT_REQUESTED: N_("This invoice was already decided or cancelled."),
    ORDER_REFUNDED: N_(
        "A top-up on this invoice was refunded or disputed since the request: reject it instead."
    ),
    "reason": N_("Say why the invoice is rejected (up to 500 characters)."),
}


async def _page(
    request: Request,
    user: ActiveSession,
    s: ServicesDep,
    *,
    refused: str = "",
    status: int = 200,
) -> HTMLResponse:
    state = request.query_params.get("state", "")
    chosen = state if state in INVOICE_STATES else None
    context = {
        "invoices": await s.invoices.invoices(None, chosen, 200),
        "state": chosen or "",
        "states": STATE_LABELS,
        "issuer_set": bool(s.invoices.issuer.name),
        "notice": NOTICES.get(request.query_params.get("done", ""), ""),
        "refused": refused,
    }
    return render(request, "admin/invoices.html", context, user=user, status=status)


@router.get(PAGE, response_class=HTMLResponse)
async def queue(request: Request, user: ConsoleOperatorDep, s: ServicesDep) -> HTMLResponse:
    return await _page(request, user, s)


def _refusal(err: ClientError) -> str:
    return REFUSALS.get(err.code or "", REFUSALS.get(err.param or "", REFUSALS[NOT_REQUESTED]))


@router.post(PAGE + "/{invoice_id}/issue", response_model=None)
async def issue(
    request: Request, invoice_id: RowId, user: OperatorCsrfDep, s: ServicesDep
) -> Response:
    await s.invoices.invoice(invoice_id)  # a missing one: the 404 page
    try:
        await s.invoices.issue(invoice_id, actor_id=user.user_id)
    except ClientError as err:
        return await _page(request, user, s, refused=_refusal(err), status=err.status)
    return RedirectResponse(f"{PAGE}?done=issued", status_code=303)


@router.post(PAGE + "/{invoice_id}/reject", response_model=None)
async def reject(
    request: Request, invoice_id: RowId, user: OperatorCsrfDep, s: ServicesDep
) -> Response:
    await s.invoices.invoice(invoice_id)
    reason = str((await page_form(request)).get("reason", ""))[:2000]
    try:
        await s.invoices.reject(invoice_id, reason, actor_id=user.user_id)
    except ClientError as err:
        return await _page(request, user, s, refused=_refusal(err), status=err.status)
    return RedirectResponse(f"{PAGE}?done=rejected", status_code=303)


@router.get(PAGE + "/{invoice_id}.pdf", response_model=None)
async def download(invoice_id: RowId, _: ConsoleOperatorDep, s: ServicesDep) -> Response:
    return pdf_response(await s.invoices.pdf(invoice_id))
