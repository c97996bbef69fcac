"""Billing routes: the operator's balance and price routes (and, from usage_api.py, the
usage listing), and the public rates."""

from __future__ import annotations

import json
import time
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from relaygate.accounts.api import OPERATOR_ERRORS, OperatorDep, presented_key
from relaygate.accounts.user_api import MANAGER_ERRORS, ManagerDep
from relaygate.billing.ledger import Balance
from relaygate.billing.membership import membership
from relaygate.billing.models import ModelPrice
from relaygate.billing.schemas import BalanceOut, CreditIn, ModelPriceIn
from relaygate.billing.usage_api import router as usage_listing
from relaygate.core.bounds import RowId
from relaygate.core.clock import utcnow
from relaygate.core.envelope import envelope, error_responses, refused_when
from relaygate.core.money import format_money, parse_money
from relaygate.services import AccountsDep, ChargingDep, LedgerDep, PackagesDep, PricesDep

__all__ = ["router"]


_PRICES = (
    "input", "output", "cached_input", "cache_write", "reasoning",
    "per_call", "per_image", "per_character", "per_second",
)  # fmt: skip

router = APIRouter(tags=["billing"])
router.include_router(usage_listing)  # the operator's usage listing (usage_api.py)
_NOT_FOUND = error_responses(404)


def balance_out(view: Balance) -> dict[str, Any]:
    return BalanceOut(
        balance=format_money(view.balance),
        free_balance=format_money(view.free_balance),
        topped_up_total=format_money(view.topped_up_total),
        first_topup_at=view.first_topup_at,
    ).model_dump(mode="json")


def _price_out(row: ModelPrice) -> dict[str, Any]:
    def money(value: int | None) -> str | None:
        return None if value is None else format_money(value)

    return {
        "model": row.model,
        "input": money(row.input),
        "output": money(row.output),
        "cached_input": money(row.cached_input),
        "cache_write": money(row.cache_write),
        "reasoning": money(row.reasoning),
        "per_call": money(row.per_call),
        "per_image": money(row.per_image),
        "per_character": money(row.per_character),
        "per_second": money(row.per_second),
        "multiplier": row.multiplier,
        "flex": row.flex,
        "vip_only": row.vip_only,
        "source": row.source,
    }


@router.post(
    "/api/v1/operator/users/{user_id}/credit",
    summary="Top up or adjust a balance",
    responses={**OPERATOR_ERRORS, **_NOT_FOUND, **refused_when("a top-up that is not positive")},
)
async def credit(
    user_id: RowId,
    body: CreditIn,
    caller: OperatorDep,
    svc: LedgerDep,
    meter: ChargingDep,
    accounts: AccountsDep,
) -> dict[str, Any]:
    await accounts.user(user_id)
    view = await svc.credit(
        user_id, parse_money(body.amount), body.kind, body.memo, actor_id=caller.user_id
    )
    meter.forget(user_id)
    return envelope(balance_out(view), "Balance updated")


@router.get(
    "/api/v1/operator/users/{user_id}/balance",
    summary="A user's balance",
    responses=OPERATOR_ERRORS,
)
async def user_balance(user_id: RowId, _: OperatorDep, svc: LedgerDep) -> dict[str, Any]:
    return envelope(balance_out(await svc.balance(user_id)))


@router.get(
    "/api/v1/operator/users/{user_id}/ledger",
    summary="A user's ledger, newest first",
    responses=OPERATOR_ERRORS,
)
async def user_ledger(
    user_id: RowId,
    _: OperatorDep,
    svc: LedgerDep,
    package_svc: PackagesDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    """Entries in micro-units, with the ledger's sums next to the wallet's balances."""
    paid, free = await svc.entries_sum(user_id)
    view = await svc.balance(user_id)
    entries = [
        {
            "id": e.id,
            "kind": e.kind,
            "amount": e.amount,
            "free_amount": e.free_amount,
            "package_id": e.package_id,
            "package_amount": e.package_amount,
            "request_id": e.request_id,
            "memo": e.memo,
            "created_at": e.created_at.isoformat(),
        }
        for e in await svc.entries(user_id, limit)
    ]
    sums = {"amount": paid, "free_amount": free}
    wallet = {"balance": view.balance, "free_balance": view.free_balance}
    grants = await package_svc.of_user(user_id)
    package_sums = await svc.package_sums(user_id)
    packages = {
        str(p.id): {"remaining": p.remaining, "ledger_sum": package_sums.get(p.id, 0)}
        for p in grants
    }
    data = {"entries": entries, "sums": sums, "wallet": wallet, "packages": packages}
    return envelope(data)


@router.get(
    "/api/v1/operator/models",
    summary="The model catalogue (official prices)",
    responses=OPERATOR_ERRORS,
)
async def list_prices(_: OperatorDep, svc: PricesDep) -> dict[str, Any]:
    return envelope([_price_out(row) for row in await svc.all()])


@router.put(
    "/api/v1/operator/models/{model:path}",
    summary="Set a model's prices",
    responses=OPERATOR_ERRORS,
)
async def put_price(
    model: str, body: ModelPriceIn, caller: OperatorDep, svc: PricesDep
) -> dict[str, Any]:
    fields = body.model_dump()
    for name in _PRICES:
        fields[name] = None if fields[name] is None else parse_money(fields[name], name)
    fields["multiplier"] = str(body.multiplier)
    return envelope(
        _price_out(await svc.put(model, fields, actor_id=caller.user_id)), "Price saved"
    )


@router.delete(
    "/api/v1/operator/models/{model:path}",
    summary="Remove a model's prices",
    responses={**OPERATOR_ERRORS, **_NOT_FOUND},
)
async def delete_price(model: str, caller: OperatorDep, svc: PricesDep) -> dict[str, Any]:
    await svc.remove(model, actor_id=caller.user_id)
    return envelope(None, "Price removed")


@router.post("/api/v1/user/admin/balance", summary="The caller's balance", responses=MANAGER_ERRORS)
async def my_balance(principal: ManagerDep, svc: LedgerDep) -> dict[str, Any]:
    view = await svc.balance(principal.user_id)
    data = {"balance": format_money(view.balance), "free_balance": format_money(view.free_balance)}
    return envelope(data, "get user balance success")


@router.post(
    "/api/v1/user/admin/get-membership-expire-date",
    summary="The caller's membership",
    responses=MANAGER_ERRORS,
)
async def my_membership(
    principal: ManagerDep, svc: LedgerDep, meter: ChargingDep
) -> dict[str, Any]:
    view = await svc.balance(principal.user_id)
    tiers = meter.membership_tiers
    status = membership(view.topped_up_total, view.first_topup_at, utcnow(), tiers)
    expire_at = status.expire_at.isoformat().replace("+00:00", "Z") if status.expire_at else None
    data = {"membership": status.level, "expire_at": expire_at}
    return envelope(data, "get membership expire date success")


def _number_map(rates: dict[str, Decimal]) -> str:
    """A JSON object of exact decimal numbers (no float ever holds a multiplier)."""
    return "{" + ",".join(f"{json.dumps(k)}:{_number(v)}" for k, v in rates.items()) + "}"


def _number(value: Decimal) -> str:
    text = format(value.normalize(), "f")
    return text if text not in ("-0", "") else "0"


@router.get(
    "/api/v1/pay/model-rates",
    summary="The current multiplier of every priced model",
    response_class=Response,
    responses={
        200: {"content": {"application/json": {"schema": {"type": "object"}}}},
        **error_responses(401, 500),
    },
)
async def model_rates(request: Request, svc: PricesDep, accounts: AccountsDep) -> Response:
    """``{models: {model: multiplier}, routes: {group: multiplier}, flex: multiplier}``."""
    await accounts.authenticate(presented_key(request), time.time())
    catalogue = svc.catalogue
    data = (
        f'{{"models":{_number_map(catalogue.model_rates())},'
        f'"routes":{_number_map(catalogue.route_multipliers)},'
        f'"flex":{_number(catalogue.flex_multiplier)}}}'
    )
    body = f'{{"statusCode":200,"message":"get model rates success","data":{data}}}'
    return Response(body, media_type="application/json")
