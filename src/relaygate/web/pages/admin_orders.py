"""``/console/admin/orders``: every user's top-up orders, newest first, filtered by state
(``?state=paid``) or user (``?user=7``): the operator's view of money coming in."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from relaygate.payments.service import STATES as STATE_NAMES
from relaygate.services import ServicesDep
from relaygate.web.pages.billing import METHODS, STATES
from relaygate.web.render import render
from relaygate.web.session import ConsoleOperatorDep

__all__ = ["router"]

router = APIRouter(include_in_schema=False)
PAGE = "/console/admin/orders"


@router.get(PAGE, response_class=HTMLResponse)
async def orders(
    request: Request, user: ConsoleOperatorDep, s: ServicesDep, state: str = "", user_id: str = ""
) -> HTMLResponse:
    chosen = state if state in STATE_NAMES else None
    owner = int(user_id) if user_id.isascii() and user_id.isdigit() and len(user_id) < 10 else None
    found = await s.payments.orders(owner, chosen, 200) if s.payments.enabled else []
    context = {
        "enabled": s.payments.enabled,
        "orders": found,
        "state": chosen or "",
        "user_id": owner or "",
        "states": STATES,
        "methods": METHODS,
    }
    return render(request, "admin/orders.html", context, user=user)
