"""A stream stopped at its hold, through the official SDKs, in each dialect; and the
hold of a call without an output limit, which grows while the balance covers it.

The fakes ignore the output limit and stream ``LONG`` words: the gateway stops the
stream near its hold, closes the upstream, ends the stream as an output limit would
(Anthropic ``stop_reason: "max_tokens"``, Responses ``incomplete`` with reason
``max_output_tokens``) and bills what was delivered.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import anthropic
import openai
import pytest

from tests.fakes.anthropic_upstream import Behaviour as AnthropicBehaviour
from tests.fakes.anthropic_upstream import FakeAnthropic
from tests.fakes.openai_upstream import Behaviour, FakeOpenAI
from tests.harness import Gateway
from tests.integration.test_anthropic_routes import anthropic_model
from tests.integration.test_money import books, funded_key, priced_model

LONG = " ".join(f"w{i}" for i in range(400))
LIMIT = 20  # the output limit the callers ask for (and the fakes ignore)
HELD = LIMIT + 64  # with the slack's floor (docs/billing.md)


@pytest.fixture
def fake_anthropic() -> Iterator[FakeAnthropic]:
    with FakeAnthropic() as fake:
        yield fake


def _stopped_near_hold(gw: Gateway, rid: str) -> dict[str, object]:
    record = gw.wait_for_usage(rid)
    assert record["status"] == 200, record
    assert HELD <= int(str(record["completion_tokens"])) <= HELD + 4, record  # + one chunk
    return record


def test_an_anthropic_stream_stops_with_max_tokens(
    gateway: Gateway, fake_anthropic: FakeAnthropic
) -> None:
    model = anthropic_model(gateway, fake_anthropic, input="3.00", output="15.00")
    key = funded_key(gateway, topup="10")
    fake_anthropic.script(
        model, AnthropicBehaviour(text=LONG, output_tokens=400, chunk_delay=0.003)
    )
    client = anthropic.Anthropic(base_url=gateway.url, api_key=key.key, max_retries=0)
    with client.messages.stream(
        model=model, max_tokens=LIMIT, messages=[{"role": "user", "content": "Hi"}]
    ) as stream:
        message = stream.get_final_message()
        rid = stream.response.headers["request-id"]
    assert message.stop_reason == "max_tokens"
    assert message.usage.output_tokens >= HELD
    text = message.content[0].text if message.content[0].type == "text" else ""
    assert 20 <= len(text.split()) < 100
    _stopped_near_hold(gateway, rid)
    assert fake_anthropic.wait_until(lambda: fake_anthropic.requests[-1].client_disconnected)
    books(gateway, key.user_id)


def test_a_responses_stream_stops_incomplete(gateway: Gateway, fake: FakeOpenAI) -> None:
    model = priced_model(gateway, fake, input="2.00", output="8.00")
    key = funded_key(gateway, topup="10")
    fake.script(model, Behaviour(text=LONG))
    sdk = openai.OpenAI(base_url=gateway.url + "/v1", api_key=key.key, max_retries=0)
    # (the SDK's ``responses.stream`` helper accepts only ``response.completed`` as an end)
    events = list(
        sdk.responses.create(model=model, input="Hi", max_output_tokens=LIMIT, stream=True)
    )
    assert events[-1].type == "response.incomplete"
    final = events[-1].response
    assert final.status == "incomplete"
    assert final.incomplete_details is not None
    assert final.incomplete_details.reason == "max_output_tokens"
    assert 20 <= len(final.output_text.split()) < 100
    records = gateway.usage(user_id=key.user_id, limit=10)
    _stopped_near_hold(gateway, str(records[0]["request_id"]))
    stored = sdk.responses.retrieve(final.id)
    assert stored.status == "incomplete"
    books(gateway, key.user_id)


def _long_chat(gw: Gateway, key: str, model: str) -> tuple[str, str | None, str]:
    """A chat stream without max_tokens: (text, finish_reason, request id)."""
    sdk = openai.OpenAI(base_url=gw.url + "/v1", api_key=key, max_retries=0)
    raw = sdk.chat.completions.with_raw_response.create(
        model=model, messages=[{"role": "user", "content": "Hi"}], stream=True
    )
    text, finish = "", None
    for chunk in raw.parse():
        for choice in chunk.choices:
            text += choice.delta.content or ""
            finish = choice.finish_reason or finish
    return text, finish, raw.headers["x-request-id"]


def test_a_call_without_a_limit_streams_on_while_the_balance_covers_it(
    gateway_factory: Callable[..., Gateway], fake: FakeOpenAI
) -> None:
    """Held for ``default_output_estimate`` (20 here) with slack; 400 words later the
    hold has grown many times for a funded caller, and is refused to one who cannot pay:
    that stream stops with ``finish_reason: "length"`` near its first hold."""
    gw = gateway_factory(default_output_estimate=LIMIT)
    model = priced_model(gw, fake, input="1.00", output="10.00")
    fake.default = Behaviour(text=LONG, completion_tokens=400)
    rich = funded_key(gw, topup="10")
    text, finish, _ = _long_chat(gw, rich.key, model)
    assert (len(text.split()), finish) == (400, "stop")

    poor = funded_key(gw, adjustment="0.000500")  # less than one hold (about 0.00095)
    text, finish, rid = _long_chat(gw, poor.key, model)
    assert finish == "length" and 20 <= len(text.split()) < 100, (finish, text[-30:])
    _stopped_near_hold(gw, rid)
    books(gw, poor.user_id)


def test_a_growing_hold_stays_within_the_keys_max_fee(
    gateway_factory: Callable[..., Gateway], fake: FakeOpenAI
) -> None:
    """A funded user, but a key capped near one hold: the hold cannot grow past the cap."""
    gw = gateway_factory(default_output_estimate=LIMIT)
    model = priced_model(gw, fake, input="1.00", output="10.00")
    fake.default = Behaviour(text=LONG, completion_tokens=400)
    key = gw.make_user_key(max_fee=1_500)  # micro-units: one hold (about 950), not two
    text, finish, rid = _long_chat(gw, key.key, model)
    assert finish == "length" and 20 <= len(text.split()) < 100, (finish, text[-30:])
    record = _stopped_near_hold(gw, rid)
    assert int(str(record["amount"])) <= 1_500


def test_a_background_response_stops_incomplete(gateway: Gateway, fake: FakeOpenAI) -> None:
    model = priced_model(gateway, fake, input="2.00", output="8.00")
    key = funded_key(gateway, topup="10")
    fake.script(model, Behaviour(text=LONG, chunk_delay=0.002))
    sdk = gateway.openai(key.key)
    created = sdk.responses.create(
        model=model, input="Hi", max_output_tokens=LIMIT, background=True
    )
    for _ in range(300):
        final = sdk.responses.retrieve(created.id)
        if final.status not in ("queued", "in_progress"):
            break
        time.sleep(0.05)
    assert final.status == "incomplete"
    assert final.incomplete_details is not None
    assert final.incomplete_details.reason == "max_output_tokens"
    assert 20 <= len(final.output_text.split()) < 100
    records = gateway.wait_for_records(user_id=key.user_id)
    _stopped_near_hold(gateway, str(records[0]["request_id"]))
    books(gateway, key.user_id)
