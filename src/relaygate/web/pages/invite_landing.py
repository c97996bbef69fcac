"""``/i/<code>``: the invitation page a shared link opens.

It says who invited (their name, else their address masked), what both sides receive and
on which conditions (billing/referrals.py's rules and the reward's package type), and its
button leads to ``/console/login?invite=<code>``, so the code rides through sign-up and
the reward is granted as for ``invite_code`` on the API. An unknown code is the 404 page.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from relaygate.accounts.signup import normalise_invite_code
from relaygate.core.errors import NotFound
from relaygate.services import ReferralsDep, SignupDep
from relaygate.web.render import render
from relaygate.web.session import MaybeUserDep

__all__ = ["masked_email", "router"]

router = APIRouter(include_in_schema=False)


def masked_email(email: str) -> str:
    """``alice@example.com`` -> ``a***e@example.com``: recognisable to a friend, useless
    to a harvester."""
    local, _, domain = email.rpartition("@")
    shown = local[:1] + "***" if len(local) <= 2 else f"{local[0]}***{local[-1]}"
    return f"{shown}@{domain}"


@router.get("/i/{code}", response_class=HTMLResponse)
async def invitation(
    request: Request, code: str, svc: SignupDep, referrals: ReferralsDep, user: MaybeUserDep
) -> HTMLResponse:
    canonical = normalise_invite_code(code)
    inviter = await svc.code_owner(canonical) if canonical else None
    if canonical is None or inviter is None or inviter.is_disabled:
        raise NotFound("Unknown invitation code.")
    offer = await referrals.offer()
    context = {
        "code": canonical,
        "inviter": inviter.name or masked_email(inviter.email),
        "offer": offer,
    }
    return render(request, "invite/landing.html", context, user=user)
