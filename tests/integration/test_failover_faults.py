"""Fault injection over real HTTP: per-channel timeouts, cut streams and proxies.

Every scenario has two channels serving one model, driven with the official SDKs through
the gateway. The rules shown here (docs/channels.md): a call fails over to the next
channel while nothing has reached the caller (a refused or timed-out connect, no headers
within the channel's ``first_byte_timeout``, a proxy that will not connect); once a
stream has begun, a cut or a silence longer than ``idle_timeout`` ends it with a clean
error and is never spliced with a second stream. A failed call is not billed; a failed
over call is billed once, for the channel that answered. Each failure counts against the
failing channel's breaker.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import anthropic
import httpx
import openai
import pytest

from tests.fakes.anthropic_upstream import Behaviour as AnthropicBehaviour
from tests.fakes.anthropic_upstream import FakeAnthropic
from tests.fakes.openai_upstream import Behaviour, FakeOpenAI
from tests.fakes.proxy import FakeProxy
from tests.fakes.sockets import closed_port, unaccepting_port
from tests.harness import Gateway, IssuedKey
from tests.integration.test_money import START, charges, wallet

USER = [{"role": "user", "content": "hi"}]
PRICE = {"input": "2.00", "output": "8.00"}  # 1000 in + 500 out = 2000 + 4000 = 6000
TOKENS = {"prompt_tokens": 1000, "completion_tokens": 500}
COST = 6000


@pytest.fixture
def second() -> Iterator[FakeOpenAI]:
    """The fallback upstream, apart from ``fake`` so its request count is its own."""
    with FakeOpenAI() as server:
        yield server


@pytest.fixture
def gw(gateway_factory: Callable[..., Gateway]) -> Gateway:
    # A breaker that stays closed through a test: each failure shows as a count.
    return gateway_factory(breaker_threshold=50, stream_keepalive_interval=0.1)


def _kind(upstream: Any) -> dict[str, Any]:
    if isinstance(upstream, FakeAnthropic):
        return {"type": "anthropic", "base_url": upstream.url}
    return {}


def _pair(
    gw: Gateway,
    first: Any,
    second: Any,
    options: dict[str, Any],
    **first_fields: Any,
) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """A priced model served by ``first`` (with ``options``), then by ``second``."""
    model = f"ff-{uuid.uuid4().hex[:8]}"
    fields = {**_kind(first), **first_fields}
    one = gw.add_channel(first, models=[model], priority=0, options=options, **fields)
    two = gw.add_channel(second, models=[model], priority=1, **_kind(second))
    gw.op("PUT", f"/models/{model}", json=PRICE)
    return model, one, two


def _health(gw: Gateway, channel_id: int) -> dict[str, Any]:
    rows: list[dict[str, Any]] = gw.op("GET", "/channels/health")
    return next(row for row in rows if row["id"] == channel_id)


def _only_record(gw: Gateway, key: IssuedKey) -> dict[str, Any]:
    records = gw.wait_for_records(user_id=key.user_id)
    assert len(records) == 1, records
    return records[0]


def _assert_failed_over(gw: Gateway, key: IssuedKey, failed: dict[str, Any], served: int) -> None:
    """One record, from the second channel, billed exactly once; the first one's breaker
    counted the failure."""
    record = _only_record(gw, key)
    assert (record["status"], record["channel_id"]) == (200, served), record
    assert (record["official_cost"], record["amount"]) == (COST, COST)
    assert record["attempts"] == 2
    assert wallet(gw, key.user_id) == (START - COST, 0)
    assert [entry["amount"] for entry in charges(gw, key.user_id)] == [-COST]
    health = _health(gw, failed["id"])
    assert (health["consecutive_failures"], health["state"]) == (1, "closed"), health


def _assert_failed_unbilled(gw: Gateway, key: IssuedKey, second: Any, status: int = 502) -> None:
    """The stream ended in an error: recorded with ``status`` (502 for a cut, 504 for a
    timeout), not billed, nothing spliced in."""
    assert second.requests == [], "a second stream was started after the first had begun"
    record = _only_record(gw, key)
    assert record["status"] == status and record["error"], record
    assert (record["amount"], record["free_amount"], record["package_amount"]) == (0, 0, 0)
    assert record["attempts"] == 1
    assert wallet(gw, key.user_id) == (START, 0)
    assert charges(gw, key.user_id) == []


# ------------------------------------------------------------ before the first byte
@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
def test_slow_first_byte_fails_over_to_the_next_channel(
    gw: Gateway, fake: FakeOpenAI, second: FakeOpenAI, stream: bool
) -> None:
    fake.default = Behaviour(latency=5)
    second.default = Behaviour(text="From the second channel.", **TOKENS)  # type: ignore[arg-type]
    model, slow, fast = _pair(gw, fake, second, {"first_byte_timeout": 0.3})
    key = gw.make_user_key()
    sdk = gw.openai(key.key)
    started = time.monotonic()
    if stream:
        chunks = sdk.chat.completions.create(model=model, messages=USER, stream=True)  # type: ignore[arg-type]
        text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    else:
        answer = sdk.chat.completions.create(model=model, messages=USER)  # type: ignore[arg-type]
        text = answer.choices[0].message.content or ""
    assert text == "From the second channel."
    assert time.monotonic() - started < 3  # the channel's 0.3 s, not the gateway's 600 s
    assert len(fake.requests) == 1 and len(second.requests) == 1
    _assert_failed_over(gw, key, slow, fast["id"])


def test_connect_timeout_fails_over(gw: Gateway, fake: FakeOpenAI, second: FakeOpenAI) -> None:
    """A channel whose host never completes the handshake is given up after its own
    ``connect_timeout`` (a listen queue left full on loopback: deterministic offline)."""
    second.default = Behaviour(**TOKENS)  # type: ignore[arg-type]
    with unaccepting_port() as port:
        assert port is not None, "the kernel accepted every connection: no full backlog"
        base_url = f"http://127.0.0.1:{port}/v1"
        model, dead, live = _pair(gw, fake, second, {"connect_timeout": 0.3}, base_url=base_url)
        key = gw.make_user_key()
        started = time.monotonic()
        answer = gw.openai(key.key).chat.completions.create(model=model, messages=USER)  # type: ignore[arg-type]
        assert answer.choices[0].message.content == second.default.text
        assert time.monotonic() - started < 3  # the gateway-wide connect timeout is 10 s
    _assert_failed_over(gw, key, dead, live["id"])


def test_refused_connection_fails_over(gw: Gateway, fake: FakeOpenAI, second: FakeOpenAI) -> None:
    second.default = Behaviour(**TOKENS)  # type: ignore[arg-type]
    base_url = f"http://127.0.0.1:{closed_port()}/v1"
    model, dead, live = _pair(gw, fake, second, {}, base_url=base_url)
    key = gw.make_user_key()
    answer = gw.openai(key.key).chat.completions.create(model=model, messages=USER)  # type: ignore[arg-type]
    assert answer.choices[0].message.content == second.default.text
    _assert_failed_over(gw, key, dead, live["id"])


def test_a_whole_answer_cut_before_its_end_fails_over(
    gw: Gateway, fake: FakeOpenAI, second: FakeOpenAI
) -> None:
    """Headers came, the body broke off: nothing reached the caller yet, so the call is
    still a failed attempt and the next channel serves it."""
    fake.default = Behaviour(truncate_body=True, **TOKENS)  # type: ignore[arg-type]
    second.default = Behaviour(text="Whole, from the second.", **TOKENS)  # type: ignore[arg-type]
    model, cut, whole = _pair(gw, fake, second, {})
    key = gw.make_user_key()
    answer = gw.openai(key.key).chat.completions.create(model=model, messages=USER)  # type: ignore[arg-type]
    assert answer.choices[0].message.content == "Whole, from the second."
    _assert_failed_over(gw, key, cut, whole["id"])


@pytest.mark.parametrize("status", [401, 403])
def test_a_channel_whose_key_is_refused_fails_over(
    gw: Gateway, fake: FakeOpenAI, second: FakeOpenAI, status: int
) -> None:
    fake.default = Behaviour(status=status)
    second.default = Behaviour(**TOKENS)  # type: ignore[arg-type]
    model, refused, live = _pair(gw, fake, second, {})
    key = gw.make_user_key()
    answer = gw.openai(key.key).chat.completions.create(model=model, messages=USER)  # type: ignore[arg-type]
    assert answer.choices[0].message.content == second.default.text
    _assert_failed_over(gw, key, refused, live["id"])


def test_an_upstream_429_on_the_last_channel_is_the_gateways_own(
    gw: Gateway, fake: FakeOpenAI, second: FakeOpenAI
) -> None:
    """Both channels rate-limited: a clean 429 with the upstream's retry-after, never the
    upstream's text (OpenAI's names the operator's organisation), and nothing billed."""
    secret = {"error": {"message": "Rate limit reached in organization org-SECRET123"}}
    for upstream in (fake, second):
        upstream.default = Behaviour(status=429, error_body=secret, headers={"Retry-After": "4"})
    model, _, _ = _pair(gw, fake, second, {})
    key = gw.make_user_key()
    with gw.http(key.key) as http:
        response = http.post("/v1/chat/completions", json={"model": model, "messages": USER})
    assert response.status_code == 429 and response.headers["retry-after"] == "4"
    assert "org-SECRET123" not in response.text
    assert response.json()["error"]["code"] == "upstream_rate_limited"
    record = _only_record(gw, key)
    assert (record["status"], record["attempts"], record["amount"]) == (429, 2, 0)


# ------------------------------------------------------------- after the first byte
def _openai_stream(gw: Gateway, key: str, model: str) -> tuple[str, BaseException | None]:
    """The text an openai SDK stream delivered, and the error that ended it."""
    text = []
    stream = gw.openai(key).chat.completions.create(model=model, messages=USER, stream=True)  # type: ignore[arg-type]
    try:
        for chunk in stream:
            text.extend(choice.delta.content or "" for choice in chunk.choices)
    except openai.APIError as exc:
        return "".join(text), exc
    return "".join(text), None


def _anthropic_stream(gw: Gateway, key: str, model: str) -> tuple[str, BaseException | None]:
    """The text an anthropic SDK stream delivered, and the error (``error`` event) that
    ended it."""
    client = anthropic.Anthropic(base_url=gw.url, api_key=key, max_retries=0)
    text = []
    stream = client.messages.create(model=model, max_tokens=100, messages=USER, stream=True)  # type: ignore[arg-type]
    try:
        for event in stream:
            if event.type == "content_block_delta" and event.delta.type == "text_delta":
                text.append(event.delta.text)
    except anthropic.APIError as exc:
        return "".join(text), exc
    return "".join(text), None


def test_stream_cut_midway_ends_in_an_error_openai(
    gw: Gateway, fake: FakeOpenAI, second: FakeOpenAI
) -> None:
    fake.default = Behaviour(text="one two three four five six", break_after=3, **TOKENS)  # type: ignore[arg-type]
    model, cut, _ = _pair(gw, fake, second, {})
    key = gw.make_user_key()
    text, error = _openai_stream(gw, key.key, model)
    assert text == "one two three"
    assert isinstance(error, openai.APIError) and str(fake.port) not in str(error)
    _assert_failed_unbilled(gw, key, second)
    health = _health(gw, cut["id"])  # the cut came after the first byte: still a failure
    assert (health["calls"], health["errors"], health["consecutive_failures"]) == (1, 1, 1)


def test_stream_cut_midway_ends_in_an_error_anthropic(gw: Gateway) -> None:
    with FakeAnthropic() as first, FakeAnthropic() as second:
        first.default = AnthropicBehaviour(text="one two three four five six", break_after=3)
        model, _, _ = _pair(gw, first, second, {})
        key = gw.make_user_key()
        text, error = _anthropic_stream(gw, key.key, model)
        assert text == "one two three"
        assert isinstance(error, anthropic.APIStatusError), error
        assert str(first.port) not in str(error)
        _assert_failed_unbilled(gw, key, second)


@pytest.mark.parametrize("sdk", ["openai", "anthropic"])
def test_stream_silent_past_the_idle_timeout_ends_in_an_error(
    gw: Gateway, fake: FakeOpenAI, second: FakeOpenAI, sdk: str
) -> None:
    """The channel's ``idle_timeout`` (0.4 s) cuts the stall, long before the gateway-wide
    read timeout (600 s); the anthropic SDK reads the OpenAI stream translated."""
    fake.default = Behaviour(text="one two three four", stall_after=2, stall_seconds=8)
    model, stalled, _ = _pair(gw, fake, second, {"idle_timeout": 0.4})
    key = gw.make_user_key()
    started = time.monotonic()
    read = _openai_stream if sdk == "openai" else _anthropic_stream
    text, error = read(gw, key.key, model)
    assert time.monotonic() - started < 4
    assert text == "one two"
    assert isinstance(error, openai.APIError if sdk == "openai" else anthropic.APIStatusError)
    _assert_failed_unbilled(gw, key, second, status=504)  # a timeout, not a cut
    assert _health(gw, stalled["id"])["errors"] == 1


# ------------------------------------------------------------------------ proxies
def test_channel_reaches_its_upstream_through_its_proxy(gw: Gateway, fake: FakeOpenAI) -> None:
    fake.default = Behaviour(**TOKENS)  # type: ignore[arg-type]
    with FakeProxy(auth="relay:pa ss") as proxy:
        url = proxy.url.replace("pa ss", "pa%20ss")
        model = f"px-{uuid.uuid4().hex[:8]}"
        gw.add_channel(fake, models=[model], options={"proxy_url": url})
        gw.op("PUT", f"/models/{model}", json=PRICE)
        key = gw.make_user_key()
        sdk = gw.openai(key.key)
        answer = sdk.chat.completions.create(model=model, messages=USER)  # type: ignore[arg-type]
        assert answer.choices[0].message.content == fake.default.text
        chunks = sdk.chat.completions.create(model=model, messages=USER, stream=True)  # type: ignore[arg-type]
        assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert [(r.method, r.target) for r in proxy.requests] == [
        ("POST", f"{fake.base_url}/chat/completions")
    ] * 2
    assert {r.headers["proxy-authorization"] for r in proxy.requests} == {
        "Basic cmVsYXk6cGEgc3M="  # relay:pa ss
    }
    assert len(fake.requests) == 2
    assert all("Proxy-Authorization" not in r.headers for r in fake.requests)
    assert all(r["status"] == 200 and r["amount"] == COST for r in gw.usage(user_id=key.user_id))


def test_a_wrong_proxy_port_fails_over_to_a_direct_channel(
    gw: Gateway, fake: FakeOpenAI, second: FakeOpenAI
) -> None:
    second.default = Behaviour(**TOKENS)  # type: ignore[arg-type]
    options = {"proxy_url": f"http://127.0.0.1:{closed_port()}"}
    model, proxied, direct = _pair(gw, fake, second, options)
    key = gw.make_user_key()
    answer = gw.openai(key.key).chat.completions.create(model=model, messages=USER)  # type: ignore[arg-type]
    assert answer.choices[0].message.content == second.default.text
    assert fake.requests == []
    _assert_failed_over(gw, key, proxied, direct["id"])


def test_a_proxy_refusing_connect_fails_over(
    gw: Gateway, fake: FakeOpenAI, second: FakeOpenAI
) -> None:
    """An https channel asks its proxy for a CONNECT tunnel; a 403 counts as a failed
    connect: the call fails over, and the proxy saw only the CONNECT (never the key)."""
    second.default = Behaviour(**TOKENS)  # type: ignore[arg-type]
    with FakeProxy(auth="relay:pw", refuse=403) as proxy:
        base_url = f"https://127.0.0.1:{fake.port}/v1"
        options = {"proxy_url": proxy.url}
        model, proxied, direct = _pair(gw, fake, second, options, base_url=base_url)
        key = gw.make_user_key()
        answer = gw.openai(key.key).chat.completions.create(model=model, messages=USER)  # type: ignore[arg-type]
        assert answer.choices[0].message.content == second.default.text
    [tunnel] = proxy.requests
    assert (tunnel.method, tunnel.target) == ("CONNECT", f"127.0.0.1:{fake.port}")
    assert tunnel.headers["proxy-authorization"] == "Basic cmVsYXk6cHc="  # relay:pw
    assert not tunnel.tunnelled
    _assert_failed_over(gw, key, proxied, direct["id"])


@pytest.mark.parametrize(
    "proxy_url", ["https://proxy:3128", "http://proxy", "socks5://proxy:1080", "http://p:1/x"]
)
def test_operator_api_refuses_an_unusable_proxy_url(gw: Gateway, proxy_url: str) -> None:
    body = {
        "name": f"bad-{uuid.uuid4().hex[:6]}", "type": "openai", "base_url": "http://x/v1",
        "api_key": "sk-x", "models": ["m"], "options": {"proxy_url": proxy_url},
    }  # fmt: skip
    response: httpx.Response = gw.operator.post("/channels", json=body)
    assert response.status_code == 400, response.text
    message = response.json()["message"]
    assert "proxy_url" in message and "host:port" in message


def test_a_channel_that_cuts_every_stream_opens_its_breaker(
    gateway_factory: Callable[..., Gateway], fake: FakeOpenAI, second: FakeOpenAI
) -> None:
    """A stream counts as a success only when it ends well: the first byte alone does not
    reset the channel's failures, so cut after cut opens the breaker and calls move on."""
    gw = gateway_factory(breaker_threshold=3, breaker_cooldown=3600)
    fake.default = Behaviour(text="one two three four", break_after=2)
    second.default = Behaviour(text="steady")
    model, cutting, _ = _pair(gw, fake, second, {})
    key = gw.make_user_key()
    for _ in range(3):
        text, error = _openai_stream(gw, key.key, model)
        assert (text, error is not None) == ("one two", True)
    health = _health(gw, cutting["id"])
    assert (health["state"], health["consecutive_failures"], health["calls"]) == ("open", 3, 3)
    assert _openai_stream(gw, key.key, model) == ("steady", None)  # the breaker passed it over
    assert len(fake.requests) == 3 and len(second.requests) == 1
