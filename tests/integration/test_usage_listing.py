"""The operator's usage listing: keyset pages, filters, time bounds and refusals, on
SQLite and PostgreSQL.

Rows are written straight into the gateway's database, with chosen times (ties
included) and inserted out of time order, so the listing's order (``created_at``, then
``id``, newest first) is tested where it differs from insertion order. Their times lie
in a window of their own, far from the rows other tests write.
"""

from __future__ import annotations

import base64
import random
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from relaygate.billing.models import UsageRecord
from relaygate.db.engine import Database
from tests.harness import Gateway, run_sync

STATUSES = (200, 200, 429, 500, 200, 502)
N = 26


@dataclass(frozen=True)
class Row:
    request_id: str
    created_at: datetime
    user_id: int
    key_id: int
    model: str
    status: int


@dataclass
class Dataset:
    rows: list[Row]  # newest first, as the listing must return them
    user_id: int
    keys: tuple[int, int, int]  # two live keys and one the keys table lacks (deleted)
    start: datetime
    models: tuple[str, str]


def _insert(db_url: str, rows: list[Row]) -> None:
    async def insert() -> None:
        db = Database(db_url)
        try:
            async with db.session() as session, session.begin():
                session.add_all(
                    UsageRecord(
                        request_id=r.request_id,
                        created_at=r.created_at,
                        user_id=r.user_id,
                        key_id=r.key_id,
                        model=r.model,
                        endpoint="chat/completions",
                        status=r.status,
                    )
                    for r in rows
                )
        finally:
            await db.dispose()

    run_sync(insert())


def _dataset(gw: Gateway) -> Dataset:
    user_id = int(gw.create_user()["id"])
    live = [int(gw.op("POST", f"/users/{user_id}/keys", json={})["id"]) for _ in range(2)]
    gone = 2_000_000_000 + random.randrange(100_000_000)  # a key the keys table lacks
    keys = (live[0], live[1], gone)
    tag = uuid.uuid4().hex[:8]
    models = (f"list-a-{tag}", f"list-b-{tag}")
    # a window no other test writes in: a random day in 2001
    start = datetime(2001, 1, 1, tzinfo=UTC) + timedelta(days=random.randrange(365))
    rows = []
    for i in range(N):
        second = 10 if 10 <= i <= 13 else i  # four rows share one time: ids break the tie
        rows.append(
            Row(
                request_id=f"req_list_{tag}_{i}",
                created_at=start + timedelta(seconds=second, microseconds=137 * second),
                user_id=user_id,
                key_id=keys[2] if i >= N - 3 else keys[i % 2],
                model=models[i % 3 == 0],
                status=STATUSES[i % len(STATUSES)],
            )
        )
    shuffled = rows[:]
    random.Random(7).shuffle(shuffled)  # ids follow insertion: not the time order
    _insert(gw.db_url, shuffled)
    listed = _walk(gw, {"user_id": user_id}, limit=1000)
    order = [r["request_id"] for r in listed]
    by_id = {r.request_id: r for r in rows}
    return Dataset([by_id[rid] for rid in order], user_id, keys, start, models)


def _get(gw: Gateway, **params: Any) -> httpx.Response:
    return gw.operator.get("/usage", params=params)


def _walk(gw: Gateway, params: dict[str, Any], limit: int) -> list[dict[str, Any]]:
    """Follow next_cursor to the end, checking each page's has_more and size."""
    seen: list[dict[str, Any]] = []
    cursor = None
    for _ in range(1000):
        query = {**params, "limit": limit, **({"cursor": cursor} if cursor else {})}
        response = _get(gw, **query)
        assert response.status_code == 200, response.text
        body = response.json()
        page = body["data"]
        seen += page
        assert body["has_more"] is (body["next_cursor"] is not None)
        if not body["has_more"]:
            assert len(page) <= limit
            return seen
        assert len(page) == limit
        cursor = body["next_cursor"]
    raise AssertionError("the listing never ended")


def _key(row: dict[str, Any]) -> tuple[datetime, int]:
    return datetime.fromisoformat(row["created_at"]), row["id"]


def test_pages_return_every_row_once_newest_first(gateway: Gateway) -> None:
    data = _dataset(gateway)
    everything = _walk(gateway, {"user_id": data.user_id}, limit=1000)
    assert len(everything) == N
    keys = [_key(r) for r in everything]
    assert keys == sorted(keys, reverse=True)  # (created_at, id) descending
    assert len({k[0] for k in keys}) == N - 3  # the tie is really there
    tied = [r["id"] for r in everything if _key(r)[0] == keys[N - 1 - 10][0]]
    assert len(tied) == 4 and tied == sorted(tied, reverse=True)
    expected = [r["request_id"] for r in everything]
    for limit in (1, 3, 4, 13, N, N + 1):  # 13 divides N: no empty last page
        walked = _walk(gateway, {"user_id": data.user_id}, limit=limit)
        assert [r["request_id"] for r in walked] == expected, limit
    # the time window alone (no user): the same rows, through the time index
    window = {
        "since": data.start.isoformat(),
        "until": (data.start + timedelta(hours=1)).isoformat(),
    }
    assert [r["request_id"] for r in _walk(gateway, window, limit=5)] == expected


def test_filters_combine(gateway: Gateway) -> None:
    data = _dataset(gateway)
    k1, k2, gone = data.keys
    a, b = data.models
    window = {
        "since": data.start.isoformat(),
        "until": (data.start + timedelta(days=1)).isoformat(),
    }
    cases: list[tuple[dict[str, Any], Any]] = [
        ({"key_id": k1}, lambda r: r.key_id == k1),  # a key alone: through its user
        ({"key_id": gone}, lambda r: r.key_id == gone),  # a deleted key's rows remain
        ({"user_id": data.user_id, "model": a}, lambda r: r.model == a),
        ({"key_id": k2, "model": b}, lambda r: r.key_id == k2 and r.model == b),
        ({"user_id": data.user_id, "status": 429}, lambda r: r.status == 429),
        ({**window, "status_class": "5xx"}, lambda r: r.status >= 500),
        ({**window, "status_class": "2xx", "model": b}, lambda r: r.status == 200 and r.model == b),
        ({"key_id": k1, "status_class": "5xx"}, lambda r: r.key_id == k1 and r.status >= 500),
        ({**window, "status": 502, "key_id": k2}, lambda r: r.status == 502 and r.key_id == k2),
        ({"user_id": data.user_id, "status_class": "3xx"}, lambda r: False),
        ({"user_id": data.user_id, "key_id": k1 + 10_000}, lambda r: False),
    ]
    for params, keep in cases:
        expected = [r.request_id for r in data.rows if keep(r)]
        listed = _walk(gateway, params, limit=2)
        assert [r["request_id"] for r in listed] == expected, params
    assert any(r.key_id == gone for r in data.rows)


def test_since_is_inclusive_and_until_exclusive(gateway: Gateway) -> None:
    data = _dataset(gateway)
    oldest_first = data.rows[::-1]
    pivot = oldest_first[5].created_at  # a time shared by no other row
    tie = oldest_first[10].created_at  # shared by four rows

    def listed(**params: Any) -> list[str]:
        return [r["request_id"] for r in _walk(gateway, {"user_id": data.user_id, **params}, 4)]

    def rows(keep: Any) -> list[str]:
        return [r.request_id for r in data.rows if keep(r.created_at)]

    assert listed(since=pivot.isoformat()) == rows(lambda t: t >= pivot)
    assert listed(until=pivot.isoformat()) == rows(lambda t: t < pivot)
    assert listed(since=tie.isoformat(), until=(tie + timedelta(microseconds=1)).isoformat()) == (
        rows(lambda t: t == tie)
    )
    assert len(rows(lambda t: t == tie)) == 4
    # unix seconds, with a fraction, and an ISO time with an offset and no zone
    seconds = f"{pivot.timestamp():.6f}"
    assert listed(since=seconds) == rows(lambda t: t >= pivot)
    plus_two = pivot.astimezone(UTC).replace(tzinfo=None).isoformat()
    assert listed(until=plus_two) == rows(lambda t: t < pivot)
    east = pivot.astimezone(datetime.now(UTC).astimezone().tzinfo).isoformat()
    assert listed(since=east) == rows(lambda t: t >= pivot)
    whole_second = str(int(data.start.timestamp()) + 3)  # start + 3 s + 411 µs is after it
    assert listed(until=whole_second) == rows(lambda t: t < data.start + timedelta(seconds=3))


def test_offset_is_deprecated_but_still_skips(gateway: Gateway) -> None:
    data = _dataset(gateway)
    page = _get(gateway, user_id=data.user_id, offset=3, limit=2).json()
    assert [r["request_id"] for r in page["data"]] == [r.request_id for r in data.rows[3:5]]
    assert page["has_more"] is True
    after = _get(gateway, user_id=data.user_id, cursor=page["next_cursor"], limit=100).json()
    assert [r["request_id"] for r in after["data"]] == [r.request_id for r in data.rows[5:]]


def _b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


BAD = [
    ({"cursor": "not-a-cursor"}, "cursor"),
    ({"cursor": _b64("1.12")}, "cursor"),  # not the shape
    ({"cursor": _b64("2.1.2")}, "cursor"),  # another version
    ({"cursor": "x" * 65}, "cursor"),
    ({"cursor": _b64("1.999999999999999999.5")}, "cursor"),  # beyond year 9999
    ({"limit": 0}, "limit"),
    ({"limit": 1001}, "limit"),
    ({"limit": "ten"}, "limit"),
    ({"limit": "99999999999999999999"}, "limit"),
    ({"since": "yesterday"}, "since"),
    ({"until": "1e999"}, "until"),
    ({"since": "99999999999999999999"}, "since"),
    ({"since": "2026-12-07T00:00:00Z", "until": "2026-12-06T00:00:00Z"}, "until"),
    ({"since": "2026-12-07T00:00:00Z", "until": "2026-12-07T00:00:00Z"}, "until"),
    ({"user_id": "99999999999999999999"}, "user_id"),
    ({"key_id": 0}, "key_id"),
    ({"key_id": 2**31}, "key_id"),
    ({"status": 99}, "status"),
    ({"status": 600}, "status"),
    ({"status_class": "6xx"}, "status_class"),
    ({"status_class": "2XX"}, "status_class"),
    ({"offset": -1}, "offset"),
    ({"offset": "99999999999999999999"}, "offset"),
    ({"model": "m" * 201}, "model"),
    ({"model": "a\x00b"}, "model"),  # PostgreSQL text cannot hold NUL
    ({"request_id": "req_\x00"}, "request_id"),
]


@pytest.mark.parametrize(("params", "name"), BAD, ids=[str(p) for p, _ in BAD])
def test_bad_parameters_are_a_400_naming_them(
    gateway: Gateway, params: dict[str, Any], name: str
) -> None:
    response = _get(gateway, **params)
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["statusCode"] == 400 and body["data"] is None
    assert body["errorType"] == "invalid_request_error"
    assert name in body["message"], body


def test_the_openapi_document_describes_the_listing(sqlite_gateway: Gateway) -> None:
    document = httpx.get(sqlite_gateway.url + "/openapi.json", timeout=30).json()
    operation = document["paths"]["/api/v1/operator/usage"]["get"]
    params = {p["name"]: p for p in operation["parameters"]}
    expected = {
        "cursor", "limit", "since", "until", "user_id", "key_id", "model", "status",
        "status_class", "request_id", "offset",
    }  # fmt: skip
    assert expected == set(params)
    for name, param in params.items():
        assert param["in"] == "query" and param.get("description"), name
    assert params["offset"]["deprecated"] is True
    assert params["limit"]["schema"]["maximum"] == 1000
    assert params["limit"]["schema"]["default"] == 100
    assert "unix seconds" in params["since"]["description"]
    assert {"200", "400", "401", "403"} <= set(operation["responses"])
    page = operation["responses"]["200"]["content"]["application/json"]["schema"]
    name = page["$ref"].rsplit("/", 1)[1]
    fields = document["components"]["schemas"][name]["properties"]
    assert {"data", "next_cursor", "has_more"} <= set(fields)


def test_the_listing_needs_the_operator(gateway: Gateway) -> None:
    key = gateway.make_user_key(is_admin=True)
    with gateway.http(key.key) as http:
        assert http.get("/api/v1/operator/usage").status_code == 403
    assert httpx.get(gateway.url + "/api/v1/operator/usage").status_code == 401
