"""A stream stopped at its hold, through the official SDKs, in each dialect; and the
hold of a call without an output limit, which grows while the balance covers it.

The fakes ignore the output limit and stream ``LONG`` words: the gateway stops the
stream near its hold, closes the upstream, ends the stream as an output limit would
(Anthropic ``stop_reason: "max_tokens"``, Responses ``incomplete`` with reason
``max_output_tokens``) and bills what was delivered.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any, get_args

import anthropic
import openai
import pytest
from openai.types.responses import ResponseStreamEvent

from tests.fakes.anthropic_upstream import Behaviour as AnthropicBehaviour
from tests.fakes.anthropic_upstream import FakeAnthropic
from tests.fakes.openai_upstream import Behaviour, FakeOpenAI
from tests.fakes.responses_upstream import FakeOpenAIResponses
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



# the SDK's typed event class of each event type (the union's members, by their literal)
_EVENT_CLASSES = {
    get_args(cls.model_fields["type"].annotation)[0]: cls
    for cls in get_args(get_args(ResponseStreamEvent)[0])
}


def _typed_events(gw: Gateway, key: str, model: str) -> list[Any]:
    """The raw events of a capped Responses stream, each validated (not just built) as
    the SDK's typed event of its ``type``; the SDK's own iteration agrees with them."""
    body = {"model": model, "input": "Hi", "max_output_tokens": LIMIT, "stream": True}
    with gw.http(key) as http, http.stream("POST", "/v1/responses", json=body) as answer:
        assert answer.status_code == 200
        raw = [json.loads(line[6:]) for line in answer.iter_lines() if line.startswith("data: ")]
    typed = [_EVENT_CLASSES[event["type"]].model_validate(event) for event in raw]
    for event, parsed in zip(raw, typed, strict=True):
        assert parsed.type == event["type"]
    assert [e["sequence_number"] for e in raw] == list(range(len(raw)))
    return typed


def _check_cap_ending(events: list[Any]) -> None:
    """OpenAI's ending at ``max_output_tokens``: the text's ``.done`` and its part's
    ``done`` with the whole text delivered, the message ``incomplete``, then
    ``response.incomplete`` whose output is that message."""
    delivered = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    assert 20 <= len(delivered.split()) < 100
    assert [e.type for e in events[-4:]] == [
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.incomplete",
    ]
    text_done, part_done, item_done, final = events[-4:]
    assert text_done.text == delivered
    assert part_done.part.type == "output_text" and part_done.part.text == delivered
    assert item_done.item.status == "incomplete"
    assert final.response.status == "incomplete"
    assert final.response.incomplete_details.reason == "max_output_tokens"
    assert final.response.output == [item_done.item]
    assert final.response.output_text == delivered


def test_a_native_responses_stream_ends_as_openai_ends_it_at_the_limit(
    gateway: Gateway, native: FakeOpenAIResponses
) -> None:
    """Relayed from a Responses upstream (events passed through), then ended by the
    gateway: event for event what OpenAI sends at ``max_output_tokens``."""
    model = f"native-{uuid.uuid4().hex[:8]}"
    gateway.add_channel(native, models=[model], options={"responses_api": True})
    gateway.op("PUT", f"/models/{model}", json={"input": "2.00", "output": "8.00"})
    key = funded_key(gateway, topup="10")
    native.script(model, Behaviour(text=LONG, chunk_delay=0.003))
    events = _typed_events(gateway, key.key, model)
    _check_cap_ending(events)
    assert native.wait_until(lambda: native.requests[-1].client_disconnected)
    books(gateway, key.user_id)


def test_a_translated_responses_stream_ends_as_openai_ends_it_at_the_limit(
    gateway: Gateway, fake: FakeOpenAI
) -> None:
    model = priced_model(gateway, fake, input="2.00", output="8.00")
    key = funded_key(gateway, topup="10")
    fake.script(model, Behaviour(text=LONG))
    _check_cap_ending(_typed_events(gateway, key.key, model))
    books(gateway, key.user_id)


def test_an_anthropic_stream_at_the_limit_accumulates_to_the_delivered_text(
    gateway: Gateway, fake_anthropic: FakeAnthropic
) -> None:
    """The SDK's helper builds the final message from the gateway's ending (the open
    block stopped, ``max_tokens`` with usage, ``message_stop``)."""
    model = anthropic_model(gateway, fake_anthropic, input="3.00", output="15.00")
    key = funded_key(gateway, topup="10")
    fake_anthropic.script(model, AnthropicBehaviour(text=LONG, output_tokens=400))
    client = anthropic.Anthropic(base_url=gateway.url, api_key=key.key, max_retries=0)
    with client.messages.stream(
        model=model, max_tokens=LIMIT, messages=[{"role": "user", "content": "Hi"}]
    ) as stream:
        kinds, delivered = [], ""
        for event in stream:
            kinds.append(event.type)
            if event.type == "content_block_delta" and event.delta.type == "text_delta":
                delivered += event.delta.text
        message = stream.get_final_message()
    assert kinds[-3:] == ["content_block_stop", "message_delta", "message_stop"]
    assert message.stop_reason == "max_tokens"
    assert [block.type for block in message.content] == ["text"]
    assert message.content[0].text == delivered  # type: ignore[union-attr]
    assert message.usage.output_tokens >= HELD
    books(gateway, key.user_id)


def test_every_choice_of_a_capped_chat_stream_ends_with_length(
    gateway: Gateway, fake: FakeOpenAI
) -> None:
    """``n: 2`` with usage asked for: each choice's last chunk says ``length`` once, the
    usage chunk follows, and the SDK's accumulated texts are what was delivered."""
    model = priced_model(gateway, fake, input="1.00", output="10.00")
    key = funded_key(gateway, topup="10")
    fake.script(model, Behaviour(text=LONG, chunk_delay=0.002))
    sdk = gateway.openai(key.key)
    stream = sdk.chat.completions.create(
        model=model, messages=[{"role": "user", "content": "Hi"}], stream=True, n=2,
        max_tokens=LIMIT, stream_options={"include_usage": True},
    )  # fmt: skip
    texts, finishes, usage = ["", ""], [[], []], None  # type: ignore[var-annotated]
    for chunk in stream:
        usage = chunk.usage or usage
        for choice in chunk.choices:
            texts[choice.index] += choice.delta.content or ""
            if choice.finish_reason:
                finishes[choice.index].append(choice.finish_reason)
    assert finishes == [["length"], ["length"]]
    assert all(len(text.split()) >= 5 for text in texts)
    assert usage is not None and usage.completion_tokens >= 2 * LIMIT
    books(gateway, key.user_id)
