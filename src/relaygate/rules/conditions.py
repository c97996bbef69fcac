"""A rule's body conditions as small compiled tests. Pure.

Each condition becomes one function of the value found at its path (``MISSING`` when
absent), chosen once at compile time for its operator and value, so the relay path
compares without dispatching on the operator's name or canonicalising a scalar: JSON
equality (``true`` is not ``1``, ``1`` is ``1.0``) falls out of the value's type.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any

from relaygate.rules.actions import MISSING, canon, is_number

__all__ = ["Test", "compile_test"]

Test = Callable[[Any], bool]

_ORDER: dict[str, Callable[[Any, Any], Any]] = {
    "gt": operator.gt,
    "gte": operator.ge,
    "lt": operator.lt,
    "lte": operator.le,
}


def _equal_to(value: Any) -> Test:
    """``found == value`` as JSON means it."""
    if value is None or isinstance(value, bool):
        return lambda found: found is value  # None, True, False are singletons
    if isinstance(value, str):
        return lambda found: found == value  # only a string equals a string
    if isinstance(value, int | float):
        return lambda found: found == value and found is not True and found is not False
    wanted = canon(value)  # a list or an object: compared whole
    return lambda found: found is not MISSING and canon(found) == wanted


def compile_test(op: str, value: Any) -> Test:
    """The test of ``op`` against ``value`` (the schema checked that they fit)."""
    if op == "exists":
        return lambda found: found is not MISSING
    if op == "absent":
        return lambda found: found is MISSING
    if op == "eq":
        return _equal_to(value)
    if op == "ne":
        equal = _equal_to(value)
        return lambda found: not equal(found)  # an absent field is "not equal"
    if op == "in":
        wanted = frozenset(canon(v) for v in value)
        return lambda found: found is not MISSING and canon(found) in wanted
    compare, bound = _ORDER[op], value
    return lambda found: is_number(found) and bool(compare(found, bound))
