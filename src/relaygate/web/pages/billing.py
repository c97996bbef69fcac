"""``/console/billing``: money in. Today a "Redeem a code" form and the user's
redemption history; top-ups (Stripe) join the same page in their own template block
(templates/billing/index.html includes one template per part).

The form calls ``RedemptionService.redeem``, the same as ``POST /api/v1/user/redeem``: the
same throttle (per user and per client IP) and the same one refusal for every bad code.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from relaygate.accounts.sessions import ActiveSession
from relaygate.core.errors import InvalidRequest, RateLimited
from relaygate.services import RedemptionsDep
from relaygate.web.forms import page_form
from relaygate.web.i18n import N_
from relaygate.web.render import render
from relaygate.web.session import ConsoleUserDep, CsrfDep

__all__ = ["router"]

router = APIRouter(include_in_schema=False)
PAGE = "/console/billing"
NOTICES = {"redeemed": N_("Code redeemed: see your balance and packages.")}
REFUSED = N_("This code is invalid, already used or expired.")
THROTTLED = N_("Too many attempts. Wait a minute, then try again.")


async def _page(
    request: Request,
    user: ActiveSession,
    svc: RedemptionsDep,
    *,
    error: str | None = None,
    code: str = "",
    status: int = 200,
) -> HTMLResponse:
    context = {
        "redemptions": await svc.history(user.user_id),
        "notice": NOTICES.get(request.query_params.get("done", "")),
        "redeem_error": error,
        "redeem_code": code,
    }
    return render(request, "billing/index.html", context, user=user, status=status)


@router.get(PAGE, response_class=HTMLResponse)
async def billing(request: Request, user: ConsoleUserDep, svc: RedemptionsDep) -> HTMLResponse:
    return await _page(request, user, svc)


@router.post(PAGE + "/redeem", response_model=None)
async def redeem(request: Request, user: CsrfDep, svc: RedemptionsDep) -> Response:
    code = str((await page_form(request)).get("code", ""))[:64]
    client_ip = request.client.host if request.client else None
    try:
        await svc.redeem(user.user_id, code, client_ip)
    except RateLimited:
        return await _page(request, user, svc, error=THROTTLED, code=code, status=429)
    except InvalidRequest:
        return await _page(request, user, svc, error=REFUSED, code=code, status=400)
    return RedirectResponse(f"{PAGE}?done=redeemed", status_code=303)
