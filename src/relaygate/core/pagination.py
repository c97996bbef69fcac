"""Keyset pagination: opaque cursors and the time bounds of a listing.

A listing ordered newest first by ``(created_at, id)`` continues after the last row it
returned, not after a count of rows: reading page 1,000 of a table of millions costs what
page 1 costs, and rows written meanwhile neither repeat nor shift a page. The cursor
carries that last row's position. It is opaque to clients (URL-safe base64 of a versioned
text), and anything a client can send in its place is refused as a 400 naming the
parameter, never passed on to a query.

Times a client gives (``since``/``until``) are ISO 8601 (``2026-12-07T18:00:00Z``, a
zone offset, or no zone, meaning UTC) or unix seconds (``1796666400``, fractions allowed).
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation

from relaygate.core.errors import InvalidRequest

__all__ = ["MAX_ID", "Position", "decode_cursor", "encode_cursor", "parse_instant"]

MAX_ID = 2**31 - 1  # ids in filters are 32-bit columns: a larger one names nothing
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_VERSION = "1"
_CURSOR = re.compile(r"1\.(-?\d{1,19})\.(\d{1,19})")
_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)")
_MAX_CURSOR = 64  # characters: a real cursor is about 40
_BAD_CURSOR = "cursor: not a cursor this listing returned (pass next_cursor unchanged)"


@dataclass(frozen=True, slots=True)
class Position:
    """Where a page ended: the last row's time and id (the next page starts below it)."""

    created_at: datetime
    id: int


def _micros(moment: datetime) -> int:
    delta = moment.astimezone(UTC) - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def encode_cursor(position: Position) -> str:
    text = f"{_VERSION}.{_micros(position.created_at)}.{position.id}"
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> Position:
    """The position a cursor of :func:`encode_cursor` holds; anything else is a 400."""
    if len(cursor) > _MAX_CURSOR:
        raise InvalidRequest(_BAD_CURSOR, param="cursor")
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
    except (binascii.Error, ValueError):
        raise InvalidRequest(_BAD_CURSOR, param="cursor") from None
    match = _CURSOR.fullmatch(text)
    if match is None:
        raise InvalidRequest(_BAD_CURSOR, param="cursor")
    micros, row_id = int(match[1]), int(match[2])
    try:
        moment = _EPOCH + timedelta(microseconds=micros)
    except OverflowError:
        raise InvalidRequest(_BAD_CURSOR, param="cursor") from None
    if row_id > 2**63 - 1:
        raise InvalidRequest(_BAD_CURSOR, param="cursor")
    return Position(moment, row_id)


def parse_instant(text: str, param: str) -> datetime:
    """An ISO 8601 time or unix seconds → an aware UTC datetime; else a 400 on ``param``."""
    value = text.strip()
    problem = f"{param}: expected an ISO 8601 time (2026-12-07T18:00:00Z) or unix seconds"
    if _NUMBER.fullmatch(value):
        try:
            seconds = Decimal(value)
            micros = int(seconds.scaleb(6).to_integral_value())
            return _EPOCH + timedelta(microseconds=micros)
        except (InvalidOperation, OverflowError):
            raise InvalidRequest(f"{problem}; {value!r} is out of range", param=param) from None
    try:
        moment = datetime.fromisoformat(value.replace("z", "Z"))
    except ValueError:
        raise InvalidRequest(f"{problem}, not {value[:64]!r}", param=param) from None
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        raise InvalidRequest(f"{problem}; {value[:64]!r} is out of range", param=param) from None
