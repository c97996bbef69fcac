"""``/console/billing``: money in. The user's top-ups (pick an operator-set amount or type
one, pay on Stripe, and follow each order, ``/console/billing/orders/<id>``, to its
receipt) and redemption codes (the form calls ``RedemptionService.redeem``, as
``POST /api/v1/user/redeem`` does: the same throttle per user and per client IP, and the
same one refusal for every bad code).

The form's POST creates the order and answers 303 to the order's own page, which links
to Stripe: the console's CSP (``form-action 'self'``) forbids a form from redirecting to
another site, and the order page is where the user comes back to anyway. Another user's
order is the 404 page. Each section is its own include in templates/billing/index.html.
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from relaygate.accounts.sessions import ActiveSession
from relaygate.billing.ledger import Balance
from relaygate.core.errors import InvalidRequest, NotFound, RateLimited, UpstreamFailure
from relaygate.core.money import format_money, parse_money
from relaygate.core.pagination import MAX_ID
from relaygate.payments.service import OrderView
from relaygate.services import ServicesDep
from relaygate.web.forms import page_form
from relaygate.web.i18n import N_
from relaygate.web.render import render
from relaygate.web.session import ConsoleUserDep, CsrfDep

__all__ = ["STATES", "BillingPage", "router"]

router = APIRouter(include_in_schema=False)
PAGE = "/console/billing"
STATES = {
    "created": N_("Awaiting payment"),
    "paid": N_("Paid"),
    "expired": N_("Expired"),
    "failed": N_("Failed"),
    "refunded": N_("Refunded"),
    "disputed": N_("Disputed"),
}
METHODS = {"checkout": N_("Card (Stripe Checkout)"), "invoice": N_("Invoice (pay later)")}
NOTICES = {
    "paid": N_("Thank you: your balance is credited as soon as Stripe confirms the payment."),
    "cancelled": N_("Payment cancelled: nothing was charged."),
    "redeemed": N_("Code redeemed: see your balance and packages."),
}
REFUSED_CODE = N_("This code is invalid, already used or expired.")
THROTTLED = N_("Too many attempts. Wait a minute, then try again.")
BAD_AMOUNT = N_("Choose an amount between %(min)s and %(max)s, in whole cents.")
PROVIDER_DOWN = N_("Stripe did not answer; nothing was charged. Try again in a minute.")


@dataclass(frozen=True, slots=True)
class TopUpOption:
    amount: int  # micro-units
    value: str  # as the form sends it back
    label: str  # "20 USD": an operator's round amount, without the six decimals


def short_amount(micro: int, currency: str) -> str:
    """An amount the operator chose (whole cents at most) as people write it."""
    text = format_money(micro)
    return (text.rstrip("0").rstrip(".") if "." in text else text) + " " + currency


@dataclass(frozen=True, slots=True)
class BillingPage:
    enabled: bool  # payments configured
    balance: Balance
    currency: str
    options: tuple[TopUpOption, ...]
    minimum: str  # short_amount
    maximum: str
    orders: tuple[OrderView, ...]
    states: dict[str, str]
    methods: dict[str, str]


async def _page(s: ServicesDep, user: ActiveSession) -> BillingPage:
    payments = s.payments
    orders = await payments.orders(user.user_id) if payments.enabled else []
    currency = payments.limits.currency.upper()
    return BillingPage(
        enabled=payments.enabled,
        balance=await s.ledger.balance(user.user_id),
        currency=currency,
        options=tuple(
            TopUpOption(o, format_money(o), short_amount(o, currency))
            for o in payments.limits.options
        ),
        minimum=short_amount(payments.limits.minimum, currency),
        maximum=short_amount(payments.limits.maximum, currency),
        orders=tuple(orders),
        states=STATES,
        methods=METHODS,
    )


async def _render(
    request: Request,
    s: ServicesDep,
    user: ActiveSession,
    *,
    notice: str = "",
    refused: str = "",
    redeem_error: str = "",
    redeem_code: str = "",
    status: int = 200,
) -> HTMLResponse:
    context = {
        "view": await _page(s, user),
        "notice": notice,
        "refused": refused,
        "redemptions": await s.redemptions.history(user.user_id),
        "redeem_error": redeem_error or None,
        "redeem_code": redeem_code,
    }
    return render(request, "billing/index.html", context, user=user, status=status)


@router.get(PAGE, response_class=HTMLResponse)
async def billing(
    request: Request, user: ConsoleUserDep, s: ServicesDep, done: str = ""
) -> HTMLResponse:
    return await _render(request, s, user, notice=NOTICES.get(done, ""))


@router.post(PAGE + "/topup", response_class=HTMLResponse)
async def topup(request: Request, user: CsrfDep, s: ServicesDep) -> Response:
    form = await page_form(request)
    method = str(form.get("method") or "checkout")
    if not s.payments.enabled:
        raise NotFound("Payments are not configured on this gateway.")
    try:
        amount = parse_money(str(form.get("amount") or ""))
        order = await s.payments.create_topup(user.user_id, user.email, amount, method)
    except InvalidRequest:
        return await _refused(request, s, user, BAD_AMOUNT, 400)
    except UpstreamFailure:
        return await _refused(request, s, user, PROVIDER_DOWN, 503)
    return RedirectResponse(f"{PAGE}/orders/{order.id}", status_code=303)


async def _refused(
    request: Request, s: ServicesDep, user: ActiveSession, why: str, status: int
) -> HTMLResponse:
    return await _render(request, s, user, refused=why, status=status)


@router.post(PAGE + "/redeem", response_model=None)
async def redeem(request: Request, user: CsrfDep, s: ServicesDep) -> Response:
    code = str((await page_form(request)).get("code", ""))[:64]
    client_ip = request.client.host if request.client else None
    try:
        await s.redemptions.redeem(user.user_id, code, client_ip)
    except RateLimited:
        return await _render(request, s, user, redeem_error=THROTTLED, redeem_code=code, status=429)
    except InvalidRequest:
        return await _render(
            request, s, user, redeem_error=REFUSED_CODE, redeem_code=code, status=400
        )
    return RedirectResponse(f"{PAGE}?done=redeemed", status_code=303)


@router.get(PAGE + "/orders/{order_id}", response_class=HTMLResponse)
async def order_page(
    request: Request, order_id: str, user: ConsoleUserDep, s: ServicesDep
) -> HTMLResponse:
    if not order_id.isascii() or not order_id.isdigit() or not 1 <= int(order_id) <= MAX_ID:
        raise NotFound("No such order.")
    if not s.payments.enabled:
        raise NotFound("Payments are not configured on this gateway.")
    order = await s.payments.order(int(order_id), user.user_id)  # another's: the 404 page
    context = {"order": order, "states": STATES, "methods": METHODS}
    return render(request, "billing/order.html", context, user=user)
