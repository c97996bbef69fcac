"""Payment routes: a user's top-ups and orders, the operator's orders, Stripe's webhook,
and an OAuth app's top-ups for its user (§5: ``/api/v1/user/oauth/stripe/*``, here since
payments sit above the OAuth package; docs/oauth.md).

Every route answers 404 ``payments_not_configured`` while the operator has set no Stripe
key. The webhook reads the raw body (the signature covers its exact bytes) and answers 200
for every genuine event, applied or not (unknown types, replays), so Stripe stops
retrying; 400 only for a delivery that is not Stripe's.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from relaygate.accounts.api import OPERATOR_ERRORS, OperatorDep
from relaygate.accounts.signup import normalise_email
from relaygate.accounts.signup_api import EMAIL
from relaygate.accounts.user_api import MANAGER_ERRORS, ManagerDep
from relaygate.core.bounds import PositivePrice, RowId
from relaygate.core.envelope import envelope, error_responses, refused_when
from relaygate.core.errors import InvalidRequest
from relaygate.core.forms import MONEY_JSON, MONEY_TEXT, form_body, parse_body
from relaygate.core.money import format_money, parse_money
from relaygate.oauth.api import TOKEN_ERRORS, GeneralDep
from relaygate.payments.provider import WebhookRefused
from relaygate.payments.service import OrderView, PaymentService, PaymentURLs
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


# ---------------------------------------------------------------- an OAuth app's top-ups
_BACK = "^https?://[^\\s/?#]+[^\\s]*$"
_BACK_URL = {
    "type": "string",
    "maxLength": 2000,
    "pattern": _BACK,
    "description": "An http(s) URL; default: the gateway's billing page.",
}
_AMOUNT = {**MONEY_TEXT, "description": "In the gateway's currency, within its top-up limits."}
_CURRENCY = {
    "type": "string",
    "pattern": "^[A-Za-z]{3}$",
    "description": "Optional check: must be the gateway's currency (400 otherwise).",
}
_CHECKOUT_BODY = form_body(
    {"amount": _AMOUNT, "currency": _CURRENCY, "success_url": _BACK_URL, "cancel_url": _BACK_URL},
    {"amount": MONEY_JSON},
    required=("amount",),
)
_INVOICE_BODY = form_body(
    {
        "amount": _AMOUNT,
        "currency": _CURRENCY,
        "email": {
            **EMAIL,
            "description": "Where Stripe addresses the invoice; default: the user's.",
        },
    },
    {"amount": MONEY_JSON},
    required=("amount",),
)
_OAUTH_ERRORS = {
    **TOKEN_ERRORS,
    **_OFF,
    **refused_when("an amount outside the limits, another currency or a non-http(s) URL"),
    **error_responses(503),
}
_BACK_PATTERN = re.compile(_BACK)


async def _oauth_body(request: Request) -> dict[str, Any]:
    return parse_body(await request.body(), request.headers.get("content-type", ""))


def _field(body: dict[str, Any], name: str) -> str:
    value = body.get(name)
    return "" if value is None else str(value).strip()


def _amount(body: dict[str, Any], svc: PaymentService) -> int:
    """The amount asked, in micro-units, after the optional currency check."""
    currency = _field(body, "currency").lower()
    if currency and currency != svc.limits.currency:
        raise InvalidRequest(
            f"'currency' must be {svc.limits.currency.upper()}, the gateway's currency.",
            param="currency",
        )
    amount = parse_money(body.get("amount", ""), "amount")
    if amount <= 0:
        raise InvalidRequest("'amount' must be positive.", param="amount")
    return amount


def _back_url(body: dict[str, Any], name: str, default: str) -> str:
    """Where Stripe sends the payer back: the app's own page (http or https only: no
    ``javascript:`` or other scheme is handed to the payment page), or the gateway's."""
    url = _field(body, name)
    if not url:
        return default
    if len(url) > 2000 or not _BACK_PATTERN.match(url):
        raise InvalidRequest(f"'{name}' must be an http(s) URL.", param=name)
    return url


@router.post(
    "/api/v1/user/oauth/stripe/checkout",
    tags=["oauth"],
    summary="Create a Stripe Checkout top-up for the authorising user",
    openapi_extra=_CHECKOUT_BODY,
    responses=_OAUTH_ERRORS,
)
async def oauth_checkout(
    request: Request, who: GeneralDep, svc: PaymentsDep, accounts: AccountsDep
) -> dict[str, Any]:
    svc.provider_name()
    body = await _oauth_body(request)
    amount = _amount(body, svc)
    urls = PaymentURLs(
        success=_back_url(body, "success_url", svc.urls.success),
        cancel=_back_url(body, "cancel_url", svc.urls.cancel),
    )
    user = await accounts.user(who.user_id)
    order = await svc.create_topup(who.user_id, user.email, amount, "checkout", urls)
    data = {
        "checkout_url": order.pay_url,
        "order_id": order.id,
        "amount": format_money(order.amount),
        "currency": order.currency,
    }
    return envelope(data, "Create Stripe checkout success")


@router.post(
    "/api/v1/user/oauth/stripe/invoice",
    tags=["oauth"],
    summary="Create a Stripe Invoice top-up for the authorising user",
    openapi_extra=_INVOICE_BODY,
    responses=_OAUTH_ERRORS,
)
async def oauth_invoice(
    request: Request, who: GeneralDep, svc: PaymentsDep, accounts: AccountsDep
) -> dict[str, Any]:
    svc.provider_name()
    body = await _oauth_body(request)
    amount = _amount(body, svc)
    given = _field(body, "email")
    email = normalise_email(given) if given else (await accounts.user(who.user_id)).email
    order = await svc.create_topup(who.user_id, email, amount, "invoice")
    data = {
        "invoice_url": order.pay_url,
        "invoice_id": order.provider_ref,
        "order_id": order.id,
        "amount": format_money(order.amount),
        "currency": order.currency,
    }
    return envelope(data, "Create Stripe invoice success")
