"""``/console/admin/settings``: the effective settings, read only, secrets masked
(web/settings_view.py). They are changed where they are configured: the TOML file or
``RELAYGATE_*`` environment variables, then a restart; except the tier tables and the
referral terms, which the operator may replace on the tiers page (their lines then show
the stored value, marked)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from relaygate.billing.tier_rules import MEMBERSHIP, RATE_LIMITS, REFERRAL, TierTables
from relaygate.core.money import MICRO
from relaygate.services import ServicesDep
from relaygate.web.render import render
from relaygate.web.session import ConsoleOperatorDep
from relaygate.web.settings_view import settings_groups

__all__ = ["router"]

router = APIRouter(include_in_schema=False)


def _units(micro: int) -> Decimal:
    return (Decimal(micro) / MICRO).normalize() if micro else Decimal(0)


def stored_settings(tables: TierTables) -> dict[str, Any]:
    """The settings the operator's saved sections replace, in the settings' own shapes."""
    found: dict[str, Any] = {}
    if MEMBERSHIP in tables.stored:
        found["membership_tiers"] = [
            (t.name, _units(t.min_total), t.months) for t in tables.membership
        ]
    if RATE_LIMITS in tables.stored:
        found["rate_limit_tiers"] = [(_units(t.min_topup), t.rpm) for t in tables.rpm]
    if REFERRAL in tables.stored:
        terms = tables.referral
        found["referral_package_type"] = terms.package_type
        found["referral_allowed_domains"] = list(terms.allowed_domains)
        found["referral_denied_domains"] = list(terms.denied_domains)
        found["referral_redeem_days"] = terms.redeem_days
    return found


@router.get("/console/admin/settings", response_class=HTMLResponse)
async def settings(request: Request, user: ConsoleOperatorDep, s: ServicesDep) -> HTMLResponse:
    groups = settings_groups(s.settings, stored_settings(s.tiers.current))
    return render(request, "admin/settings.html", {"groups": groups}, user=user)
