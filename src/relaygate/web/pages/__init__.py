"""The console's pages: one router per capability (DESIGN §5), mounted by app.py.

A page module calls the same services as the JSON API and renders a template
(web/render.py); a new page adds its router to ``ROUTERS`` and its line to web/nav.py.
"""

from __future__ import annotations

from fastapi import APIRouter

from relaygate.web.pages import (
    account,
    admin_channels,
    admin_codes,
    admin_invoices,
    admin_models,
    admin_orders,
    admin_overview,
    admin_packages,
    admin_settings,
    admin_tiers,
    admin_user_actions,
    admin_users,
    apps,
    auth,
    billing,
    bills,
    dashboard,
    files,
    invite,
    invite_landing,
    invoices,
    keys,
    landing,
    oauth_consent,
    packages,
    passkeys,
    playground,
    prices,
    rules,
)

__all__ = ["ROUTERS"]

ROUTERS: tuple[APIRouter, ...] = (
    landing.router,
    auth.router,
    invite_landing.router,
    dashboard.router,
    account.router,
    admin_overview.router,
    admin_users.router,
    admin_user_actions.router,
    keys.router,
    passkeys.router,
    admin_channels.router,
    admin_models.router,
    admin_packages.router,
    admin_settings.router,
    admin_tiers.router,
    invite.router,
    prices.router,
    bills.router,
    packages.router,
    oauth_consent.router,
    apps.router,
    playground.router,
    billing.router,
    admin_orders.router,
    admin_codes.router,
    invoices.router,
    admin_invoices.router,
    rules.router,
    files.router,
)
