"""The manual referral route: ``POST /api/v1/user/invite/redeem`` ``{code}``.

A user who signed up without a code may enter one afterwards. A brand-new user has no API
key yet, so the route accepts the console session token (``Authorization: Bearer rgs_…``)
as well as the account's management key.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request

from relaygate.accounts.api import presented_key
from relaygate.accounts.signup import SESSION_PREFIX
from relaygate.accounts.signup_api import INVITE_CODE
from relaygate.accounts.user_api import MANAGER_ERRORS, require_manager
from relaygate.core.envelope import envelope, refused_when
from relaygate.core.forms import form_body, parse_body
from relaygate.services import AccountsDep, ReferralsDep, SessionsDep, SignupDep

__all__ = ["router"]

_BODY = form_body({"code": INVITE_CODE}, required=("code",))


async def redeemer(
    request: Request, signup: SignupDep, accounts: AccountsDep, sessions: SessionsDep
) -> int:
    """The caller's user id, from a session token, else the management key (or the
    console's cookie, as every management-key route)."""
    presented = presented_key(request)
    if presented and presented.startswith(SESSION_PREFIX):
        return await signup.session_user(presented)
    return (await require_manager(request, accounts, sessions)).user_id


RedeemerDep = Annotated[int, Depends(redeemer)]
router = APIRouter(tags=["billing: referrals"])


@router.post(
    "/api/v1/user/invite/redeem",
    summary="Enter an invite code",
    openapi_extra=_BODY,
    responses={**MANAGER_ERRORS, **refused_when("an unknown or own invite code, or too late")},
)
async def redeem(request: Request, user_id: RedeemerDep, svc: ReferralsDep) -> dict[str, Any]:
    body = parse_body(await request.body(), request.headers.get("content-type", ""))
    done = await svc.redeem(user_id, str(body.get("code") or ""))
    message = "Invite code applied" if done.rewarded else "Invite code recorded, no reward"
    return envelope({"rewarded": done.rewarded, "reason": done.reason}, message)
