"""Keyset cursors and listing times: round trips, and every bad input is a 400 naming it."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta, timezone

import pytest

from relaygate.core.errors import InvalidRequest
from relaygate.core.pagination import Position, decode_cursor, encode_cursor, parse_instant


@pytest.mark.parametrize(
    "position",
    [
        Position(datetime(2026, 12, 7, 18, 0, 0, 123456, tzinfo=UTC), 1),
        Position(datetime(1969, 7, 20, 20, 17, 40, tzinfo=UTC), 2**63 - 1),
        Position(datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC), 42),
        Position(datetime(1, 1, 1, tzinfo=UTC), 7),
    ],
)
def test_cursor_round_trips_exactly(position: Position) -> None:
    cursor = encode_cursor(position)
    assert cursor.isascii() and "=" not in cursor and "+" not in cursor and "/" not in cursor
    assert decode_cursor(cursor) == position


def _b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "cursor",
    [
        "",
        "abc",
        "!!!!",
        "x" * 65,
        _b64("2.1796666400000000.5"),  # another version
        _b64("1.abc.5"),
        _b64("1.5"),
        _b64("1.999999999999999999.5"),  # beyond year 9999
        _b64("1.0.99999999999999999999"),  # beyond 64 bits
        _b64("1.0.-5"),
        base64.urlsafe_b64encode(b"\xff\xfe").decode(),
    ],
)
def test_bad_cursor_is_a_400_naming_the_parameter(cursor: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        decode_cursor(cursor)
    assert caught.value.status == 400 and caught.value.param == "cursor"
    assert "next_cursor" in caught.value.message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-12-07T18:00:00Z", datetime(2026, 12, 7, 18, tzinfo=UTC)),
        ("2026-12-07T18:00:00z", datetime(2026, 12, 7, 18, tzinfo=UTC)),
        ("2026-12-07T19:00:00+01:00", datetime(2026, 12, 7, 18, tzinfo=UTC)),
        ("2026-12-07 18:00:00.5", datetime(2026, 12, 7, 18, 0, 0, 500000, tzinfo=UTC)),
        ("2026-12-07", datetime(2026, 12, 7, tzinfo=UTC)),
        ("0", datetime(1970, 1, 1, tzinfo=UTC)),
        ("1796666400", datetime(2026, 12, 7, 18, tzinfo=UTC)),
        ("1796666400.25", datetime(2026, 12, 7, 18, 0, 0, 250000, tzinfo=UTC)),
        ("-86400", datetime(1969, 12, 31, tzinfo=UTC)),
    ],
)
def test_instants(text: str, expected: datetime) -> None:
    moment = parse_instant(text, "since")
    assert moment == expected and moment.utcoffset() == timedelta(0)


def test_an_offset_time_is_converted_to_utc() -> None:
    moment = parse_instant("2026-12-07T18:00:00-05:00", "until")
    assert moment.tzinfo is not None
    assert moment == datetime(2026, 12, 7, 18, tzinfo=timezone(timedelta(hours=-5)))
    assert moment.hour == 23


@pytest.mark.parametrize(
    "text",
    [
        "yesterday",
        "",
        "1e5",
        "2026-13-01",
        "99999999999999999999999",
        "NaN",
        "0001-01-01T00:00:00+01:00",
    ],
)
def test_bad_instant_is_a_400_naming_the_parameter(text: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        parse_instant(text, "until")
    assert caught.value.param == "until"
    assert caught.value.message.startswith("until: expected an ISO 8601 time")
