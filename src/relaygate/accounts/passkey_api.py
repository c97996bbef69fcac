"""Routes of passkeys (the platform envelope; JSON bodies).

Registering and managing (``/api/v1/user/passkeys``) needs a signed-in user: the session
token a sign-in returned (``Authorization: Bearer rgs_…``) or the account's management
key. Signing in (``/api/v1/auth/passkey/options`` then ``/verify``) needs nothing, and
answers as ``/api/v1/auth/verify`` does. Both ceremonies are the browser's
``navigator.credentials.create`` / ``.get`` with the options given here; the credential
it returns is posted back as JSON (``PublicKeyCredential.toJSON()``).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field

from relaygate.accounts.api import presented_key
from relaygate.accounts.passkeys import NAME_LENGTH, PasskeyView
from relaygate.accounts.signup import SESSION_PREFIX
from relaygate.accounts.signup_api import signed_in
from relaygate.accounts.user_api import MANAGER_ERRORS, require_manager
from relaygate.core.bounds import RowId
from relaygate.core.envelope import envelope, error_responses, refused_when
from relaygate.core.errors import RateLimited
from relaygate.services import AccountsDep, KVDep, PasskeysDep, SessionsDep, SignupDep

__all__ = ["router"]

OPTIONS_PER_IP_PER_MINUTE = 30  # sign-in challenges an anonymous client may ask for


async def signed_in_user(
    request: Request, signup: SignupDep, accounts: AccountsDep, sessions: SessionsDep
) -> int:
    """The caller's user id, from a session token, else the management key or the
    console's cookie (with its CSRF header on changes)."""
    presented = presented_key(request)
    if presented and presented.startswith(SESSION_PREFIX):
        return await signup.session_user(presented)
    return (await require_manager(request, accounts, sessions)).user_id


UserDep = Annotated[int, Depends(signed_in_user)]


_B64URL = r"^[A-Za-z0-9_-]*={0,2}$"


def _b64(description: str, max_length: int = 65536) -> Any:
    return Field(pattern=_B64URL, max_length=max_length, description=description)


class _Response(BaseModel):
    model_config = ConfigDict(extra="allow")

    clientDataJSON: str = _b64("The client data, base64url.")  # noqa: N815 - WebAuthn's names


class AttestationResponse(_Response):
    attestationObject: str = _b64("The attestation object (CBOR), base64url.")  # noqa: N815
    transports: list[str] = Field(default_factory=list, max_length=10)


class AssertionResponse(_Response):
    authenticatorData: str = _b64("The authenticator data, base64url.")  # noqa: N815
    signature: str = _b64("The assertion signature, base64url.")
    userHandle: str | None = _b64("The user handle, base64url.", 200)  # noqa: N815


class _Credential(BaseModel):
    """``PublicKeyCredential.toJSON()``: what ``navigator.credentials`` returned."""

    model_config = ConfigDict(extra="allow")

    id: str = Field(pattern=_B64URL, min_length=1, max_length=1400)
    rawId: str = Field(pattern=_B64URL, min_length=1, max_length=1400)  # noqa: N815
    type: Literal["public-key"]


class RegistrationCredential(_Credential):
    response: AttestationResponse


class AuthenticationCredential(_Credential):
    response: AssertionResponse


class NewPasskey(BaseModel):
    credential: RegistrationCredential
    name: str = Field(default="", max_length=NAME_LENGTH, description="Your name for it.")


class Assertion(BaseModel):
    credential: AuthenticationCredential


class PasskeyName(BaseModel):
    name: str = Field(max_length=NAME_LENGTH, description="Your name for the passkey.")


def _out(view: PasskeyView) -> dict[str, Any]:
    return {
        "id": view.id,
        "name": view.name,
        "created_at": view.created_at.isoformat().replace("+00:00", "Z"),
        "last_used_at": (
            view.last_used_at.isoformat().replace("+00:00", "Z") if view.last_used_at else None
        ),
        "transports": view.transports,
    }


router = APIRouter(tags=["accounts: passkeys"])
_MINE = {**MANAGER_ERRORS}


@router.post(
    "/api/v1/user/passkeys/options",
    summary="Options to register a passkey",
    responses={**_MINE, **error_responses(404)},
)
async def registration_options(user_id: UserDep, svc: PasskeysDep) -> dict[str, Any]:
    return envelope(await svc.registration_options(user_id))


@router.post(
    "/api/v1/user/passkeys",
    summary="Register a passkey",
    responses={
        **_MINE,
        **refused_when("an unknown, used or expired challenge, or a credential not verified"),
        **error_responses(409),
    },
)
async def register(body: NewPasskey, user_id: UserDep, svc: PasskeysDep) -> dict[str, Any]:
    view = await svc.register(user_id, body.credential.model_dump(), body.name)
    return envelope(_out(view), "Passkey registered")


@router.get("/api/v1/user/passkeys", summary="Your passkeys", responses=_MINE)
async def list_passkeys(user_id: UserDep, svc: PasskeysDep) -> dict[str, Any]:
    return envelope([_out(view) for view in await svc.list(user_id)])


@router.patch(
    "/api/v1/user/passkeys/{passkey_id}",
    summary="Rename a passkey",
    responses={**_MINE, **error_responses(404)},
)
async def rename_passkey(
    passkey_id: RowId, body: PasskeyName, user_id: UserDep, svc: PasskeysDep
) -> dict[str, Any]:
    return envelope(_out(await svc.rename(user_id, passkey_id, body.name)), "Passkey renamed")


@router.delete(
    "/api/v1/user/passkeys/{passkey_id}",
    summary="Delete a passkey",
    responses={**_MINE, **error_responses(404)},
)
async def delete_passkey(passkey_id: RowId, user_id: UserDep, svc: PasskeysDep) -> dict[str, Any]:
    await svc.delete(user_id, passkey_id)
    return envelope(None, "Passkey deleted")


@router.post(
    "/api/v1/auth/passkey/options",
    summary="Options to sign in with a passkey",
    responses=error_responses(429, 500),
)
async def authentication_options(request: Request, svc: PasskeysDep, kv: KVDep) -> dict[str, Any]:
    client = request.client.host if request.client else "unknown"
    hit = await kv.rates.hit(f"passkey:options:{client}", 60, limit=OPTIONS_PER_IP_PER_MINUTE)
    if not hit.allowed:
        retry = str(max(1, round(hit.reset_after_s)))
        raise RateLimited("Too many sign-in attempts.", headers={"retry-after": retry})
    return envelope(await svc.authentication_options())


@router.post(
    "/api/v1/auth/passkey/verify",
    summary="Sign in with a passkey",
    responses=error_responses(400, 401, 403, 500),
)
async def authenticate(body: Assertion, svc: PasskeysDep, signup: SignupDep) -> dict[str, Any]:
    user_id = await svc.authenticate(body.credential.model_dump(exclude_none=True))
    return signed_in(await signup.start_session(user_id))
