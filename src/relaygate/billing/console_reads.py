"""The console's read models, one of each per process (built by build.py).

A page takes the one it needs from ``Services.console``; each is documented in its own
module. They only read: every change a page makes goes through the capability services
(accounts/service.py, billing/ledger.py, billing/packages.py, ...), which write the audit
trail (accounts/audit.py).
"""

from __future__ import annotations

from dataclasses import dataclass

from relaygate.billing.bills_view import BillsView
from relaygate.billing.catalogue import Catalogue
from relaygate.billing.dashboard import DashboardQueries
from relaygate.billing.invites_view import InvitesView
from relaygate.billing.overview import OverviewQueries
from relaygate.billing.packages_view import PackagesView
from relaygate.billing.prices_view import PricesView
from relaygate.billing.tier_rules import TierSource
from relaygate.billing.users_view import UsersView
from relaygate.db.engine import Database

__all__ = ["ConsoleReads", "console_reads"]


@dataclass(frozen=True, slots=True)
class ConsoleReads:
    dashboard: DashboardQueries  # the user's dashboard
    overview: OverviewQueries  # the operator's overview
    bills: BillsView  # the bills page, its CSV (bills_export.py) and explanations
    packages: PackagesView
    invites: InvitesView
    prices: PricesView
    users: UsersView  # the operator's users page


def console_reads(
    db: Database,
    catalogue: Catalogue,
    tiers: TierSource,
) -> ConsoleReads:
    return ConsoleReads(
        dashboard=DashboardQueries(db, tiers),
        overview=OverviewQueries(db),
        bills=BillsView(db),
        packages=PackagesView(db),
        invites=InvitesView(db),
        prices=PricesView(db, catalogue),
        users=UsersView(db),
    )
