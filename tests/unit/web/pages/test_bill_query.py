"""The bills page's query string: what each parameter becomes, and the 400 for a bad one."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from relaygate.core.errors import InvalidRequest
from relaygate.core.pagination import Position, encode_cursor
from relaygate.web.pages.bill_query import bill_query, query_params


def test_dates_are_whole_utc_days_with_both_ends_included() -> None:
    query = bill_query({"since": "2026-12-01", "until": "2026-12-07"})
    assert query.filters.since == datetime(2026, 12, 1, tzinfo=UTC)
    assert query.filters.until == datetime(2026, 12, 8, tzinfo=UTC)
    assert bill_query({"until": "9999-12-31"}).filters.until is None  # no day after it


def test_status_group_key_and_limit() -> None:
    query = bill_query({"status": "5xx", "group": "v1", "key": "7", "limit": "20"})
    assert (query.filters.status_class, query.filters.status) == (5, None)
    assert query.filters.route_group == "" and query.filters.key_id == 7
    assert query.limit == 20
    assert bill_query({"status": "429"}).filters.status == 429
    assert bill_query({"group": "cc-omg"}).filters.route_group == "cc-omg"


def test_links_keep_the_filters_and_change_one_thing() -> None:
    cursor = encode_cursor(Position(datetime(2026, 12, 7, tzinfo=UTC), 9))
    query = bill_query({"model": "a b", "limit": "5", "cursor": cursor, "status": ""})
    assert query.link("/console/bills") == "/console/bills?model=a+b&limit=5"
    assert query.link("/x", paging=True) == f"/x?model=a+b&limit=5&cursor={cursor}"
    assert query.link("/x", limit="", model="") == "/x"
    assert query.after_position == Position(datetime(2026, 12, 7, tzinfo=UTC), 9)


def test_the_first_value_of_a_repeated_parameter_counts() -> None:
    assert query_params([("model", "a"), ("model", "b")]) == {"model": "a"}


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"since": "tomorrow"}, "since"),
        ({"until": "2026-02-30"}, "until"),
        ({"since": "2026-12-02", "until": "2026-12-01"}, "until"),
        ({"key": "-1"}, "key"),
        ({"key": "١٢"}, "key"),  # digits, but not ASCII ones
        ({"key": "4294967296"}, "key"),
        ({"status": "2xx5"}, "status"),
        ({"status": "600"}, "status"),
        ({"group": "V1"}, "group"),
        ({"limit": "201"}, "limit"),
        ({"model": "a\x00"}, "model"),
        ({"cursor": "%%%"}, "cursor"),
        ({"cursor": "MS4xLjE", "before": "MS4xLjE"}, "cursor"),
    ],
)
def test_a_bad_parameter_is_a_400_naming_it(params: dict[str, str], field: str) -> None:
    with pytest.raises(InvalidRequest) as refused:
        bill_query(params)
    assert refused.value.param == field
