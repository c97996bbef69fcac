"""The records the OAuth services hand to routes and pages, and the OAuth errors."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from relaygate.core.errors import AuthenticationFailed
from relaygate.oauth.scopes import InsufficientScope, scope_set

__all__ = [
    "AppView",
    "AuthorizedApp",
    "ChargeResult",
    "GrantedToken",
    "NewApp",
    "OAuthTokenInvalid",
    "TokenOwner",
]

TOKEN_INVALID_MESSAGE = (
    "Incorrect OAuth token provided. Please try to re-authenticate with the OAuth provider."
)


class OAuthTokenInvalid(AuthenticationFailed):
    """§1.3: a bad client secret, code, verifier or access token; throw it away, re-authorise."""

    type = "oauth_invalid_token_error"
    default_code = "oauth_invalid_token"


@dataclass(frozen=True, slots=True)
class NewApp:
    """What a developer registers (and edits): checked by the service."""

    name: str
    logo_url: str
    homepage: str
    redirect_domains: tuple[str, ...]
    scope: str
    public: bool


@dataclass(frozen=True, slots=True)
class AppView:
    id: int
    client_id: str
    name: str
    logo_url: str
    homepage: str
    redirect_domains: tuple[str, ...]
    scope: str
    public: bool
    created_at: datetime
    revenue: int = 0  # micro-units the owner received, commission taken
    secret: str | None = None  # only in the answer that created or rotated it


@dataclass(frozen=True, slots=True)
class GrantedToken:
    user_id: int
    client_id: str
    token: str


@dataclass(frozen=True, slots=True)
class TokenOwner:
    """Who an access token acts for, and for which app."""

    token_id: int
    user_id: int
    app_id: int
    owner_id: int
    scope: str

    def require(self, name: str) -> TokenOwner:
        """This caller, when the app's scope has ``name``; 403 ``insufficient_scope``."""
        if name not in scope_set(self.scope):
            raise InsufficientScope(name)
        return self


@dataclass(frozen=True, slots=True)
class ChargeResult:
    charge_id: int
    amount: int
    commission: int
    balance_after: int
    replayed: bool  # True: the idempotency key was seen; this is the first result


@dataclass(frozen=True, slots=True)
class AuthorizedApp:
    """An app a user authorised: its live tokens and what it charged them."""

    app_id: int
    name: str
    homepage: str
    logo_url: str
    scope: str
    tokens: int
    charged: int
    first_authorized: datetime
