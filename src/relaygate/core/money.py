"""Money on the wire: the one formatter and the one parser every route uses.

Inside the gateway money is an integer count of micro-units (``1_000_000`` = 1 currency
unit). Wherever an amount leaves as text (balances, packages, key fees, bills in JSON and
CSV, prices) it is written by :func:`format_money`: exact and always with six decimals
(``"1.234567"``, ``"20.000000"``, ``"-0.700000"``). A balance shown with two decimals
next to bills with six could not be reconciled (1.234567 read as "1.23"); with one format
the figures add up digit for digit, and a client can compare them as strings.

:func:`parse_money` goes the other way for amounts a client or the operator sends as text
or numbers: at most six decimals (anything finer is refused, never rounded), finite, and
small enough for a 64-bit column.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from fractions import Fraction

from relaygate.core.errors import InvalidRequest

__all__ = ["MICRO", "MoneyError", "format_exact", "format_money", "parse_money"]

MICRO = 1_000_000
_LARGEST = 2**63 - 1  # a BIGINT column's limit, in micro-units
_DIGITS = 13  # whole-unit digits that can fit under _LARGEST (9,223,372,036,854 units)


class MoneyError(InvalidRequest, ValueError):
    """A malformed amount: a 400 naming the field on a route, and a ValueError where
    settings and pydantic validators expect one."""


def format_money(micro: int) -> str:
    """Micro-units as an exact decimal string with six decimals: ``1234567`` → ``"1.234567"``."""
    sign = "-" if micro < 0 else ""
    whole, fraction = divmod(abs(micro), MICRO)
    return f"{sign}{whole}.{fraction:06d}"


_MAX_PLACES = 18


def format_exact(micro: Fraction) -> str:
    """An exact amount in micro-units (a cost before its one rounding) as a decimal with
    at least six places and as many more as it has (``Fraction(2667, 2)`` →
    ``"0.0013335"``); one that does not end within 18 places ends in ``…``."""
    units = micro / MICRO
    sign = "-" if units < 0 else ""
    units = abs(units)
    rest, places = units.denominator, 0
    for prime in (2, 5):
        count = 0
        while rest % prime == 0:
            rest //= prime
            count += 1
        places = max(places, count)
    exact = rest == 1 and places <= _MAX_PLACES
    places = max(6, places) if exact else _MAX_PLACES
    scaled = units * 10**places
    digits = scaled.numerator // scaled.denominator
    whole, fraction = divmod(digits, 10**places)
    return f"{sign}{whole}.{fraction:0{places}d}" + ("" if exact else "…")


def parse_money(value: str | int | Decimal, field: str = "amount") -> int:
    """Currency units (``"12.34"``, ``12``, ``Decimal("0.5")``) as micro-units.

    Raises :class:`MoneyError` naming ``field`` for text that is not a number, more than
    six decimals, a non-finite value, or an amount beyond a 64-bit column.
    """
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation as exc:
        raise MoneyError(
            f"'{field}' must be a decimal amount such as \"12.5\".", param=field
        ) from exc
    if not amount.is_finite():
        raise MoneyError(f"'{field}' must be a finite amount.", param=field)
    if amount and amount.adjusted() >= _DIGITS:  # checked before scaling: 1e999999 is cheap
        raise MoneyError(f"'{field}' is too large.", param=field)
    if _decimals(amount) > 6:
        raise MoneyError(f"'{field}' has more than six decimals.", param=field)
    micro = int(amount.scaleb(6))  # exact: at most 19 significant digits remain
    if abs(micro) > _LARGEST:
        raise MoneyError(f"'{field}' is too large.", param=field)
    return micro


def _decimals(amount: Decimal) -> int:
    """Decimal places that carry a digit (``"1.500"`` has 1), without a context that could
    round ``1e-9999999`` to zero."""
    _, digits, exponent = amount.as_tuple()
    assert isinstance(exponent, int)  # finite, checked by the caller
    trailing = len(digits) - len("".join(map(str, digits)).rstrip("0"))
    return max(0, -(exponent + trailing)) if any(digits) else 0
