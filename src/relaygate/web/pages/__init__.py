"""The console's pages: one router per capability (DESIGN §5), mounted by app.py.

A page module calls the same services as the JSON API and renders a template
(web/render.py); a new page adds its router to ``ROUTERS`` and its line to web/nav.py.
"""

from __future__ import annotations

from fastapi import APIRouter

from relaygate.web.pages import account, auth, dashboard, invite_landing, landing, playground

__all__ = ["ROUTERS"]

ROUTERS: tuple[APIRouter, ...] = (
    landing.router,
    auth.router,
    invite_landing.router,
    dashboard.router,
    account.router,
    playground.router,
)
