"""``/console/invite``: the user's invitation link, what it gives, and whom it brought.

The link is ``/i/<code>`` (the page ``invite_landing.py`` serves) on this site's address;
the terms are the landing page's own text (``invite/offer.html`` from
``referrals.offer()``), so the inviter reads what the friend will read. Invitees are shown
masked, with the package each one earned the inviter (``console.invites.invitees``).
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from relaygate.services import ConsoleReadsDep, ReferralsDep, SignupDep
from relaygate.web.render import render
from relaygate.web.session import ConsoleUserDep

__all__ = ["router"]

router = APIRouter(include_in_schema=False)


@router.get("/console/invite", response_class=HTMLResponse)
async def invite(
    request: Request,
    user: ConsoleUserDep,
    signup: SignupDep,
    referrals: ReferralsDep,
    reads: ConsoleReadsDep,
) -> HTMLResponse:
    mine = await signup.invite(user.user_id)
    context = {
        "code": mine.code,
        "link": f"{request.url.scheme}://{request.url.netloc}/i/{mine.code}",
        "offer": await referrals.offer(),
        "invitees": await reads.invites.invitees(user.user_id),
    }
    return render(request, "invite/index.html", context, user=user)
