"""Payment routes: a user's top-ups and orders, the operator's orders, Stripe's webhook.

Every route answers 404 ``payments_not_configured`` while the operator has set no Stripe
key. The webhook reads the raw body (the signature covers its exact bytes) and answers 200
for every genuine event, applied or not (unknown types, replays), so Stripe stops
retrying; 400 only for a delivery that is not Stripe's.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from relaygate.accounts.api import OPERATOR_ERRORS, OperatorDep
from relaygate.accounts.user_api import MANAGER_ERRORS, ManagerDep
from relaygate.core.bounds import PositivePrice, RowId
from relaygate.core.envelope import envelope, error_responses, refused_when
from relaygate.core.errors import InvalidRequest
from relaygate.core.money import format_money, parse_money
from relaygate.payments.provider import WebhookRefused
from relaygate.payments.service import OrderView
from relaygate.services import AccountsDep, PaymentsDep

__all__ = ["order_out", "router"]

State = Literal["created", "paid", "expired", "failed", "refunded", "disputed"]


class TopUpIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    amount: PositivePrice = Field(description='In the operator\'s currency, e.g. "20".')
    method: Literal["checkout", "invoice"] = "checkout"


def order_out(order: OrderView) -> dict[str, Any]:
    return {
        "id": order.id,
        "user_id": order.user_id,
        "provider": order.provider,
        "method": order.method,
        "provider_ref": order.provider_ref,
        "state": order.state,
        "amount": format_money(order.amount),
        "amount_minor": order.amount_minor,
        "currency": order.currency,
        "refunded": format_money(order.refunded),
        "pay_url": order.pay_url or None,
        "receipt_url": order.receipt_url or None,
        "created_at": order.created_at.isoformat().replace("+00:00", "Z"),
        "paid_at": order.paid_at.isoformat().replace("+00:00", "Z") if order.paid_at else None,
    }


router = APIRouter(tags=["payments"])
_OFF = error_responses(404)


@router.get(
    "/api/v1/user/payments/options",
    summary="Top-up amounts and limits",
    responses={**MANAGER_ERRORS, **_OFF},
)
async def options(_: ManagerDep, svc: PaymentsDep) -> dict[str, Any]:
    svc.provider_name()
    limits = svc.limits
    return envelope(
        {
            "currency": limits.currency,
            "options": [format_money(o) for o in limits.options],
            "min": format_money(limits.minimum),
            "max": format_money(limits.maximum),
            "methods": ["checkout", "invoice"],
        }
    )


@router.post(
    "/api/v1/user/payments/topups",
    summary="Start a top-up (Stripe Checkout or Invoice)",
    responses={
        **MANAGER_ERRORS,
        **_OFF,
        **refused_when("an amount outside the limits or finer than the currency's cents"),
        **error_responses(503),
    },
)
async def create_topup(
    body: TopUpIn, caller: ManagerDep, svc: PaymentsDep, accounts: AccountsDep
) -> dict[str, Any]:
    user = await accounts.user(caller.user_id)
    amount = parse_money(body.amount)
    order = await svc.create_topup(caller.user_id, user.email, amount, body.method)
    return envelope(order_out(order), "Top-up created: pay at pay_url")


@router.get(
    "/api/v1/user/payments/orders",
    summary="My top-up orders",
    responses={**MANAGER_ERRORS, **_OFF},
)
async def my_orders(
    caller: ManagerDep,
    svc: PaymentsDep,
    state: State | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> dict[str, Any]:
    svc.provider_name()
    found = await svc.orders(caller.user_id, state, limit)
    return envelope([order_out(o) for o in found])


@router.get(
    "/api/v1/operator/payments/orders",
    summary="Every user's top-up orders",
    responses={**OPERATOR_ERRORS, **_OFF},
)
async def all_orders(
    _: OperatorDep,
    svc: PaymentsDep,
    state: State | None = None,
    user_id: RowId | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> dict[str, Any]:
    svc.provider_name()
    found = await svc.orders(user_id, state, limit)
    return envelope([order_out(o) for o in found])


@router.post(
    "/api/v1/payments/stripe/webhook",
    summary="Stripe's webhook (signed deliveries only)",
    responses={**error_responses(400), **_OFF},
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"type": "object"}}},
        }
    },
)
async def stripe_webhook(request: Request, svc: PaymentsDep) -> dict[str, Any]:
    svc.provider_name()
    signature = request.headers.get("stripe-signature", "")
    try:
        outcome = await svc.handle_webhook(await request.body(), signature)
    except WebhookRefused as exc:
        raise InvalidRequest(
            "The delivery is not signed by Stripe: " + str(exc), param="Stripe-Signature"
        ) from exc
    return envelope({"outcome": outcome})
