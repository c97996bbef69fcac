"""Upstream secrets never reach a client, a usage record or a log (issue 11, §1).

The fakes here answer like a careless upstream: an error quoting the key the request
carried (``Incorrect API key provided: sk-…``) and the fake's own host:port
(``echo_secrets``). Every route that passes an upstream's text on is driven with the
official SDKs, translated and not, stream and not; the client's error, the usage
record's ``error`` and a DEBUG log of the whole test hold neither the key nor the
address. The channel is created inside each test, so its ``INSERT`` is in the log too.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Iterator
from typing import Any

import anthropic
import openai
import pytest

from tests.fakes.anthropic_upstream import Behaviour as AnthropicBehaviour
from tests.fakes.anthropic_upstream import FakeAnthropic
from tests.fakes.openai_upstream import Behaviour, FakeOpenAI
from tests.fakes.responses_upstream import FakeOpenAIResponses
from tests.harness import Gateway, IssuedKey

USER: Any = [{"role": "user", "content": "hi"}]


@pytest.fixture
def fake_anthropic() -> Iterator[FakeAnthropic]:
    with FakeAnthropic() as fake:
        yield fake



@pytest.fixture
def debug_log(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    """Every logger at DEBUG for the whole test (SQLAlchemy's statements included)."""
    caplog.set_level(logging.DEBUG)
    return caplog


class Leaky:
    """A channel on a fake that leaks, and what must never be seen of it."""

    def __init__(self, gw: Gateway, fake: Any, *, kind: str = "openai", **extra: Any) -> None:
        self.key = f"sk-proj-{uuid.uuid4().hex}{uuid.uuid4().hex[:8]}"
        self.model = f"leaky-{uuid.uuid4().hex[:8]}"
        base = fake.url if kind == "anthropic" else fake.base_url
        self.port = base.split(":")[2].split("/")[0]
        gw.add_channel(
            fake, models=[self.model], api_key=self.key, type=kind, base_url=base, **extra
        )
        self.user: IssuedKey = gw.make_user_key()
        self.gw = gw

    def assert_clean(self, text: str) -> None:
        assert self.key not in text
        assert self.key[8:20] not in text  # no part of it either
        assert f"127.0.0.1:{self.port}" not in text
        assert f":{self.port}" not in text

    def records(self, count: int) -> list[dict[str, Any]]:
        deadline = time.monotonic() + 10
        while True:
            records = self.gw.usage(user_id=self.user.user_id)
            if len(records) >= count or time.monotonic() > deadline:
                return records
            time.sleep(0.05)

    def assert_records_clean(self, count: int, failed: int | None = None) -> None:
        """``count`` records, ``failed`` of them (all by default) with a masked error."""
        records = self.records(count)
        assert len(records) == count
        errors = [r["error"] for r in records if r["error"]]
        assert len(errors) == (count if failed is None else failed), records
        for error in errors:
            self.assert_clean(error)

    def openai(self) -> openai.OpenAI:
        return self.gw.openai(self.user.key)

    def anthropic(self) -> anthropic.Anthropic:
        return anthropic.Anthropic(base_url=self.gw.url, api_key=self.user.key, max_retries=0)


def _openai_error(call: Any) -> openai.APIStatusError:
    with pytest.raises(openai.APIStatusError) as info:
        call()
    return info.value


def _anthropic_error(call: Any) -> anthropic.APIStatusError:
    with pytest.raises(anthropic.APIStatusError) as info:
        call()
    return info.value


def test_openai_routes_same_dialect(
    gateway: Gateway, fake: FakeOpenAI, debug_log: pytest.LogCaptureFixture
) -> None:
    """On both databases: PostgreSQL's driver and SQLAlchemy log no statement values."""
    leaky = Leaky(gateway, fake)
    fake.default = Behaviour(status=400, echo_secrets=True)
    client = leaky.openai()
    calls = [
        lambda: client.chat.completions.create(model=leaky.model, messages=USER),
        lambda: client.chat.completions.create(model=leaky.model, messages=USER, stream=True),
        lambda: client.completions.create(model=leaky.model, prompt="hi"),
        lambda: client.embeddings.create(model=leaky.model, input="hi"),
    ]
    for call in calls:
        error = _openai_error(call)
        assert error.status_code == 400
        body = error.response.json()  # still the dialect's own error shape
        assert set(body["error"]) >= {"message", "type"}
        assert "Incorrect API key provided" in body["error"]["message"]
        leaky.assert_clean(error.response.text)
    assert fake.requests[-1].status == 400  # the upstream did leak
    assert leaky.key in fake.requests[-1].response_body.decode()
    leaky.assert_records_clean(len(calls))
    assert leaky.key not in debug_log.text


def test_openai_client_on_an_anthropic_channel(
    sqlite_gateway: Gateway, fake_anthropic: FakeAnthropic, debug_log: pytest.LogCaptureFixture
) -> None:
    leaky = Leaky(sqlite_gateway, fake_anthropic, kind="anthropic")
    fake_anthropic.default = AnthropicBehaviour(status=400, echo_secrets=True)
    client = leaky.openai()
    for stream in (False, True):
        error = _openai_error(
            lambda s=stream: client.chat.completions.create(
                model=leaky.model, messages=USER, stream=s
            )
        )
        assert error.status_code == 400
        assert "Incorrect API key provided" in error.response.json()["error"]["message"]
        leaky.assert_clean(error.response.text)
    leaky.assert_records_clean(2)
    assert leaky.key not in debug_log.text


def test_anthropic_routes_same_dialect_and_translated(
    sqlite_gateway: Gateway,
    fake: FakeOpenAI,
    fake_anthropic: FakeAnthropic,
    debug_log: pytest.LogCaptureFixture,
) -> None:
    native = Leaky(sqlite_gateway, fake_anthropic, kind="anthropic")
    translated = Leaky(sqlite_gateway, fake)
    fake_anthropic.default = AnthropicBehaviour(status=400, echo_secrets=True)
    fake.default = Behaviour(status=400, echo_secrets=True)
    for leaky in (native, translated):
        client = leaky.anthropic()
        for stream in (False, True):
            error = _anthropic_error(
                lambda c=client, s=stream, m=leaky.model: c.messages.create(
                    model=m, max_tokens=16, messages=USER, stream=s
                )
            )
            assert error.status_code == 400
            body = error.response.json()
            assert body["type"] == "error" and "Incorrect API key" in body["error"]["message"]
            leaky.assert_clean(error.response.text)
        leaky.assert_records_clean(2)
        assert leaky.key not in debug_log.text


def test_responses_route_translated_and_native(
    sqlite_gateway: Gateway,
    fake: FakeOpenAI,
    native: FakeOpenAIResponses,
    debug_log: pytest.LogCaptureFixture,
) -> None:
    translated = Leaky(sqlite_gateway, fake)
    passthrough = Leaky(sqlite_gateway, native, options={"responses_api": True})
    fake.default = native.default = Behaviour(status=400, echo_secrets=True)
    for leaky in (translated, passthrough):
        client = leaky.openai()
        for stream in (False, True):
            error = _openai_error(
                lambda c=client, s=stream, m=leaky.model: c.responses.create(
                    model=m, input="hi", stream=s
                )
            )
            assert error.status_code == 400
            assert "Incorrect API key provided" in error.response.json()["error"]["message"]
            leaky.assert_clean(error.response.text)
        leaky.assert_records_clean(2)
        assert leaky.key not in debug_log.text


def test_background_response_failure_is_stored_masked(
    sqlite_gateway: Gateway, fake: FakeOpenAI, debug_log: pytest.LogCaptureFixture
) -> None:
    leaky = Leaky(sqlite_gateway, fake)
    fake.default = Behaviour(status=400, echo_secrets=True)
    client = leaky.openai()
    started = client.responses.create(model=leaky.model, input="hi", background=True)
    deadline = time.monotonic() + 10
    response = client.responses.retrieve(started.id)
    while response.status in ("queued", "in_progress") and time.monotonic() < deadline:
        time.sleep(0.05)
        response = client.responses.retrieve(started.id)
    assert response.status == "failed"
    assert response.error is not None and "Incorrect API key" in response.error.message
    leaky.assert_clean(response.model_dump_json())
    leaky.assert_records_clean(1)
    assert leaky.key not in debug_log.text


def test_errors_reported_mid_stream(
    sqlite_gateway: Gateway,
    fake: FakeOpenAI,
    fake_anthropic: FakeAnthropic,
    debug_log: pytest.LogCaptureFixture,
) -> None:
    openai_channel = Leaky(sqlite_gateway, fake)
    anthropic_channel = Leaky(sqlite_gateway, fake_anthropic, kind="anthropic")
    fake.default = Behaviour(text="one two three four", error_after=2, echo_secrets=True)
    fake_anthropic.default = AnthropicBehaviour(
        text="one two three four", error_after=2, echo_secrets=True
    )
    for leaky in (openai_channel, anthropic_channel):
        # the openai SDK (same dialect for one channel, translated for the other)
        seen = []
        with pytest.raises(openai.APIError) as info:
            for chunk in leaky.openai().chat.completions.create(
                model=leaky.model, messages=USER, stream=True
            ):
                seen.append(chunk.model_dump_json())
        assert "Incorrect API key provided" in info.value.message
        leaky.assert_clean(info.value.message + "".join(seen) + str(info.value.body))
        # the anthropic SDK (translated for one, same dialect for the other)
        opened = leaky.anthropic().messages.stream(model=leaky.model, max_tokens=16, messages=USER)
        with pytest.raises(anthropic.APIStatusError) as ainfo, opened as stream:
            for _ in stream:
                pass
        assert "Incorrect API key provided" in str(ainfo.value.body)
        leaky.assert_clean(str(ainfo.value.body) + str(ainfo.value))
        # both streams failed: recorded so (an OpenAI error event too), masked, unbilled
        leaky.assert_records_clean(2)
        assert {(r["status"], r["amount"]) for r in leaky.records(2)} == {(502, 0)}
        assert leaky.key not in debug_log.text


def test_the_channel_test_masks_the_upstream_error(
    sqlite_gateway: Gateway, fake: FakeOpenAI, debug_log: pytest.LogCaptureFixture
) -> None:
    leaky = Leaky(sqlite_gateway, fake)
    fake.default = Behaviour(status=401, echo_secrets=True)
    channel = next(c for c in sqlite_gateway.op("GET", "/channels") if leaky.model in c["models"])
    response = sqlite_gateway.operator.post(f"/channels/{channel['id']}/test")
    assert response.status_code == 200, response.text
    assert "Incorrect API key provided" in response.text
    leaky.assert_clean(response.text)
    assert leaky.key not in debug_log.text
