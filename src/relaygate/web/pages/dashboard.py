"""``/console/``: the dashboard, "how much do I have and what is spending it".

Balance, free balance, membership and its expiry, the RPM tier and the top-up that reaches
the next one, a month of spend (or calls: ``?chart=calls``) per UTC day as an inline SVG
bar chart, calls and tokens by model, and the packages still working, all from one read
model (``console.dashboard.for_user``: billing/dashboard.py). A user without calls in
the month sees how to make the first one instead of empty tables.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from relaygate.billing.dashboard import Dashboard
from relaygate.channels.service import ECHO_MODEL
from relaygate.core.money import MICRO
from relaygate.services import ConsoleReadsDep
from relaygate.web.charts import Chart, bar_chart
from relaygate.web.i18n import N_
from relaygate.web.render import render
from relaygate.web.session import ConsoleUserDep

__all__ = ["DashboardView", "router", "units"]

router = APIRouter(include_in_schema=False)
MEMBERSHIP = {"free": N_("Free"), "vip": N_("VIP"), "premium": N_("Premium")}
CHARTS = ("spend", "calls")


@dataclass(frozen=True, slots=True)
class DashboardView:
    board: Dashboard
    membership: str  # a msgid of MEMBERSHIP
    chart_of: str  # "spend" or "calls"
    chart: Chart  # one bar per day of board.spend_per_day, in order
    tick_labels: tuple[str, ...]  # one per chart.ticks
    month_amount: int  # the 30 days' spend, micro-units
    month_calls: int
    base_url: str  # the API's base, for the first-call example
    echo_model: str


def units(micro: int) -> str:
    """Micro-units as currency units with no trailing zeros (``2500000`` → ``2.5``): the
    chart's round grid values, exact and short."""
    text = f"{Decimal(micro) / MICRO:f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


@router.get("/console/", response_class=HTMLResponse)
async def dashboard(
    request: Request, user: ConsoleUserDep, reads: ConsoleReadsDep, chart: str = "spend"
) -> HTMLResponse:
    board = await reads.dashboard.for_user(user.user_id)
    chart_of = chart if chart in CHARTS else "spend"
    days = board.spend_per_day
    values = [d.amount if chart_of == "spend" else d.calls for d in days]
    drawn = bar_chart(values)
    view = DashboardView(
        board=board,
        membership=MEMBERSHIP.get(board.membership, board.membership),
        chart_of=chart_of,
        chart=drawn,
        tick_labels=tuple(
            units(t.value) if chart_of == "spend" else str(t.value) for t in drawn.ticks
        ),
        month_amount=sum(d.amount for d in days),
        month_calls=sum(d.calls for d in days),
        base_url=f"{request.url.scheme}://{request.url.netloc}",
        echo_model=ECHO_MODEL,
    )
    return render(request, "dashboard/index.html", {"view": view}, user=user)
