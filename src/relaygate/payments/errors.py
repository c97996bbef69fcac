"""Errors of the payments capability."""

from __future__ import annotations

from relaygate.core.errors import NotFound

__all__ = ["PaymentsNotConfigured"]


class PaymentsNotConfigured(NotFound):
    """The operator set no Stripe key: the capability is off, its routes are absent."""

    default_code = "payments_not_configured"

    def __init__(self) -> None:
        super().__init__("Payments are not configured on this gateway.")
