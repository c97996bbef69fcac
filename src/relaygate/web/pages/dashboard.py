"""``/console/``: the dashboard, "how much do I have and what may I spend it on".

Balance, free balance, membership and its expiry, the RPM tier and how to reach the next
one, and the active packages, from the services the JSON API uses (ledger, charging's
membership tiers, the relay's rate tiers, packages). Richer read models (spend per day,
calls by model) extend the template's ``view``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from relaygate.billing.ledger import Balance
from relaygate.billing.membership import membership
from relaygate.billing.packages import PackageView
from relaygate.core.clock import utcnow
from relaygate.limits.policy import Tier, tier_rpm
from relaygate.services import ServicesDep
from relaygate.web.i18n import N_
from relaygate.web.render import render
from relaygate.web.session import ConsoleUserDep

__all__ = ["DashboardView", "router"]

router = APIRouter(include_in_schema=False)
MEMBERSHIP = {"free": N_("Free"), "vip": N_("VIP"), "premium": N_("Premium")}


@dataclass(frozen=True, slots=True)
class DashboardView:
    balance: Balance
    membership: str  # a msgid of MEMBERSHIP
    membership_expires: datetime | None
    rpm: int
    next_tier: Tier | None  # the next RPM tier, None at the top
    packages: list[PackageView]


def _next_tier(topped_up: int, tiers: tuple[Tier, ...] | list[Tier]) -> Tier | None:
    higher = [tier for tier in tiers if tier.min_topup > topped_up]
    return min(higher, key=lambda tier: tier.min_topup) if higher else None


@router.get("/console/", response_class=HTMLResponse)
async def dashboard(request: Request, user: ConsoleUserDep, s: ServicesDep) -> HTMLResponse:
    balance = await s.ledger.balance(user.user_id)
    status = membership(
        balance.topped_up_total, balance.first_topup_at, utcnow(), s.charging.membership_tiers
    )
    tiers = list(s.relay.tiers)
    view = DashboardView(
        balance=balance,
        membership=MEMBERSHIP.get(status.level, status.level),
        membership_expires=status.expire_at,
        rpm=tier_rpm(balance.topped_up_total, tiers),
        next_tier=_next_tier(balance.topped_up_total, tiers),
        packages=await s.packages.active(user.user_id),
    )
    return render(request, "dashboard/index.html", {"view": view}, user=user)
