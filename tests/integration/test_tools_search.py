"""Google Custom Search and Serper through the gateway: parameters checked against the
documented ranges, channels failed over, answers passed through, cached searches, and
every call billed exactly once at the tool's per-call price (never when it failed)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.fakes.scripted import Step
from tests.fakes.tool_upstreams import FakeGoogle, FakeSerper
from tests.harness import Gateway
from tests.integration.test_money import START, wallet
from tests.integration.tools_kit import (
    GOOGLE_PRICE,
    HIT_PERCENT,
    SERPER_PRICE,
    envelope_error,
    gw,
    records,
    tool_channel,
    tools_gateway,
)

__all__ = ["gw", "tools_gateway"]  # the fixtures, used by name

GOOGLE = "/api/v1/openapi/search/google/v1"
SERPER = "/api/v1/openapi/search/serper/v1"


@pytest.fixture
def google() -> Iterator[FakeGoogle]:
    with FakeGoogle() as fake:
        yield fake


@pytest.fixture
def serper() -> Iterator[FakeSerper]:
    with FakeSerper() as fake:
        yield fake


def _search(gw: Gateway, key: str, **params: str) -> httpx.Response:
    with gw.http(key) as http:
        return http.get(GOOGLE, params={"cache": "false", **params})


def test_google_search_is_passed_through_and_billed_per_call(
    gw: Gateway, google: FakeGoogle
) -> None:
    channel = tool_channel(
        gw, "google_search", google.base_url, "google-key", options={"cx": "engine-1"}
    )
    assert channel["models"] == {"google-search": "google-search"}
    key = gw.make_user_key()
    answer = _search(gw, key.key, q="rust async", num="3", safe="active")
    assert answer.status_code == 200, answer.text
    found = answer.json()  # Google's answer as it came
    assert found["kind"] == "customsearch#search" and len(found["items"]) == 3
    assert found["items"][0]["title"] == "rust async result 1"
    sent = google.seen[-1]
    assert sent.method == "GET" and sent.path == "/customsearch/v1"
    assert sent.query == {
        "key": "google-key",
        "cx": "engine-1",
        "q": "rust async",
        "num": "3",
        "safe": "active",
    }
    assert key.key not in str(sent.headers)  # the caller's key never goes upstream
    (record,) = records(gw, key.user_id)
    assert record["endpoint"] == "tools/search/google" and record["model"] == "google-search"
    assert record["status"] == 200 and record["channel_id"] == channel["id"]
    assert record["official_cost"] == GOOGLE_PRICE and record["amount"] == GOOGLE_PRICE
    assert wallet(gw, key.user_id) == (START - GOOGLE_PRICE, 0)


def test_the_custom_search_path_takes_the_key_and_cx_in_the_query(
    gw: Gateway, google: FakeGoogle
) -> None:
    tool_channel(gw, "google_search", google.base_url, "google-key", options={"cx": "engine-1"})
    key = gw.make_user_key()
    with gw.http() as http:  # no Authorization header: the client's own way
        path = "/api/v1/openapi/search/google/customsearch/v1"
        answer = http.get(path, params={"q": "x", "key": key.key, "cx": "mine:1", "cache": "0"})
    assert answer.status_code == 200, answer.text
    assert google.seen[-1].query["cx"] == "mine:1"
    assert google.seen[-1].query["key"] == "google-key"
    assert records(gw, key.user_id)[0]["amount"] == GOOGLE_PRICE


@pytest.mark.parametrize(
    ("params", "param"),
    [
        ({"num": "11"}, "num"),
        ({"num": "zero"}, "num"),
        ({"start": "0"}, "start"),
        ({"start": "95", "num": "10"}, "start"),  # Google stops at its 100th result
        ({"safe": "medium"}, "safe"),
        ({"dateRestrict": "yesterday"}, "dateRestrict"),
        ({"pages": "2"}, "pages"),  # not one of Google's
        ({"q": ""}, "q"),
    ],
)
def test_google_parameters_out_of_range_are_a_clear_400(
    gw: Gateway, google: FakeGoogle, params: dict[str, str], param: str
) -> None:
    tool_channel(gw, "google_search", google.base_url, "google-key", options={"cx": "e"})
    key = gw.make_user_key()
    body = envelope_error(_search(gw, key.key, **{"q": "x", **params}), 400)
    assert body["errorType"] == "invalid_request_error" and f"'{param}'" in body["message"]
    assert google.seen == []  # refused before any upstream call
    assert wallet(gw, key.user_id) == (START, 0)


def test_missing_query_and_missing_key_are_refused(gw: Gateway) -> None:
    key = gw.make_user_key()
    assert "'q' is required" in envelope_error(_search(gw, key.key), 400)["message"]
    with gw.http() as http:
        envelope_error(http.get(GOOGLE, params={"q": "x"}), 401)


def test_a_failing_channel_fails_over_and_the_call_is_billed_once(
    gw: Gateway, google: FakeGoogle
) -> None:
    with FakeGoogle() as backup:
        first = tool_channel(
            gw, "google_search", google.base_url, "google-key", options={"cx": "e"}
        )
        second = tool_channel(
            gw, "google_search", backup.base_url, "google-key", options={"cx": "e"}, priority=1
        )
        google.script(Step(status=503, json={"error": {"message": "backend error"}}))
        key = gw.make_user_key()
        answer = _search(gw, key.key, q="failover")
        assert answer.status_code == 200, answer.text
        assert len(google.seen) == 1 and len(backup.seen) == 1
    (record,) = records(gw, key.user_id)
    assert record["channel_id"] == second["id"] != first["id"] and record["attempts"] == 2
    assert wallet(gw, key.user_id) == (START - GOOGLE_PRICE, 0)


def test_a_refused_key_rotates_to_the_channels_next_key(gw: Gateway, google: FakeGoogle) -> None:
    tool_channel(
        gw, "google_search", google.base_url, ["revoked-key", "google-key"], options={"cx": "e"}
    )
    key = gw.make_user_key()
    statuses = []
    for _ in range(2):
        assert _search(gw, key.key, q="keys").status_code == 200
        statuses = [seen.answered for seen in google.seen]
    assert 400 in statuses and statuses[-1] == 200  # Google's "API key not valid"
    assert wallet(gw, key.user_id) == (START - 2 * GOOGLE_PRICE, 0)


def test_an_upstream_failure_is_never_billed(gw: Gateway, google: FakeGoogle) -> None:
    tool_channel(gw, "google_search", google.base_url, "google-key", options={"cx": "e"})
    google.script(Step(status=500, json={"error": {"message": "internal"}}))
    key = gw.make_user_key()
    body = envelope_error(_search(gw, key.key, q="broken"), 502)
    assert "internal" not in body["message"]  # the upstream's words stay with the operator
    google.script(Step(status=400, json={"error": {"message": "Invalid Value for lr"}}))
    refused = envelope_error(_search(gw, key.key, q="refused"), 400)
    assert "Invalid Value for lr" in refused["message"]
    google.script(Step(status=200, body=b"<html>not json</html>", content_type="text/html"))
    envelope_error(_search(gw, key.key, q="garbage"), 502)
    failed = records(gw, key.user_id)
    assert sorted(r["status"] for r in failed) == [400, 502, 502]
    assert all(r["amount"] == 0 for r in failed)
    assert wallet(gw, key.user_id) == (START, 0)


def test_no_channel_is_a_404_and_an_empty_balance_a_402(gw: Gateway, google: FakeGoogle) -> None:
    key = gw.make_user_key()
    assert "google-search" in envelope_error(_search(gw, key.key, q="x"), 404)["message"]
    tool_channel(gw, "google_search", google.base_url, "google-key", options={"cx": "e"})
    broke = gw.make_user_key(user_id=int(gw.create_user()["id"]))
    assert envelope_error(_search(gw, broke.key, q="x"), 402)["errorType"]
    assert google.seen == []


def test_key_permissions_allow_or_deny_each_tool(gw: Gateway, google: FakeGoogle) -> None:
    tool_channel(gw, "google_search", google.base_url, "google-key", options={"cx": "e"})
    denied = gw.make_user_key(["gpt-4o-mini"])
    body = envelope_error(_search(gw, denied.key, q="x"), 401)
    assert "google-search" in body["message"]
    allowed = gw.make_user_key(["google-search"], user_id=denied.user_id)
    assert _search(gw, allowed.key, q="x").status_code == 200
    assert len(google.seen) == 1


def test_serper_takes_a_form_and_sends_serpers_json(gw: Gateway, serper: FakeSerper) -> None:
    channel = tool_channel(gw, "serper", serper.base_url, "serper-key")
    key = gw.make_user_key()
    with gw.http(key.key) as http:
        form = {
            "q": "relaygate",
            "gl": "us",
            "hl": "en",
            "num": "20",
            "page": "2",
            "cache": "false",
        }
        answer = http.post(SERPER, data=form)
        assert answer.status_code == 200, answer.text
        assert answer.json()["organic"][0]["title"] == "relaygate on Serper"
        sent = serper.seen[-1]
        assert sent.headers["X-API-KEY"] == "serper-key"
        assert sent.json == {"q": "relaygate", "gl": "us", "hl": "en", "page": 2, "num": 20}
        as_json = http.post(SERPER, json={"q": "json body", "autocorrect": False, "cache": False})
        assert as_json.status_code == 200 and serper.seen[-1].json["autocorrect"] is False
        for bad, param in (({"q": "x", "page": "0"}, "page"), ({"q": "x", "gl": "usa"}, "gl"),
                           ({"q": "x", "num": "101"}, "num"), ({"gl": "us"}, "q")):  # fmt: skip
            body = envelope_error(http.post(SERPER, data=bad), 400)
            assert f"'{param}'" in body["message"]
    assert len(serper.seen) == 2
    billed = records(gw, key.user_id)
    assert [r["amount"] for r in billed if r["status"] == 200] == [SERPER_PRICE] * 2
    assert all(r["channel_id"] == channel["id"] for r in billed if r["status"] == 200)
    assert wallet(gw, key.user_id) == (START - 2 * SERPER_PRICE, 0)


def test_identical_searches_come_from_the_cache_at_the_operators_share(
    gw: Gateway, serper: FakeSerper
) -> None:
    tool_channel(gw, "serper", serper.base_url, "serper-key")
    key = gw.make_user_key()
    with gw.http(key.key) as http:
        first = http.post(SERPER, data={"q": "Cached  Query", "gl": "de"})
        again = http.post(SERPER, data={"gl": "de", "q": " cached query "})  # normalised alike
        other = http.post(SERPER, data={"q": "cached query", "gl": "fr"})  # another search
        fresh = http.post(SERPER, data={"q": "cached query", "gl": "de", "cache": "false"})
    assert [r.status_code for r in (first, again, other, fresh)] == [200] * 4
    assert again.content == first.content and again.headers["x-cache"] == "hit"
    assert "x-cache" not in fresh.headers
    assert len(serper.seen) == 3  # the hit never reached the upstream
    amounts = sorted(r["amount"] for r in records(gw, key.user_id))
    hit = SERPER_PRICE * HIT_PERCENT // 100
    assert amounts == sorted([SERPER_PRICE, hit, SERPER_PRICE, SERPER_PRICE])
    assert wallet(gw, key.user_id) == (START - 3 * SERPER_PRICE - hit, 0)


def test_a_tool_is_not_a_chat_model(gw: Gateway, serper: FakeSerper) -> None:
    tool_channel(gw, "serper", serper.base_url, "serper-key")
    key = gw.make_user_key()
    sdk = gw.openai(key.key)
    assert "serper-search" not in [m.id for m in sdk.models.list()]
    with gw.http(key.key) as http:
        chat = http.post(
            "/v1/chat/completions",
            json={"model": "serper-search", "messages": [{"role": "user", "content": "hi"}]},
        )
    assert chat.status_code == 400 and serper.seen == []


def test_a_channel_test_sends_one_small_search(gw: Gateway, serper: FakeSerper) -> None:
    channel = tool_channel(gw, "serper", serper.base_url, ["serper-key", "wrong"])
    result = gw.op("POST", f"/channels/{channel['id']}/test")
    assert [k["ok"] for k in result["keys"]] == [True, False] and result["ok"] is True
    assert [s.json for s in serper.seen] == [{"q": "relaygate", "num": 1}] * 2
    assert "wrong" not in str(result)
