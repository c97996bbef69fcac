"""The OAuth capability's services, as one record for the Services bundle."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from relaygate.db.engine import Database
from relaygate.oauth.apps import AppRegistry
from relaygate.oauth.charges import Charges
from relaygate.oauth.grants import Grants
from relaygate.oauth.keys import TokenKeys

__all__ = ["OAuthService", "oauth_service"]


@dataclass(frozen=True, slots=True)
class OAuthService:
    apps: AppRegistry  # developers' apps
    grants: Grants  # codes and tokens
    charges: Charges  # apps charging users
    keys: TokenKeys  # the management keys apps get (admin_token scope)


def oauth_service(
    db: Database,
    code_seconds: int,
    commission_percent: Decimal,
    forget: Callable[[int], None],
    forget_key: Callable[[str], None],
) -> OAuthService:
    """``forget``: the relay's cached balance of a user; ``forget_key``: the key cache's
    entry of a key digest (AccountService.cache.invalidate), so a revoked token stops
    at once in this process."""
    return OAuthService(
        AppRegistry(db),
        Grants(db, code_seconds, forget_key),
        Charges(db, commission_percent, forget),
        TokenKeys(db, forget_key),
    )
