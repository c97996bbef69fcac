"""Top-up amounts: the operator's options and limits, and micro-units ↔ minor units.

The balance is kept in micro-units of the operator's currency; a provider charges in the
currency's minor units (cents; yen for a zero-decimal currency). A top-up amount must be
a whole number of minor units, so what is charged is exactly what is credited.
"""

from __future__ import annotations

from dataclasses import dataclass

from relaygate.core.errors import InvalidRequest
from relaygate.core.money import MICRO, format_money

__all__ = ["TopUpLimits", "from_minor", "minor_units", "show_amount"]

# ISO 4217 currencies Stripe charges without minor units, and with three decimals
_ZERO_DECIMAL = frozenset(
    [
        "bif",
        "clp",
        "djf",
        "gnf",
        "jpy",
        "kmf",
        "krw",
        "mga",
        "pyg",
        "rwf",
        "ugx",
        "vnd",
        "vuv",
        "xaf",
        "xof",
        "xpf",
    ]
)
_THREE_DECIMAL = frozenset(["bhd", "jod", "kwd", "omr", "tnd"])


def _micro_per_minor(currency: str) -> int:
    if currency in _ZERO_DECIMAL:
        return MICRO
    if currency in _THREE_DECIMAL:
        return MICRO // 1000
    return MICRO // 100


def minor_units(amount: int, currency: str) -> int:
    """``amount`` micro-units in ``currency``'s minor units; refuses a fraction of one."""
    unit = _micro_per_minor(currency)
    if amount % unit:
        raise InvalidRequest(
            f"'amount' must be a whole number of {currency.upper()} minor units.",
            param="amount",
        )
    return amount // unit


def from_minor(minor: int, currency: str) -> int:
    return minor * _micro_per_minor(currency)


def show_amount(amount: int, currency: str) -> str:
    """``amount`` micro-units with the currency's own decimals (``"20.00"``, ``"500"`` yen),
    for documents such as an invoice; a finer remainder (never left by a top-up) is kept."""
    places = {MICRO: 0, MICRO // 1000: 3}.get(_micro_per_minor(currency), 2)
    text = format_money(amount)
    whole, _, fraction = text.partition(".")
    kept = fraction[:places] + fraction[places:].rstrip("0")
    return whole + ("." + kept if kept else "")


@dataclass(frozen=True, slots=True)
class TopUpLimits:
    currency: str  # lower case, as Stripe takes it
    options: tuple[int, ...]  # micro-units offered as buttons
    minimum: int
    maximum: int

    def check(self, amount: int) -> int:
        """``amount`` in minor units, when it is an option or within the limits."""
        if amount not in self.options and not self.minimum <= amount <= self.maximum:
            raise InvalidRequest(
                f"'amount' must be between {format_money(self.minimum)} and "
                f"{format_money(self.maximum)}.",
                param="amount",
            )
        return minor_units(amount, self.currency)
