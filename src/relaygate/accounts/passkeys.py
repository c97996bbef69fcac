"""Passkeys (WebAuthn): a second way to sign in, for users who registered one.

The ceremonies are the ``webauthn`` library's; this service owns what the library leaves
to the relying party: the challenges and the credentials.

* A challenge is 32 random bytes, handed out with the options and remembered in the kv
  (``Counter``: a key set to 1 with a short TTL) under the purpose it was made for and,
  for a registration, the user who asked. The answer carries the challenge back inside
  its signed ``clientDataJSON``; it is accepted only if that key can be taken from 1 to
  0, an atomic step, so a challenge is used once even across replicas and racing
  requests, and a challenge made for one user cannot register a passkey for another.
* A credential is stored with its public key, the authenticator's signature counter and
  the user's name for it. A sign-in checks the signature, the origin and relying party
  (the library), then that the counter went up (a counter that goes back means a cloned
  authenticator), and returns the user id; opening a session is the caller's
  (:meth:`SignupService.start_session` for the JSON API, the browser session for the
  console), so both sign a user in from the same check.

Every refusal of a sign-in is the same 401 (an unknown credential, a bad signature, a
used challenge), so the answers tell an attacker nothing about which credentials exist.
"""

from __future__ import annotations

import binascii
import json
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import base64url_to_bytes, bytes_to_base64url
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import (
    AuthenticatorSelectionCriteria,
    AuthenticatorTransport,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from relaygate.accounts.models import Passkey, User
from relaygate.core.clock import utcnow
from relaygate.core.errors import (
    AuthenticationFailed,
    Conflict,
    InvalidRequest,
    NotFound,
    PermissionDenied,
)
from relaygate.db.engine import Database
from relaygate.kv.protocols import Counter

__all__ = ["MAX_PASSKEYS", "PasskeyService", "PasskeyView", "RelyingParty"]

log = logging.getLogger(__name__)

MAX_PASSKEYS = 20  # per user: enough for every device a person owns
NAME_LENGTH = 100
_TRANSPORTS = frozenset(t.value for t in AuthenticatorTransport)
_REFUSED = "This passkey cannot sign in."


@dataclass(frozen=True, slots=True)
class RelyingParty:
    """Who the passkeys are for: ``id`` is the domain they are bound to (the public
    URL's host), ``origins`` the pages allowed to use them (``https://host[:port]``)."""

    id: str
    name: str
    origins: tuple[str, ...]
    challenge_ttl_s: int = 300


@dataclass(frozen=True, slots=True)
class PasskeyView:
    """A stored passkey as its owner sees it (never the key material)."""

    id: int
    name: str
    created_at: datetime
    last_used_at: datetime | None
    transports: list[str]


def _view(row: Passkey) -> PasskeyView:
    return PasskeyView(row.id, row.name, row.created_at, row.last_used_at, list(row.transports))


def _name(text: str) -> str:
    name = " ".join(text.split())
    if not name:
        return "Passkey"
    if len(name) > NAME_LENGTH:
        raise InvalidRequest(f"'name' is at most {NAME_LENGTH} characters.", param="name")
    return name


def _text(value: Any, field: str) -> str:
    if not isinstance(value, str) or not value:
        raise InvalidRequest(f"'{field}' must be a non-empty string.", param="credential")
    return value


def _challenge_of(credential: dict[str, Any]) -> str:
    """The challenge the answer was made for, read from its ``clientDataJSON`` (signed by
    the authenticator, so it cannot be swapped without breaking the signature)."""
    response = credential.get("response")
    if not isinstance(response, dict):
        raise InvalidRequest("'credential.response' must be an object.", param="credential")
    try:
        client_data = json.loads(base64url_to_bytes(_text(response.get("clientDataJSON"), "x")))
    except (ValueError, binascii.Error) as exc:
        raise InvalidRequest("'clientDataJSON' is not base64url JSON.", param="credential") from exc
    challenge = client_data.get("challenge") if isinstance(client_data, dict) else None
    if not isinstance(challenge, str) or not 0 < len(challenge) <= 200:
        raise InvalidRequest("'clientDataJSON' carries no challenge.", param="credential")
    return challenge


def _transports(credential: dict[str, Any]) -> list[str]:
    response = credential.get("response")
    found = response.get("transports") if isinstance(response, dict) else None
    if not isinstance(found, list):
        return []
    return [t for t in found if isinstance(t, str) and t in _TRANSPORTS]


def user_handle(user_id: int) -> bytes:
    """The WebAuthn user handle: the account id, which carries no personal data."""
    return str(user_id).encode()


class PasskeyService:
    """Registration, listing and sign-in by passkey (see module docs)."""

    def __init__(self, db: Database, counters: Counter, rp: RelyingParty) -> None:
        self.db = db
        self.counters = counters
        self.rp = rp

    # ------------------------------------------------------------ challenges

    def _key(self, purpose: str, challenge: str) -> str:
        return f"passkey:{purpose}:{challenge}"

    async def _issue(self, purpose: str) -> bytes:
        challenge = secrets.token_bytes(32)
        key = self._key(purpose, bytes_to_base64url(challenge))
        await self.counters.set(key, 1, ttl_s=self.rp.challenge_ttl_s)
        return challenge

    async def _take(self, purpose: str, challenge: str) -> bool:
        """Use the challenge up; False when it was never issued, used or expired."""
        key = self._key(purpose, challenge)
        taken, _ = await self.counters.add(key, -1, floor=0)
        if taken:
            await self.counters.delete(key)
        return taken

    # ------------------------------------------------------------ registration

    async def registration_options(self, user_id: int) -> dict[str, Any]:
        """Options for ``navigator.credentials.create``; the user's passkeys are excluded
        so an authenticator is not registered twice."""
        async with self.db.session() as session:
            user = await session.get(User, user_id)
            if user is None:
                raise NotFound("No such user.")
            ids = (
                await session.scalars(
                    select(Passkey.credential_id).where(Passkey.user_id == user_id)
                )
            ).all()
        options = generate_registration_options(
            rp_id=self.rp.id,
            rp_name=self.rp.name,
            user_id=user_handle(user_id),
            user_name=user.email,
            user_display_name=user.name or user.email,
            challenge=await self._issue(f"register:{user_id}"),
            timeout=self.rp.challenge_ttl_s * 1000,
            authenticator_selection=AuthenticatorSelectionCriteria(
                resident_key=ResidentKeyRequirement.PREFERRED,
                user_verification=UserVerificationRequirement.PREFERRED,
            ),
            exclude_credentials=[
                PublicKeyCredentialDescriptor(id=base64url_to_bytes(i)) for i in ids
            ],
        )
        found: dict[str, Any] = json.loads(options_to_json(options))
        return found

    async def register(self, user_id: int, credential: dict[str, Any], name: str) -> PasskeyView:
        """Check the authenticator's answer to this user's challenge and keep the key."""
        label = _name(name)
        challenge = _challenge_of(credential)
        if not await self._take(f"register:{user_id}", challenge):
            raise InvalidRequest("This registration challenge is unknown, used or expired.")
        try:
            verified = verify_registration_response(
                credential=credential,
                expected_challenge=base64url_to_bytes(challenge),
                expected_rp_id=self.rp.id,
                expected_origin=list(self.rp.origins),
            )
        except (WebAuthnException, ValueError, binascii.Error) as exc:
            message = f"The passkey was not accepted: {exc}"
            raise InvalidRequest(message, param="credential") from exc
        row = Passkey(
            user_id=user_id,
            credential_id=bytes_to_base64url(verified.credential_id),
            public_key=verified.credential_public_key,
            sign_count=verified.sign_count,
            transports=_transports(credential),
            name=label,
        )
        try:
            async with self.db.session() as session, session.begin():
                count = await session.scalar(
                    select(func.count()).select_from(Passkey).where(Passkey.user_id == user_id)
                )
                if int(count or 0) >= MAX_PASSKEYS:
                    raise Conflict(f"A user may register at most {MAX_PASSKEYS} passkeys.")
                session.add(row)
        except IntegrityError as exc:
            raise Conflict("This passkey is registered already.", param="credential") from exc
        return _view(row)

    # ------------------------------------------------------------ the owner's list

    async def list(self, user_id: int) -> list[PasskeyView]:
        async with self.db.session() as session:
            rows = await session.scalars(
                select(Passkey).where(Passkey.user_id == user_id).order_by(Passkey.id)
            )
            return [_view(row) for row in rows]

    async def rename(self, user_id: int, passkey_id: int, name: str) -> PasskeyView:
        label = _name(name)
        async with self.db.session() as session, session.begin():
            row = await session.get(Passkey, passkey_id)
            if row is None or row.user_id != user_id:  # another user's: not found
                raise NotFound("No such passkey.")
            row.name = label
            return _view(row)

    async def delete(self, user_id: int, passkey_id: int) -> None:
        async with self.db.session() as session, session.begin():
            gone = await session.execute(
                delete(Passkey).where(Passkey.id == passkey_id, Passkey.user_id == user_id)
            )
            if getattr(gone, "rowcount", 0) != 1:
                raise NotFound("No such passkey.")

    # ------------------------------------------------------------ sign-in

    async def authentication_options(self) -> dict[str, Any]:
        """Options for ``navigator.credentials.get`` with no credential list: the browser
        offers the passkeys it holds for this site (so no address is asked for, and the
        answer says nothing about which accounts have passkeys)."""
        options = generate_authentication_options(
            rp_id=self.rp.id,
            challenge=await self._issue("signin"),
            timeout=self.rp.challenge_ttl_s * 1000,
            user_verification=UserVerificationRequirement.PREFERRED,
        )
        found: dict[str, Any] = json.loads(options_to_json(options))
        return found

    async def authenticate(self, credential: dict[str, Any]) -> int:
        """The user id the assertion proves, or :class:`AuthenticationFailed`; a disabled
        account is :class:`PermissionDenied`. The challenge is used up first, so even a
        refused answer cannot be tried again."""
        try:
            challenge = _challenge_of(credential)
        except InvalidRequest as exc:  # a sign-in that cannot be checked is refused alike
            raise AuthenticationFailed(_REFUSED, code="passkey_refused") from exc
        if not await self._take("signin", challenge):
            raise AuthenticationFailed(_REFUSED, code="passkey_refused")
        credential_id = _text(credential.get("id"), "credential.id")
        async with self.db.session() as session:
            row = await session.scalar(
                select(Passkey).where(Passkey.credential_id == credential_id)
            )
        if row is None or not self._handle_matches(credential, row.user_id):
            raise AuthenticationFailed(_REFUSED, code="passkey_refused")
        try:
            verified = verify_authentication_response(
                credential=credential,
                expected_challenge=base64url_to_bytes(challenge),
                expected_rp_id=self.rp.id,
                expected_origin=list(self.rp.origins),
                credential_public_key=row.public_key,
                credential_current_sign_count=row.sign_count,
            )
        except (WebAuthnException, ValueError, binascii.Error) as exc:
            log.info("passkey %s refused: %s", row.id, exc)
            raise AuthenticationFailed(_REFUSED, code="passkey_refused") from exc
        await self._used(row, verified.new_sign_count)
        return row.user_id

    @staticmethod
    def _handle_matches(credential: dict[str, Any], user_id: int) -> bool:
        """An answer naming a user (``userHandle``) must name the credential's owner."""
        response = credential.get("response")
        handle = response.get("userHandle") if isinstance(response, dict) else None
        if handle in (None, ""):
            return True
        try:
            return isinstance(handle, str) and base64url_to_bytes(handle) == user_handle(user_id)
        except (ValueError, binascii.Error):
            return False

    async def _used(self, row: Passkey, sign_count: int) -> None:
        """Record the use; the counter moves only forward (a racing older answer loses),
        and the account must still be enabled."""
        async with self.db.session() as session, session.begin():
            await session.execute(
                update(Passkey)
                .where(Passkey.id == row.id, Passkey.sign_count <= sign_count)
                .values(sign_count=sign_count, last_used_at=utcnow())
            )
            disabled = await session.scalar(select(User.is_disabled).where(User.id == row.user_id))
        if disabled is None or disabled:
            raise PermissionDenied("This account is disabled.")
