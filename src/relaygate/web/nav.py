"""The console's navigation: one line per page, in the order the left bar shows them.

A page helper adds its line here (and nothing else): the label is an English msgid that
the layout translates, ``operator`` lines show only to operators.
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


NAV: tuple[NavItem, ...] = (
    NavItem("/console/", N_("Dashboard")),
    NavItem("/console/account", N_("Account")),
)


def nav_for(is_operator: bool) -> tuple[NavItem, ...]:
    return tuple(item for item in NAV if is_operator or not item.operator)
