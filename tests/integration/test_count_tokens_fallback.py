"""count_tokens on an ``anthropic`` channel whose upstream does not serve it: the local
estimate answers, as on channels of other dialects, instead of the upstream's 404; the
channel is remembered, so later counts skip the round trip. A 404 that says the *model*
does not exist is still the caller's 404. Driven by the ``anthropic`` SDK against the
fake Anthropic upstream, on ``/v1`` and on the Claude Code route group."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import anthropic
import pytest

from tests.fakes.anthropic_upstream import Behaviour, FakeAnthropic
from tests.harness import Gateway

MESSAGES: Any = [{"role": "user", "content": "Hello there"}]
# The local estimate of MESSAGES (dialects/anthropic_messages/count.py): 3 for the
# request, 4 for the message, 3 for its 11 characters.
ESTIMATE = 10
CC_OMG = "/api/v1/ai/openai/cc-omg"


@pytest.fixture
def no_count_route() -> Iterator[FakeAnthropic]:
    with FakeAnthropic(count_tokens=False) as fake:
        yield fake


@pytest.fixture
def counting() -> Iterator[FakeAnthropic]:
    with FakeAnthropic() as fake:
        yield fake


def _model(gw: Gateway, fake: FakeAnthropic) -> str:
    model = f"claude-count-{uuid.uuid4().hex[:8]}"
    gw.add_channel(fake, models=[model], type="anthropic", base_url=fake.url)
    return model


def _sdk(gw: Gateway, prefix: str = "") -> anthropic.Anthropic:
    key = gw.make_user_key().key
    return anthropic.Anthropic(base_url=gw.url + prefix, api_key=key, max_retries=0)


@pytest.mark.parametrize("prefix", ["", CC_OMG])
def test_an_upstream_without_the_route_is_counted_locally_and_remembered(
    gateway: Gateway, no_count_route: FakeAnthropic, prefix: str
) -> None:
    model = _model(gateway, no_count_route)
    sdk = _sdk(gateway, prefix)
    first = sdk.messages.with_raw_response.count_tokens(model=model, messages=MESSAGES)
    assert first.parse().input_tokens == ESTIMATE
    [asked] = no_count_route.requests_for("/v1/messages/count_tokens")
    assert (asked.status, asked.response_body) == (404, b"404: Not Found")
    again = sdk.messages.count_tokens(model=model, messages=MESSAGES)
    assert again.input_tokens == ESTIMATE
    assert len(no_count_route.requests_for("/v1/messages/count_tokens")) == 1  # remembered
    record = gateway.wait_for_usage(first.headers["x-request-id"])
    assert (record["status"], record["amount"], record["endpoint"]) == (
        200, 0, "messages/count_tokens",
    )  # fmt: skip
    # the channel itself still answers messages
    reply = sdk.messages.create(model=model, max_tokens=16, messages=MESSAGES)
    assert reply.content[0].type == "text"


@pytest.mark.parametrize(
    "refusal",
    [
        Behaviour(status=405, error_message="Method Not Allowed"),
        Behaviour(status=501, error_message="Not Implemented"),
        Behaviour(status=404, error_body={"detail": "Not Found"}),
        Behaviour(
            status=400,
            error_type="invalid_request_error",
            error_message="Invalid URL (POST /v1/messages/count_tokens)",
        ),
        Behaviour(status=404, error_message="endpoint /v1/messages/count_tokens not supported"),
    ],
    ids=["405", "501", "404-bare", "400-invalid-url", "404-endpoint-named"],
)
def test_an_upstream_that_says_the_route_is_missing_is_counted_locally(
    gateway: Gateway, counting: FakeAnthropic, refusal: Behaviour
) -> None:
    model = _model(gateway, counting)
    counting.script(model, refusal)
    sdk = _sdk(gateway)
    assert sdk.messages.count_tokens(model=model, messages=MESSAGES).input_tokens == ESTIMATE
    assert sdk.messages.count_tokens(model=model, messages=MESSAGES).input_tokens == ESTIMATE
    assert len(counting.requests_for("/count_tokens")) == 1


def test_a_404_for_the_model_is_the_callers(gateway: Gateway, counting: FakeAnthropic) -> None:
    """Anthropic's own answer for a model it does not have: passed on, not estimated,
    and not taken to mean the route is missing (the next count asks again)."""
    model = _model(gateway, counting)
    counting.script(model, Behaviour(status=404, error_message=f"model: {model}"))
    sdk = _sdk(gateway, CC_OMG)
    with pytest.raises(anthropic.NotFoundError) as refused:
        sdk.messages.count_tokens(model=model, messages=MESSAGES)
    assert f"model: {model}" in str(refused.value)
    counting.script(model, Behaviour(count_tokens=4242))
    assert sdk.messages.count_tokens(model=model, messages=MESSAGES).input_tokens == 4242
    assert len(counting.requests_for("/count_tokens")) == 2


def test_an_upstream_that_counts_is_passed_through(
    gateway: Gateway, counting: FakeAnthropic
) -> None:
    model = _model(gateway, counting)
    counting.script(model, Behaviour(count_tokens=4242), Behaviour(count_tokens=77))
    for prefix in ("", CC_OMG):
        sdk = _sdk(gateway, prefix)
        counted = sdk.messages.count_tokens(model=model, messages=MESSAGES).input_tokens
        assert counted == (4242 if not prefix else 77)
    assert len(counting.requests_for("/count_tokens")) == 2
