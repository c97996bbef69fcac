"""``/console/admin/settings``: the effective settings, read only, secrets masked
(web/settings_view.py). They are changed where they are configured: the TOML file or
``RELAYGATE_*`` environment variables, then a restart."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from relaygate.services import ServicesDep
from relaygate.web.render import render
from relaygate.web.session import ConsoleOperatorDep
from relaygate.web.settings_view import settings_groups

__all__ = ["router"]

router = APIRouter(include_in_schema=False)


@router.get("/console/admin/settings", response_class=HTMLResponse)
async def settings(request: Request, user: ConsoleOperatorDep, s: ServicesDep) -> HTMLResponse:
    groups = settings_groups(s.settings)
    return render(request, "admin/settings.html", {"groups": groups}, user=user)
