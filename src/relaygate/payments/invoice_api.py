"""Invoice routes (docs/invoices.md): a user asks for an invoice on paid top-ups, follows
it, cancels it while it waits and downloads the PDF once issued; the operator lists the
queue and issues or rejects. Relaygate's own ([I]) routes in the platform envelope; the
PDF is ``application/pdf``, an attachment. Another user's invoice is a 404.

They work whether or not Stripe is configured: orders paid before payments were turned
off can still be invoiced.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from relaygate.accounts.api import OPERATOR_ERRORS, OperatorDep
from relaygate.accounts.user_api import MANAGER_ERRORS, ManagerDep
from relaygate.core.bounds import RowId
from relaygate.core.envelope import envelope, error_responses, refused_when
from relaygate.core.money import format_money
from relaygate.payments.invoices import MAX_ORDERS, Buyer, InvoiceFileOut, InvoiceView
from relaygate.services import InvoicesDep

__all__ = ["invoice_out", "pdf_response", "router"]

State = Literal["requested", "issued", "rejected", "cancelled"]
_TEXT = r"\S"  # some text, not only spaces
_NOT_FOUND = error_responses(404)
_CONFLICT = error_responses(409)
_PDF: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}},
        "description": "The invoice as a PDF, sent as an attachment named <number>.pdf",
    }
}


class InvoiceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    order_ids: list[RowId] = Field(
        min_length=1,
        max_length=MAX_ORDERS,
        description="Your paid top-up orders to invoice (see /api/v1/user/invoices/orders).",
    )
    organisation: str = Field(
        min_length=1, max_length=200, pattern=_TEXT, description="The buyer's name."
    )
    tax_id: str = Field(
        min_length=1, max_length=64, pattern=_TEXT, description="The buyer's tax id."
    )
    address: str = Field(default="", max_length=300, description="Printed in the remarks.")
    bank_name: str = Field(default="", max_length=200, description="Printed in the remarks.")
    bank_account: str = Field(default="", max_length=64, description="Printed in the remarks.")


class RejectIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(
        min_length=1, max_length=500, pattern=_TEXT, description="Shown to the user."
    )


def _iso(moment: Any) -> str | None:
    return moment.isoformat().replace("+00:00", "Z") if moment is not None else None


def invoice_out(view: InvoiceView) -> dict[str, Any]:
    return {
        "id": view.id,
        "user_id": view.user_id,
        "state": view.state,
        "number": view.number,
        "organisation": view.buyer.organisation,
        "tax_id": view.buyer.tax_id,
        "address": view.buyer.address,
        "bank_name": view.buyer.bank_name,
        "bank_account": view.buyer.bank_account,
        "currency": view.currency,
        "total": format_money(view.total),
        "orders": [
            {"order_id": x.order_id, "amount": format_money(x.amount), "paid_at": _iso(x.paid_at)}
            for x in view.lines
        ],
        "reason": view.reason or None,
        "created_at": _iso(view.created_at),
        "decided_at": _iso(view.decided_at),
    }


def pdf_response(found: InvoiceFileOut) -> Response:
    """The PDF as a download (the console's link serves the same)."""
    headers = {
        "content-disposition": f'attachment; filename="{found.filename}"',
        "cache-control": "private, no-store",
    }
    return Response(found.content, media_type="application/pdf", headers=headers)


router = APIRouter(tags=["payments: invoices"])


@router.get(
    "/api/v1/user/invoices/orders",
    summary="Your paid top-ups that can still be invoiced",
    responses=MANAGER_ERRORS,
)
async def invoiceable(caller: ManagerDep, svc: InvoicesDep) -> dict[str, Any]:
    found = await svc.invoiceable(caller.user_id)
    return envelope(
        [
            {
                "order_id": o.order_id,
                "amount": format_money(o.amount),
                "currency": o.currency,
                "paid_at": _iso(o.paid_at),
            }
            for o in found
        ]
    )


@router.post(
    "/api/v1/user/invoices",
    summary="Ask for an invoice on paid top-ups",
    responses={
        **MANAGER_ERRORS,
        **_NOT_FOUND,
        **_CONFLICT,
        **refused_when("an order that is not paid, was refunded, or is in another currency"),
    },
)
async def request_invoice(body: InvoiceIn, caller: ManagerDep, svc: InvoicesDep) -> dict[str, Any]:
    buyer = Buyer(body.organisation, body.tax_id, body.address, body.bank_name, body.bank_account)
    view = await svc.request(caller.user_id, body.order_ids, buyer)
    return envelope(invoice_out(view), "Invoice requested")


@router.get(
    "/api/v1/user/invoices", summary="Your invoices, newest first", responses=MANAGER_ERRORS
)
async def my_invoices(
    caller: ManagerDep,
    svc: InvoicesDep,
    state: State | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> dict[str, Any]:
    return envelope([invoice_out(v) for v in await svc.invoices(caller.user_id, state, limit)])


@router.get(
    "/api/v1/user/invoices/{invoice_id}",
    summary="One of your invoices",
    responses={**MANAGER_ERRORS, **_NOT_FOUND},
)
async def my_invoice(invoice_id: RowId, caller: ManagerDep, svc: InvoicesDep) -> dict[str, Any]:
    return envelope(invoice_out(await svc.invoice(invoice_id, caller.user_id)))


@router.post(
    "/api/v1/user/invoices/{invoice_id}/cancel",
    summary="Withdraw a request the operator has not decided yet",
    responses={**MANAGER_ERRORS, **_NOT_FOUND, **_CONFLICT},
)
async def cancel_invoice(invoice_id: RowId, caller: ManagerDep, svc: InvoicesDep) -> dict[str, Any]:
    return envelope(invoice_out(await svc.cancel(invoice_id, caller.user_id)), "Request cancelled")


@router.get(
    "/api/v1/user/invoices/{invoice_id}/pdf",
    summary="Download an issued invoice (PDF)",
    responses={**MANAGER_ERRORS, **_NOT_FOUND, **_PDF},
    response_class=Response,
)
async def my_invoice_pdf(invoice_id: RowId, caller: ManagerDep, svc: InvoicesDep) -> Response:
    return pdf_response(await svc.pdf(invoice_id, caller.user_id))


@router.get(
    "/api/v1/operator/invoices",
    summary="Every user's invoices, newest first (the queue: ?state=requested)",
    responses=OPERATOR_ERRORS,
)
async def all_invoices(
    _: OperatorDep,
    svc: InvoicesDep,
    state: State | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> dict[str, Any]:
    return envelope([invoice_out(v) for v in await svc.invoices(None, state, limit)])


@router.post(
    "/api/v1/operator/invoices/{invoice_id}/issue",
    summary="Issue a requested invoice: number it and draw its PDF",
    responses={**OPERATOR_ERRORS, **_NOT_FOUND, **_CONFLICT},
)
async def issue_invoice(invoice_id: RowId, caller: OperatorDep, svc: InvoicesDep) -> dict[str, Any]:
    view = await svc.issue(invoice_id, actor_id=caller.user_id)
    return envelope(invoice_out(view), "Invoice issued")


@router.post(
    "/api/v1/operator/invoices/{invoice_id}/reject",
    summary="Reject a requested invoice, saying why",
    responses={**OPERATOR_ERRORS, **_NOT_FOUND, **_CONFLICT},
)
async def reject_invoice(
    invoice_id: RowId, body: RejectIn, caller: OperatorDep, svc: InvoicesDep
) -> dict[str, Any]:
    view = await svc.reject(invoice_id, body.reason, actor_id=caller.user_id)
    return envelope(invoice_out(view), "Invoice rejected")


@router.get(
    "/api/v1/operator/invoices/{invoice_id}/pdf",
    summary="Download any issued invoice (PDF)",
    responses={**OPERATOR_ERRORS, **_NOT_FOUND, **_PDF},
    response_class=Response,
)
async def invoice_pdf(invoice_id: RowId, _: OperatorDep, svc: InvoicesDep) -> Response:
    return pdf_response(await svc.pdf(invoice_id))
