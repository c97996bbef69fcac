"""The forms of the operator's user page: credit or adjust the balance, grant a package,
set the group, disable or enable the user, disable or enable one of their keys.

Each is a POST (operator and CSRF checked: ``OperatorCsrfDep``) that calls the capability
service with ``actor_id`` = the operator, so the audit line names them, and answers 303
back to the user's page with a ``?done=`` notice (POST/redirect/GET). Input the service
would refuse comes back as the page with the reason next to the field (a 400), the
operator's input kept. After a change of money or packages the charging cache forgets the
user, as the JSON routes do, so the next call's hold sees the new balance.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from relaygate.core.bounds import RowId
from relaygate.core.errors import NotFound
from relaygate.core.money import MoneyError, parse_money
from relaygate.services import ServicesDep
from relaygate.web.forms import page_form
from relaygate.web.i18n import N_
from relaygate.web.pages.admin_users import CREDIT_KINDS, PAGE, UserForms, render_user, user_path
from relaygate.web.session import OperatorCsrfDep

__all__ = ["router"]

router = APIRouter(include_in_schema=False)
MEMO_MAX = 500
E_KIND = N_("Choose a top-up, a free grant or an adjustment.")
E_AMOUNT = N_("Enter an amount such as 12.5 (at most six decimals).")
E_ZERO = N_("An amount of zero changes nothing.")
E_POSITIVE = N_(
    "A top-up or a free grant must be more than zero: take money away with an adjustment."
)
E_MEMO = N_("Say why in the memo (at most 500 characters): it is kept in the ledger.")
E_PACKAGE = N_("Choose a package type.")
E_GROUP = N_("Choose one of the configured groups.")
E_SELF = N_("You cannot disable your own account.")


def _back(user_id: int, done: str) -> RedirectResponse:
    return RedirectResponse(f"{user_path(user_id)}?done={done}", status_code=303)


def _credit_errors(kind: str, amount_text: str, memo: str) -> tuple[dict[str, str], int]:
    """The form's problems (field -> msgid) and the amount in micro-units."""
    errors: dict[str, str] = {}
    amount = 0
    if kind not in CREDIT_KINDS:
        errors["kind"] = E_KIND
    try:
        amount = parse_money(amount_text) if amount_text.strip() else 0
    except MoneyError:
        errors["amount"] = E_AMOUNT
    if "amount" not in errors and amount == 0:
        errors["amount"] = E_ZERO
    elif "amount" not in errors and amount < 0 and kind != "adjustment":
        errors["amount"] = E_POSITIVE
    if not memo.strip() or len(memo) > MEMO_MAX:
        errors["memo"] = E_MEMO
    return errors, amount


@router.post(PAGE + "/{user_id}/credit")
async def credit(
    request: Request, user_id: RowId, operator: OperatorCsrfDep, s: ServicesDep
) -> Response:
    await s.accounts.user(user_id)
    form = await page_form(request)
    kind, amount_text, memo = (str(form.get(f, "")) for f in ("kind", "amount", "memo"))
    errors, amount = _credit_errors(kind, amount_text, memo)
    if errors:
        values = {"kind": kind, "amount": amount_text, "memo": memo}
        return await render_user(
            request, operator, s, user_id, UserForms(errors, values), status=400
        )
    await s.ledger.credit(user_id, amount, kind, memo.strip(), actor_id=operator.user_id)
    s.charging.forget(user_id)
    return _back(user_id, "credited")


@router.post(PAGE + "/{user_id}/package")
async def grant_package(
    request: Request, user_id: RowId, operator: OperatorCsrfDep, s: ServicesDep
) -> Response:
    await s.accounts.user(user_id)
    chosen = str((await page_form(request)).get("type_id", ""))
    known = {row.id for row in await s.packages.types()}
    if not chosen.isdigit() or int(chosen) not in known:
        forms = UserForms({"type_id": E_PACKAGE}, {"type_id": chosen})
        return await render_user(request, operator, s, user_id, forms, status=400)
    await s.packages.grant(user_id, int(chosen), actor_id=operator.user_id)
    s.charging.forget(user_id)
    return _back(user_id, "package-granted")


@router.post(PAGE + "/{user_id}/group")
async def set_group(
    request: Request, user_id: RowId, operator: OperatorCsrfDep, s: ServicesDep
) -> Response:
    user = await s.accounts.user(user_id)
    group = str((await page_form(request)).get("group", ""))
    allowed = {"", user.group, *s.prices.catalogue.group_multipliers}
    if group not in allowed:
        forms = UserForms({"group": E_GROUP}, {"group": group})
        return await render_user(request, operator, s, user_id, forms, status=400)
    await s.accounts.set_group(user_id, group, actor_id=operator.user_id)
    s.charging.forget(user_id)
    return _back(user_id, "group-set")


@router.post(PAGE + "/{user_id}/disable")
async def disable(
    request: Request, user_id: RowId, operator: OperatorCsrfDep, s: ServicesDep
) -> Response:
    await s.accounts.user(user_id)
    if user_id == operator.user_id:  # the JSON route refuses it too (a 409 there)
        forms = UserForms({"status": E_SELF})
        return await render_user(request, operator, s, user_id, forms, status=409)
    await s.accounts.set_disabled(user_id, True, actor_id=operator.user_id)
    return _back(user_id, "disabled")


@router.post(PAGE + "/{user_id}/enable")
async def enable(user_id: RowId, operator: OperatorCsrfDep, s: ServicesDep) -> Response:
    await s.accounts.user(user_id)
    await s.accounts.set_disabled(user_id, False, actor_id=operator.user_id)
    return _back(user_id, "enabled")


async def _set_key(s: ServicesDep, user_id: int, key_id: int, disabled: bool, actor: int) -> None:
    """Only a key of this user: any other id is the 404 page, as on every console form."""
    if key_id not in {key.id for key in await s.accounts.keys_of(user_id)}:
        raise NotFound(f"No API key with id {key_id}.")
    await s.accounts.update_key(key_id, {"is_disabled": disabled}, actor_id=actor)


@router.post(PAGE + "/{user_id}/keys/{key_id}/disable")
async def disable_key(
    user_id: RowId, key_id: RowId, operator: OperatorCsrfDep, s: ServicesDep
) -> Response:
    await _set_key(s, user_id, key_id, True, operator.user_id)
    return _back(user_id, "key-disabled")


@router.post(PAGE + "/{user_id}/keys/{key_id}/enable")
async def enable_key(
    user_id: RowId, key_id: RowId, operator: OperatorCsrfDep, s: ServicesDep
) -> Response:
    await _set_key(s, user_id, key_id, False, operator.user_id)
    return _back(user_id, "key-enabled")
