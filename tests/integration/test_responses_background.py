"""Background responses (``background: true``), cancel and event replay, over real HTTP
with the ``openai`` SDK, on SQLite and PostgreSQL (docs/state.md, "Background responses").

No test sleeps for a fixed time: each waits for an outcome with a deadline (``_until``),
and a slow upstream is one scripted slow (``latency``, ``chunk_delay``) for longer than
any test could wait, so a cancel that did not reach it shows as an uncut request.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import openai
import pytest

from tests.fakes.openai_upstream import Behaviour, FakeOpenAI
from tests.fakes.responses_upstream import FakeOpenAIResponses
from tests.harness import Gateway, start_gateway
from tests.integration.assertions import assert_openai_error, sse_data
from tests.integration.test_money import books

T = TypeVar("T")
SLOW = Behaviour(chunks=[f"w{i} " for i in range(40)], chunk_delay=0.5)  # 20 s of words
RUNNING = ("queued", "in_progress")


def _until(probe: Callable[[], T | None], timeout: float = 15.0, what: str = "") -> T:
    """Poll ``probe`` until it returns something truthy (no fixed sleeps)."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or probe}")
        time.sleep(0.05)


def _model(gw: Gateway, fake: FakeOpenAI, **options: Any) -> str:
    model = f"gpt-bg-{uuid.uuid4().hex[:8]}"
    gw.add_channel(fake, models=[model], **options)
    gw.op("PUT", f"/models/{model}", json={"input": "1.00", "output": "2.00"})
    return model


def _finished(sdk: openai.OpenAI, response_id: str) -> Any:
    def probe() -> Any:
        response = sdk.responses.retrieve(response_id)
        return None if response.status in RUNNING else response

    return _until(probe, what=f"{response_id} to finish")


def _record(gw: Gateway, user_id: int) -> dict[str, Any]:
    records = gw.wait_for_records(user_id=user_id)
    assert len(records) == 1, records
    return records[0]


def _records(gw: Gateway, user_id: int, count: int) -> list[dict[str, Any]]:
    def probe() -> list[dict[str, Any]] | None:
        records = gw.usage(user_id=user_id)
        return records if len(records) >= count else None

    return _until(probe, what=f"{count} usage records")


def _first_delta(sdk: openai.OpenAI, response_id: str) -> int:
    """Follow the live replay until the upstream has produced text; its number."""
    with sdk.responses.retrieve(response_id, stream=True) as events:
        for event in events:
            if event.type == "response.output_text.delta":
                return event.sequence_number
    raise AssertionError("the replay ended before any text")


def _upstream_cut(fake: FakeOpenAI) -> bool:
    request = fake.requests[-1]
    assert request.done.wait(15), "the upstream request is still running"
    return request.client_disconnected


def test_background_runs_stores_and_bills_once(gateway: Gateway, fake: FakeOpenAI) -> None:
    model = _model(gateway, fake)
    key = gateway.make_user_key()
    sdk = gateway.openai(key.key)
    fake.script(model, Behaviour(text="done in the back", prompt_tokens=30, completion_tokens=4))
    created = sdk.responses.create(model=model, input="Work on this", background=True)
    assert created.status == "queued" and created.background is True
    assert created.output == [] and created.id.startswith("resp_")
    final = _finished(sdk, created.id)
    assert final.status == "completed" and final.output_text == "done in the back"
    assert final.background is True and final.usage is not None and final.usage.input_tokens == 30
    record = _record(gateway, key.user_id)
    assert record["status"] == 200 and record["endpoint"] == "responses"
    assert record["official_cost"] == 30 + 8 and record["amount"] == 38
    assert fake.requests[-1].body["stream"] is True and "background" not in fake.requests[-1].body
    assert [i.type for i in sdk.responses.input_items.list(created.id).data] == ["message"]
    books(gateway, key.user_id)


def test_replay_with_and_without_starting_after(gateway: Gateway, fake: FakeOpenAI) -> None:
    model = _model(gateway, fake)
    sdk = gateway.openai(gateway.make_user_key().key)
    fake.script(model, Behaviour(chunks=["one ", "two ", "three"]))
    created = sdk.responses.create(model=model, input="count", background=True)
    _finished(sdk, created.id)
    events = list(sdk.responses.retrieve(created.id, stream=True))
    assert [e.sequence_number for e in events] == list(range(len(events)))
    assert events[0].type == "response.created" and events[-1].type == "response.completed"
    deltas = [e.delta for e in events if e.type == "response.output_text.delta"]
    assert deltas == ["one ", "two ", "three"]
    assert events[-1].response.id == created.id  # type: ignore[union-attr]
    tail = list(sdk.responses.retrieve(created.id, stream=True, starting_after=5))
    assert [e.sequence_number for e in tail] == list(range(6, len(events)))
    assert [e.type for e in tail] == [e.type for e in events[6:]]
    assert list(sdk.responses.retrieve(created.id, stream=True, starting_after=10_000)) == []


def test_replay_follows_a_running_response(gateway: Gateway, fake: FakeOpenAI) -> None:
    model = _model(gateway, fake)
    sdk = gateway.openai(gateway.make_user_key().key)
    fake.script(model, Behaviour(chunks=[f"p{i} " for i in range(8)], chunk_delay=0.15))
    created = sdk.responses.create(model=model, input="slowly", background=True)
    with sdk.responses.retrieve(created.id, stream=True) as live:
        events = list(live)  # from the first event to the terminal one, as they came
    assert [e.sequence_number for e in events] == list(range(len(events)))
    assert events[-1].type == "response.completed"
    text = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    assert text == "".join(f"p{i} " for i in range(8))
    assert sdk.responses.retrieve(created.id).output_text == text


def test_background_stream_is_numbered_like_its_replay(gateway: Gateway, fake: FakeOpenAI) -> None:
    model = _model(gateway, fake)
    key = gateway.make_user_key()
    fake.script(model, Behaviour(chunks=["a", "b", "c"], prompt_tokens=7, completion_tokens=3))
    body = {"model": model, "input": "hi", "background": True, "stream": True}
    with gateway.http(key.key) as http:
        live = http.post("/v1/responses", json=body)
        assert live.status_code == 200 and live.headers["content-type"] == "text/event-stream"
        events = sse_data(live.content)
        response_id = events[0]["response"]["id"]
        replay = http.get(f"/v1/responses/{response_id}", params={"stream": "true"})
    assert [e["sequence_number"] for e in events] == list(range(len(events)))
    assert events[-1]["type"] == "response.completed"
    assert sse_data(replay.content) == events  # the same events, the same numbers
    assert _record(gateway, key.user_id)["official_cost"] == 7 + 6


def test_stream_client_that_leaves_does_not_stop_the_run(
    gateway: Gateway, fake: FakeOpenAI
) -> None:
    model = _model(gateway, fake)
    key = gateway.make_user_key()
    sdk = gateway.openai(key.key)
    fake.script(model, Behaviour(chunks=[f"x{i}" for i in range(6)], chunk_delay=0.2))
    stream = sdk.responses.create(model=model, input="go", background=True, stream=True)
    first = next(iter(stream))
    stream.close()  # hang up after the first event
    final = _finished(sdk, first.response.id)  # type: ignore[union-attr]
    assert final.status == "completed" and final.output_text == "".join(f"x{i}" for i in range(6))
    assert not fake.requests[-1].client_disconnected
    record = _record(gateway, key.user_id)
    assert record["status"] == 200 and record["amount"] > 0


def test_cancel_cuts_the_upstream_and_bills_what_it_produced(
    gateway: Gateway, fake: FakeOpenAI
) -> None:
    model = _model(gateway, fake)
    key = gateway.make_user_key()
    sdk = gateway.openai(key.key)
    fake.script(model, SLOW)
    created = sdk.responses.create(model=model, input="a long essay", background=True)
    _first_delta(sdk, created.id)  # the upstream has produced something
    cancelled = sdk.responses.cancel(created.id)
    assert cancelled.status == "cancelled"
    assert _upstream_cut(fake)
    record = _record(gateway, key.user_id)
    assert record["status"] == 499 and record["completion_tokens"] >= 1
    assert record["amount"] == record["prompt_tokens"] + 2 * record["completion_tokens"] > 0

    def kept() -> Any:
        response = sdk.responses.retrieve(created.id)
        return response if response.output else None

    stored = _until(kept, what="the partial output")  # the run's last word
    assert stored.status == "cancelled" and stored.output_text.startswith("w0 ")
    assert sdk.responses.cancel(created.id).status == "cancelled"  # again: unchanged
    events = list(sdk.responses.retrieve(created.id, stream=True))
    assert events[0].type == "response.created" and "response.completed" not in {
        e.type for e in events
    }
    books(gateway, key.user_id)


def test_cancel_before_any_output_is_not_billed(gateway: Gateway, fake: FakeOpenAI) -> None:
    model = _model(gateway, fake)
    key = gateway.make_user_key()
    sdk = gateway.openai(key.key)
    fake.script(model, Behaviour(latency=30))
    before = len(fake.requests)
    created = sdk.responses.create(model=model, input="think hard", background=True)
    _until(lambda: len(fake.requests) > before, what="the upstream call")
    assert sdk.responses.retrieve(created.id).status == "in_progress"
    assert sdk.responses.cancel(created.id).status == "cancelled"
    assert _upstream_cut(fake)
    record = _record(gateway, key.user_id)
    assert record["status"] == 499 and record["amount"] == 0 and record["official_cost"] == 0
    final = sdk.responses.retrieve(created.id)
    assert final.status == "cancelled" and final.output == []
    books(gateway, key.user_id)


def test_validation_and_cancel_errors(gateway: Gateway, fake: FakeOpenAI) -> None:
    model = _model(gateway, fake)
    key = gateway.make_user_key()
    sdk = gateway.openai(key.key)
    cases: list[tuple[dict[str, Any], int, str | None]] = [
        ({"background": True, "store": False}, 400, "background"),
        ({"background": "yes"}, 400, "background"),
        ({"background": True, "model": "no-such-model"}, 404, "model"),
    ]
    with gateway.http(key.key) as http:
        for extra, status, param in cases:
            answer = http.post("/v1/responses", json={"model": model, "input": "x", **extra})
            assert assert_openai_error(answer, status)["param"] == param
        missing = http.get(f"/v1/responses/resp_{uuid.uuid4().hex}", params={"stream": "true"})
        assert_openai_error(missing, 404)
        bad = http.get("/v1/responses/resp_x?stream=true&starting_after=soon")
        assert_openai_error(bad, 400)
    plain = sdk.responses.create(model=model, input="not in the background")
    with pytest.raises(openai.BadRequestError):
        sdk.responses.cancel(plain.id)  # only background responses
    done = sdk.responses.create(model=model, input="quick", background=True)
    _finished(sdk, done.id)
    with pytest.raises(openai.BadRequestError):
        sdk.responses.cancel(done.id)  # finished: nothing to cancel
    with pytest.raises(openai.NotFoundError):
        sdk.responses.cancel(f"resp_{uuid.uuid4().hex}")
    other = gateway.openai(gateway.make_user_key().key)
    with pytest.raises(openai.NotFoundError):
        other.responses.cancel(done.id)
    with pytest.raises(openai.NotFoundError):
        list(other.responses.retrieve(done.id, stream=True))


def test_replay_of_a_response_that_was_not_in_the_background(
    gateway: Gateway, fake: FakeOpenAI
) -> None:
    """No events were kept: they are made from the stored Response, deterministically."""
    model = _model(gateway, fake)
    sdk = gateway.openai(gateway.make_user_key().key)
    fake.script(model, Behaviour(text="stored answer"))
    plain = sdk.responses.create(model=model, input="hello")
    events = list(sdk.responses.retrieve(plain.id, stream=True))
    assert [e.type for e in events] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
        "response.output_text.delta",
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    assert [e.sequence_number for e in events] == list(range(9))
    assert events[4].delta == "stored answer"  # type: ignore[union-attr]
    again = list(sdk.responses.retrieve(plain.id, stream=True, starting_after=3))
    assert [e.model_dump() for e in again] == [e.model_dump() for e in events[4:]]


@pytest.fixture
def native() -> Iterator[FakeOpenAIResponses]:
    with FakeOpenAIResponses() as upstream:
        yield upstream


def test_native_responses_channel_in_the_background(
    gateway: Gateway, native: FakeOpenAIResponses
) -> None:
    """The upstream names its own response; the events and the Response are ours."""
    model = _model(gateway, native, options={"responses_api": True})
    sdk = gateway.openai(gateway.make_user_key().key)
    native.script(model, Behaviour(text="native words", prompt_tokens=9, completion_tokens=2))
    created = sdk.responses.create(model=model, input="hi", background=True)
    final = _finished(sdk, created.id)
    assert final.id == created.id and final.output_text == "native words"
    assert native.requests[-1].body["stream"] is True
    events = list(sdk.responses.retrieve(created.id, stream=True))
    assert {e.response.id for e in events if hasattr(e, "response")} == {created.id}
    assert [e.sequence_number for e in events] == list(range(len(events)))


def test_shutdown_fails_the_running_ones(
    gateway_factory: Callable[..., Gateway], fake: FakeOpenAI
) -> None:
    gw = gateway_factory(responses_background_grace=0.1)
    model = _model(gw, fake)
    key = gw.make_user_key()
    fake.script(model, Behaviour(latency=30))
    before = len(fake.requests)
    created = gw.openai(key.key).responses.create(model=model, input="x", background=True)
    _until(lambda: len(fake.requests) > before, what="the upstream call")
    gw.stop()
    assert _upstream_cut(fake)
    again = start_gateway(gw.db_url)
    try:
        stored = again.openai(key.key).responses.retrieve(created.id)
        assert stored.status == "failed" and stored.error is not None
        assert "stopped" in stored.error.message
        record = _record(again, key.user_id)
        assert record["status"] == 503 and record["amount"] == 0
    finally:
        again.stop()


def test_orphaned_response_is_failed_by_the_sweep(
    gateway_factory: Callable[..., Gateway],
) -> None:
    """A running response whose gateway died (no lease in the kv) ends ``failed``."""
    from tests.integration.test_state_api import message, response, save

    gw = gateway_factory(responses_background_lease=0.5)
    key = gw.make_user_key()
    orphan = response("", background=True, status="in_progress")
    save(gw, key.user_id, orphan, [message("user", "q")])
    sdk = gw.openai(key.key)
    final = _finished(sdk, orphan["id"])
    assert final.status == "failed" and final.error is not None


@pytest.mark.postgres
def test_cancel_across_replicas_over_redis(fake: FakeOpenAI) -> None:
    """Two gateways on one PostgreSQL and one Redis: a cancel answered by B stops the run
    on A, and B replays A's running response live."""
    pytest.importorskip("asyncpg")
    from tests.harness import create_pg_database, drop_pg_database

    url = create_pg_database()
    shared = {
        "kv_url": "redis://127.0.0.1:6379/0",
        "kv_prefix": f"relaygate-test:{uuid.uuid4().hex}:",
        "responses_background_lease": 600.0,  # the database check cannot cut in
    }
    a = start_gateway(url, **shared)
    b = None
    try:
        b = start_gateway(url, **shared)
        model = _model(a, fake)
        key = a.make_user_key()
        on_a, on_b = a.openai(key.key), b.openai(key.key)
        fake.script(model, Behaviour(chunks=["r1 ", "r2 ", "r3"], chunk_delay=0.2), SLOW)
        first = on_a.responses.create(model=model, input="one", background=True)
        with on_b.responses.retrieve(first.id, stream=True) as live:
            text = "".join(e.delta for e in live if e.type == "response.output_text.delta")
        assert text == "r1 r2 r3"
        second = on_a.responses.create(model=model, input="two", background=True)
        _first_delta(on_b, second.id)
        assert on_b.responses.cancel(second.id).status == "cancelled"
        assert _upstream_cut(fake)
        assert sorted(r["status"] for r in _records(a, key.user_id, 2)) == [200, 499]
    finally:
        if b is not None:
            b.stop()
        a.stop()
        drop_pg_database(url)


def test_deleting_a_running_response_stops_it(gateway: Gateway, fake: FakeOpenAI) -> None:
    model = _model(gateway, fake)
    key = gateway.make_user_key()
    sdk = gateway.openai(key.key)
    fake.script(model, SLOW)
    created = sdk.responses.create(model=model, input="never mind", background=True)
    _first_delta(sdk, created.id)
    sdk.responses.delete(created.id)
    assert _upstream_cut(fake)
    assert _record(gateway, key.user_id)["status"] == 499  # billed like a cancel
    with pytest.raises(openai.NotFoundError):
        sdk.responses.retrieve(created.id)
    books(gateway, key.user_id)


def test_background_turn_of_a_conversation(gateway: Gateway, fake: FakeOpenAI) -> None:
    model = _model(gateway, fake)
    sdk = gateway.openai(gateway.make_user_key().key)
    conversation = sdk.conversations.create()
    fake.script(model, Behaviour(text="later answer"))
    created = sdk.responses.create(
        model=model, input="a question", conversation=conversation.id, background=True
    )
    assert _finished(sdk, created.id).output_text == "later answer"
    items = sdk.conversations.items.list(conversation.id, order="asc").data
    assert [item.role for item in items] == ["user", "assistant"]  # type: ignore[union-attr]
    follow_up = sdk.responses.create(model=model, input="and?", conversation=conversation.id)
    assert follow_up.status == "completed"
    sent = [m["content"] for m in fake.requests[-1].body["messages"]]
    assert sent[:2] == ["a question", "later answer"]


def test_a_run_holds_its_keys_concurrency_slot(gateway: Gateway, fake: FakeOpenAI) -> None:
    """A refusal is an HTTP error before anything is stored, never a failed response."""
    model = _model(gateway, fake)
    key = gateway.make_user_key(concurrency_limit=1)
    sdk = gateway.openai(key.key)
    fake.script(model, Behaviour(latency=30))
    running = sdk.responses.create(model=model, input="one", background=True)
    with pytest.raises(openai.RateLimitError) as refused:
        sdk.responses.create(model=model, input="two", background=True)
    assert refused.value.code == "concurrency_limit_exceeded"
    sdk.responses.cancel(running.id)
    _until(  # the refused call has a record of its own (429): wait for the cancelled run's
        lambda: [r for r in gateway.usage(user_id=key.user_id) if r["status"] != 429],
        what="the cancelled run's record",
    )
    fake.script(model, Behaviour(text="now there is room"))
    again = sdk.responses.create(model=model, input="three", background=True)
    assert _finished(sdk, again.id).output_text == "now there is room"


def test_a_failed_run_is_stored_failed_and_not_billed(gateway: Gateway, fake: FakeOpenAI) -> None:
    model = _model(gateway, fake)
    key = gateway.make_user_key()
    sdk = gateway.openai(key.key)
    fake.script(model, Behaviour(status=500), Behaviour(chunks=["a", "b", "c"], break_after=1))
    for _ in range(2):  # refused by the upstream; broken off mid-answer
        created = sdk.responses.create(model=model, input="x", background=True)
        final = _finished(sdk, created.id)
        assert final.status == "failed" and final.error is not None
        events = list(sdk.responses.retrieve(created.id, stream=True))
        assert events[-1].type == "response.failed"
    records = _records(gateway, key.user_id, 2)
    assert [r["status"] for r in records] == [502, 502] and {r["amount"] for r in records} == {0}
    books(gateway, key.user_id)
