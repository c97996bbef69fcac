"""The OAuth capability's services, as one record for the Services bundle."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from relaygate.db.engine import Database
from relaygate.oauth.apps import AppRegistry
from relaygate.oauth.charges import Charges
from relaygate.oauth.grants import Grants

__all__ = ["OAuthService", "oauth_service"]


@dataclass(frozen=True, slots=True)
class OAuthService:
    apps: AppRegistry  # developers' apps
    grants: Grants  # codes and tokens
    charges: Charges  # apps charging users


def oauth_service(
    db: Database, code_seconds: int, commission_percent: Decimal, forget: Callable[[int], None]
) -> OAuthService:
    return OAuthService(
        AppRegistry(db), Grants(db, code_seconds), Charges(db, commission_percent, forget)
    )
