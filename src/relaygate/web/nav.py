"""The console's navigation: one line per page, in the order the left bar shows them.

The label is an English msgid that the layout translates; ``operator`` lines show only to
operators. A page is "current" for its own path and the paths under it.
"""

from __future__ import annotations

from dataclasses import dataclass

from relaygate.web.i18n import N_

__all__ = ["NAV", "NavItem", "nav_for"]


@dataclass(frozen=True, slots=True)
class NavItem:
    path: str
    label: str  # msgid
    operator: bool = False

    def is_current(self, here: str) -> bool:
        """``/console/admin/users/7`` is under Users; the section roots match only exactly."""
        return here == self.path or (
            not self.path.endswith("/") and here.startswith(self.path + "/")
        )


# Every page of the console contract (docs/console.md), so the pages land without editing
# this file; a link to a page not built yet answers with the console's 404 page.
NAV: tuple[NavItem, ...] = (
    NavItem("/console/", N_("Dashboard")),
    NavItem("/console/keys", N_("Keys")),
    NavItem("/console/rules", N_("Rules")),
    NavItem("/console/files", N_("Files")),
    NavItem("/console/bills", N_("Bills")),
    NavItem("/console/packages", N_("Packages")),
    NavItem("/console/billing", N_("Billing")),
    NavItem("/console/invoices", N_("Invoices")),
    NavItem("/console/prices", N_("Prices")),
    NavItem("/console/playground", N_("Playground")),
    NavItem("/console/invite", N_("Invite")),
    NavItem("/console/apps", N_("Apps")),
    NavItem("/console/account", N_("Account")),
    NavItem("/console/admin/", N_("Overview"), operator=True),
    NavItem("/console/admin/users", N_("Users"), operator=True),
    NavItem("/console/admin/channels", N_("Channels"), operator=True),
    NavItem("/console/admin/models", N_("Models and prices"), operator=True),
    NavItem("/console/admin/packages", N_("Package types"), operator=True),
    NavItem("/console/admin/tiers", N_("Tiers and referrals"), operator=True),
    NavItem("/console/admin/orders", N_("Orders"), operator=True),
    NavItem("/console/admin/invoices", N_("Invoice requests"), operator=True),
    NavItem("/console/admin/codes", N_("Codes"), operator=True),
    NavItem("/console/admin/settings", N_("Settings"), operator=True),
)


def nav_for(is_operator: bool) -> tuple[NavItem, ...]:
    return tuple(item for item in NAV if is_operator or not item.operator)
