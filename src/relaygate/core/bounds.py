"""Bounded integers: every number a client sends to the control plane is one of these.

Python's ``int`` has no limit, the database columns do: a number past a column's range is
an ``OverflowError`` in the SQLite driver and a ``DataError`` in asyncpg, so without a
bound ``/users/100000000000000000000`` or ``offset=99999999999999999999`` is a 500. A
route declares its path, query and body numbers with these types instead of a bare
``int``; the framework then refuses what the column cannot hold with a 400 naming the
field, and the bounds appear in the OpenAPI document, where clients (and the schemathesis
contract test) read them.

They are ``Annotated`` pydantic constraints, so one type serves a path or query parameter
(``user_id: RowId``, ``Annotated[Offset, Query()]``) and a body model's field alike.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

from pydantic import Field, WithJsonSchema

__all__ = [
    "BIG_MAX",
    "Amount",
    "PositivePrice",
    "Price",
    "INT32_MAX",
    "INT64_MAX",
    "Count",
    "Int32",
    "Micro",
    "Offset",
    "PositiveCount",
    "RowId",
]

INT32_MAX = 2**31 - 1  # an INTEGER column on PostgreSQL: ids, limits, counters
INT64_MAX = 2**63 - 1  # a BIGINT column (money in micro-units); SQLite's INTEGER
# The bound published for BIGINT values: 2**63 - 1 does not survive a JSON reader that
# parses numbers as doubles (JavaScript, most validators), 10**18 does, exactly. As money
# it is a trillion currency units, as a row offset more rows than any table holds.
BIG_MAX = 10**18
_MICRO = 1_000_000

# An id of a row whose primary key is an INTEGER column: users, keys, channels, packages.
# Ids start at 1, so 0 and negative ids are refused like ids past the column's range.
RowId = Annotated[int, Field(ge=1, le=INT32_MAX)]
# A signed number stored in an INTEGER column (a channel's priority).
Int32 = Annotated[int, Field(ge=-INT32_MAX - 1, le=INT32_MAX)]
# A count stored in an INTEGER column, 0 allowed / at least 1 (limits, weights).
Count = Annotated[int, Field(ge=0, le=INT32_MAX)]
PositiveCount = Annotated[int, Field(ge=1, le=INT32_MAX)]
# How many rows of a listing to skip (SQL OFFSET takes a BIGINT).
Offset = Annotated[int, Field(ge=0, le=BIG_MAX)]
# A non-negative amount of money in micro-units (a BIGINT column).
Micro = Annotated[int, Field(ge=0, le=BIG_MAX)]


_UNITS = 10**12  # 18 digits, 6 of them decimals: a trillion currency units


def _decimal_schema(low: str) -> WithJsonSchema:
    """What pydantic accepts for a bounded Decimal, said in the schema: a whole number, or
    a decimal string (``"12.5"``) with at most 12 digits before the point and 6 after;
    ``low`` is ``signed``, ``zero`` (0 and up) or ``positive`` (above 0).

    A JSON number with a fraction is accepted too when it has at most 6 decimals, but no
    JSON Schema keyword says so (``multipleOf: 0.000001`` fails on binary floats such as
    0.3), so the schema offers fractions only as text, which is exact."""
    number: dict[str, Any] = {"type": "integer", "maximum": _UNITS - 1}
    sign, nonzero = "", ""
    if low == "signed":
        number["minimum"], sign = -(_UNITS - 1), "-?"
    elif low == "zero":
        number["minimum"] = 0
    else:
        number["exclusiveMinimum"], nonzero = 0, "(?=.*[1-9])"
    digits = "[0-9]{1,12}(\\.[0-9]{1,6})?"
    text = {"type": "string", "pattern": f"^{nonzero}{sign}{digits}$"}
    return WithJsonSchema({"anyOf": [number, text]})


# An amount of money in currency units, as a body sends it ("20", "0.5", -3), one that
# cannot be negative (a price) and one above zero; all exact to the micro-unit.
_EXACT = Field(max_digits=18, decimal_places=6)
Amount = Annotated[Decimal, _EXACT, _decimal_schema("signed")]
Price = Annotated[Decimal, _EXACT, Field(ge=0), _decimal_schema("zero")]
PositivePrice = Annotated[Decimal, _EXACT, Field(gt=0), _decimal_schema("positive")]
