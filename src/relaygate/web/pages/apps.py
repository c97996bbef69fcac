"""``/console/apps``: a developer's OAuth apps (register, see revenue, rotate the secret),
and ``/console/apps/authorized``: the apps a user authorised, what each charged, revoke.

The pages call the OAuth services (oauth/apps.py, oauth/grants.py) as the JSON routes do;
a secret is shown once, on the page that answers the POST which made it. Another user's
app is the console's 404 from every page and form."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from relaygate.core.errors import InvalidRequest
from relaygate.oauth.api import new_app
from relaygate.services import OAuthDep
from relaygate.web.forms import page_form
from relaygate.web.i18n import N_
from relaygate.web.render import render
from relaygate.web.session import ConsoleUserDep, CsrfDep

__all__ = ["router"]

router = APIRouter(include_in_schema=False)
PAGE = "/console/apps"
AUTHORIZED = PAGE + "/authorized"
NOTICES = {"revoked": N_("Access revoked: the app's tokens stopped working at once.")}


@router.get(PAGE, response_class=HTMLResponse)
async def apps(request: Request, user: ConsoleUserDep, oauth: OAuthDep) -> HTMLResponse:
    context = {"apps": await oauth.apps.owned(user.user_id), "form": {}, "refused": ""}
    return render(request, "apps/index.html", context, user=user)


@router.post(PAGE + "/new", response_class=HTMLResponse)
async def register(request: Request, user: CsrfDep, oauth: OAuthDep) -> HTMLResponse:
    form = await page_form(request)
    try:
        app = await oauth.apps.register(user.user_id, new_app(form))
    except InvalidRequest as err:
        context = {
            "apps": await oauth.apps.owned(user.user_id),
            "form": {k: str(v) for k, v in form.items()},
            "refused": err.message,
        }
        return render(request, "apps/index.html", context, user=user, status=400)
    return render(request, "apps/secret.html", {"app": app, "rotated": False}, user=user)


@router.post(PAGE + "/{client_id}/rotate", response_class=HTMLResponse)
async def rotate(request: Request, client_id: str, user: CsrfDep, oauth: OAuthDep) -> HTMLResponse:
    found = await oauth.apps.find_owned(user.user_id, client_id)
    app = await oauth.apps.rotate(user.user_id, found.id)
    return render(request, "apps/secret.html", {"app": app, "rotated": True}, user=user)


@router.get(AUTHORIZED, response_class=HTMLResponse)
async def authorized(
    request: Request, user: ConsoleUserDep, oauth: OAuthDep, done: str = ""
) -> HTMLResponse:
    context = {
        "apps": await oauth.grants.authorized(user.user_id),
        "notice": NOTICES.get(done, ""),
    }
    return render(request, "apps/authorized.html", context, user=user)


@router.post(AUTHORIZED + "/{app_id}/revoke")
async def revoke(app_id: int, user: CsrfDep, oauth: OAuthDep) -> Response:
    await oauth.grants.revoke_app(user.user_id, app_id)
    return RedirectResponse(AUTHORIZED + "?done=revoked", status_code=303)
