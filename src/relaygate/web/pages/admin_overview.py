"""``/console/admin/``: the operator's overview, "is the platform healthy and who pays".

Calls per minute over the last hour and the error rates (1 h, 24 h), spend and top-ups
per day over 30 days (two charts, each on its own scale: a month's spend is often a small
fraction of one top-up, and on one scale its columns would be flat), the top users and
models, and the channels in trouble: all from the console's read models
(billing/overview.py); the charts are drawn on the server (web/charts.py). Operators
only: anyone else gets the 404 page.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from relaygate.billing.overview import ChannelTrouble, ErrorRate, Overview
from relaygate.services import ChannelHealthDep, ChannelsDep, ConsoleReadsDep
from relaygate.web.charts import Chart, Series, column_chart
from relaygate.web.i18n import N_
from relaygate.web.render import render
from relaygate.web.session import ConsoleOperatorDep

__all__ = ["REASONS", "router"]

router = APIRouter(include_in_schema=False)
PAGE = "/console/admin/"
REASONS = {
    "breaker_open": N_("Breaker open"),
    "breaker_half_open": N_("Breaker half-open"),
    "error_rate": N_("Many failed calls"),
}
BREAKERS = {"closed": N_("closed"), "open": N_("open"), "half_open": N_("half-open")}


@dataclass(frozen=True, slots=True)
class OverviewPage:
    overview: Overview
    calls_chart: Chart  # per minute: succeeded and failed, stacked
    spend_chart: Chart  # per day, on its own scale...
    topup_chart: Chart  # ...and top-ups on theirs: one large top-up would flatten spend
    calls_last_hour: int
    error_pct_hour: Decimal  # percent, two places
    error_pct_day: Decimal
    spend_30_days: int
    topped_up_30_days: int
    trouble: tuple[ChannelTrouble, ...]


def _percent(errors: ErrorRate) -> Decimal:
    return (errors.rate * 100).quantize(Decimal("0.01"))


def _page(overview: Overview, trouble: tuple[ChannelTrouble, ...]) -> OverviewPage:
    minutes = overview.calls_per_minute
    days = overview.money_per_day
    calls = column_chart(
        [
            Series("series-ok", [m.calls - m.failed for m in minutes]),
            Series("series-failed", [m.failed for m in minutes]),
        ],
        stacked=True,
    )
    spend = column_chart([Series("series-spend", [d.spend for d in days])], stacked=True)
    topups = column_chart([Series("series-topup", [d.topped_up for d in days])], stacked=True)
    return OverviewPage(
        overview=overview,
        calls_chart=calls,
        spend_chart=spend,
        topup_chart=topups,
        calls_last_hour=sum(m.calls for m in minutes),
        error_pct_hour=_percent(overview.errors_last_hour),
        error_pct_day=_percent(overview.errors_last_day),
        spend_30_days=sum(d.spend for d in days),
        topped_up_30_days=sum(d.topped_up for d in days),
        trouble=trouble,
    )


@router.get(PAGE, response_class=HTMLResponse)
async def overview(
    request: Request,
    user: ConsoleOperatorDep,
    reads: ConsoleReadsDep,
    channels: ChannelsDep,
    health: ChannelHealthDep,
) -> HTMLResponse:
    found = await reads.overview.overview()
    trouble = await reads.overview.channels_in_trouble(await channels.all(), health)
    context = {"view": _page(found, trouble), "reasons": REASONS, "breakers": BREAKERS}
    return render(request, "admin/overview.html", context, user=user)
