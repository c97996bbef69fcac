"""What an app's scope lets its tokens do (docs/oauth.md "Scopes").

A scope string lists one or more scope names separated by spaces, as OAuth 2.0 does
(RFC 6749 §3.3); order and repeats do not matter. An app registers the set it needs and
the authorize request must ask for exactly that set.

``general_api_access`` (the seed's only scope) is the everyday one: the token is also an
API key on the relay and the user's key routes, and may read the balance, charge and
create top-ups. ``admin_token`` is separate and must be asked for on purpose: it hands
the app a management key of the user's account, which can create and delete the user's
keys, so the consent page names it."""

from __future__ import annotations

from relaygate.core.errors import InvalidRequest, PermissionDenied

__all__ = ["ADMIN_TOKEN", "GENERAL", "SCOPES", "InsufficientScope", "normalise", "scope_set"]

GENERAL = "general_api_access"
ADMIN_TOKEN = "admin_token"
# every scope, in the order a normalised scope string lists them
SCOPES = (GENERAL, ADMIN_TOKEN)


class InsufficientScope(PermissionDenied):
    """The token is valid but its app's scope does not cover the route (RFC 6750 §3.1)."""

    default_code = "insufficient_scope"

    def __init__(self, needed: str) -> None:
        super().__init__(f"This OAuth token's scope does not include '{needed}'.")


def scope_set(text: str) -> frozenset[str]:
    """The names in a scope string (unknown names included: they grant nothing)."""
    return frozenset(text.split())


def normalise(text: str) -> str:
    """A registered scope as stored: known names only, at least one, in a fixed order."""
    names = scope_set(text)
    unknown = sorted(names - set(SCOPES))
    if not names or unknown or len(text) > 200:
        raise InvalidRequest(
            "'scope' must list one or more of: " + ", ".join(SCOPES) + " (space separated).",
            param="scope",
        )
    return " ".join(s for s in SCOPES if s in names)
