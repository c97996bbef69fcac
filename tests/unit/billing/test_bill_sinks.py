"""The SQLite sink stores times exactly as before its shortcut (naive UTC, microseconds)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from relaygate.billing.bill_sinks import SQLiteSink


@pytest.mark.parametrize(
    "moment",
    [
        datetime(2026, 12, 7, 19, 30, 1, 123456, tzinfo=UTC),
        datetime(2026, 12, 7, 19, 30, 1, tzinfo=UTC),  # no microseconds: still six zeros
        datetime(1, 1, 1, tzinfo=UTC),
        datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
        datetime(2026, 12, 8, 1, 0, 0, 5, tzinfo=timezone(timedelta(hours=5, minutes=30))),
    ],
)
def test_sqlite_times_are_naive_utc_with_microseconds(moment: datetime) -> None:
    expected = moment.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")
    assert SQLiteSink("unused.db").time(moment) == expected
