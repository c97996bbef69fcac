"""Remote compaction (Codex's long sessions) on every channel, with the ``openai`` SDK.

A channel that serves the Responses API natively is relayed ``/responses/compact`` and
the ``compaction_trigger`` as they came. On an Anthropic or chat-completions channel
the model itself summarises the history; Relaygate keeps the summary and hands out a
sealed ``compaction`` item, which a later turn expands into the summary for the
upstream (the dropped history is not sent again). Both databases.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import openai
import pytest
from sqlalchemy import update

from relaygate.core.clock import utcnow
from relaygate.state.models import CompactionSummary
from relaygate.state.service import StateService
from tests.fakes.anthropic_upstream import Behaviour as ClaudeBehaviour
from tests.fakes.anthropic_upstream import FakeAnthropic
from tests.fakes.openai_upstream import Behaviour, FakeOpenAI
from tests.fakes.responses_upstream import NATIVE_COMPACTION, FakeOpenAIResponses
from tests.harness import Gateway
from tests.integration.test_money import books
from tests.integration.test_state_api import ECHO, with_state

CODEX = "/api/v1/ai/openai/codex-omg"
SUMMARY = "SUMMARY: the user builds a landing page; index.html is written."
HISTORY: Any = [
    {"role": "user", "content": "Build a landing page. Secret word: ALPHA-HISTORY."},
    {
        "type": "message",
        "role": "assistant",
        "content": [{"type": "output_text", "text": "Writing index.html now."}],
    },
    {"type": "function_call", "call_id": "call_1", "name": "shell", "arguments": '{"cmd":"ls"}'},
    {"type": "function_call_output", "call_id": "call_1", "output": "index.html"},
]


@pytest.fixture
def claude() -> Iterator[FakeAnthropic]:
    with FakeAnthropic() as fake:
        yield fake



def _claude(gw: Gateway, fake: FakeAnthropic) -> str:
    model = f"claude-cmp-{uuid.uuid4().hex[:8]}"
    gw.add_channel(fake, models=[model], type="anthropic", base_url=fake.url)
    gw.op("PUT", f"/models/{model}", json={"input": "1.00", "output": "2.00"})
    return model


def _chat(gw: Gateway, fake: FakeOpenAI) -> str:
    model = f"gpt-cmp-{uuid.uuid4().hex[:8]}"
    gw.add_channel(fake, models=[model])
    return model


def _native(gw: Gateway, fake: FakeOpenAIResponses) -> str:
    model = f"gpt-native-cmp-{uuid.uuid4().hex[:8]}"
    gw.add_channel(fake, models=[model], options={"responses_api": True})
    return model


def _sdk(gw: Gateway, key: str, prefix: str = "") -> openai.OpenAI:
    return openai.OpenAI(base_url=gw.url + prefix + "/v1", api_key=key, max_retries=0)


def _item(compacted: Any) -> dict[str, Any]:
    """The one compaction item of an answer, as a dict to send back."""
    items = [item.model_dump(exclude_none=True) for item in compacted.output]
    assert [item["type"] for item in items] == ["compaction"], items
    return items[0]


def test_compact_on_claude_then_follow_up(gateway: Gateway, claude: FakeAnthropic) -> None:
    model = _claude(gateway, claude)
    key = gateway.make_user_key()
    sdk = _sdk(gateway, key.key, CODEX)
    claude.script(model, ClaudeBehaviour(text=SUMMARY, input_tokens=300, output_tokens=20))
    compacted = sdk.responses.compact(model=model, input=HISTORY)
    asked = claude.requests[-1].body
    assert "compact conversations" in str(asked["system"])
    assert "ALPHA-HISTORY" in str(asked["messages"]) and "index.html" in str(asked["messages"])
    assert "tools" not in asked  # the history is a transcript: no tool blocks
    assert compacted.object == "response.compaction"
    assert compacted.usage.input_tokens == 300 and compacted.usage.output_tokens == 20
    item = _item(compacted)
    assert item["id"].startswith("cmp_") and SUMMARY not in item["encrypted_content"]
    record = gateway.usage(user_id=key.user_id)[0]
    assert record["endpoint"] == "responses/compact" and record["status"] == 200
    assert record["prompt_tokens"] == 300 and record["completion_tokens"] == 20
    assert record["official_cost"] == 300 + 40
    books(gateway, key.user_id)

    claude.script(model, ClaudeBehaviour(text="Continuing."))
    later = sdk.responses.create(model=model, input=[item, {"role": "user", "content": "Next?"}])
    assert later.output_text == "Continuing."
    sent = str(claude.requests[-1].body["messages"])
    assert SUMMARY in sent and "summary of the earlier part" in sent
    assert "ALPHA-HISTORY" not in sent


def test_compact_on_chat_channel_from_stored_chain(gateway: Gateway, fake: FakeOpenAI) -> None:
    """``previous_response_id`` is expanded from Relaygate's store, as for a turn."""
    model = _chat(gateway, fake)
    key = gateway.make_user_key()
    sdk = _sdk(gateway, key.key)
    fake.script(model, Behaviour(text="The secret is BRAVO-STORED."))
    first = sdk.responses.create(model=model, input="Tell me a secret.")
    fake.script(model, Behaviour(text=SUMMARY, prompt_tokens=90, completion_tokens=9))
    compacted = sdk.responses.compact(model=model, previous_response_id=first.id)
    asked = fake.requests[-1].body
    assert "BRAVO-STORED" in str(asked["messages"]) and asked["messages"][0]["role"] == "system"
    assert compacted.usage.input_tokens == 90
    item = _item(compacted)
    fake.script(model, Behaviour(text="ok"))
    sdk.responses.create(model=model, input=[item, {"role": "user", "content": "go on"}])
    sent = str(fake.requests[-1].body["messages"])
    assert SUMMARY in sent and "BRAVO-STORED" not in sent
    records = gateway.usage(user_id=key.user_id)
    assert [r["endpoint"] for r in records] == ["responses", "responses/compact", "responses"]


def test_native_channel_is_relayed(
    gateway: Gateway, native: FakeOpenAIResponses, claude: FakeAnthropic
) -> None:
    model = _native(gateway, native)
    key = gateway.make_user_key()
    sdk = _sdk(gateway, key.key, CODEX)
    native.script(model, Behaviour(text="unused", prompt_tokens=70, completion_tokens=7))
    compacted = sdk.responses.compact(model=model, input=HISTORY)
    call = native.requests[-1]
    assert call.path == "/v1/responses/compact" and call.body["input"] == HISTORY
    item = _item(compacted)
    assert item["encrypted_content"] == NATIVE_COMPACTION
    assert gateway.usage(user_id=key.user_id)[0]["prompt_tokens"] == 70
    native.script(model, Behaviour(text="native goes on"))
    later = sdk.responses.create(model=model, input=[item, {"role": "user", "content": "more"}])
    assert later.output_text == "native goes on"
    assert native.requests[-1].body["input"][0] == item  # OpenAI's own item, untouched
    sonnet = _claude(gateway, claude)
    with pytest.raises(openai.BadRequestError) as refused:
        sdk.responses.create(model=sonnet, input=[item, {"role": "user", "content": "more"}])
    assert "made by an OpenAI Responses upstream" in str(refused.value)


def test_trigger_turn_on_claude(gateway: Gateway, claude: FakeAnthropic) -> None:
    model = _claude(gateway, claude)
    key = gateway.make_user_key()
    sdk = _sdk(gateway, key.key, CODEX)
    turn: Any = [*HISTORY, {"type": "compaction_trigger"}]
    claude.script(model, ClaudeBehaviour(text=SUMMARY, input_tokens=200, output_tokens=10))
    whole = sdk.responses.create(model=model, input=turn, store=False)
    assert whole.status == "completed" and whole.usage is not None
    item = _item(whole)
    assert "ALPHA-HISTORY" in str(claude.requests[-1].body["messages"])
    claude.script(model, ClaudeBehaviour(text=SUMMARY))
    events = list(sdk.responses.create(model=model, input=turn, stream=True, store=False))
    kinds = [event.type for event in events]
    assert kinds == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.output_item.done",
        "response.completed",
    ]
    final = events[-1].response  # type: ignore[union-attr]
    assert [o.type for o in final.output] == ["compaction"]
    assert [e.sequence_number for e in events] == [0, 1, 2, 3, 4]
    claude.script(model, ClaudeBehaviour(text="after the trigger"))
    sdk.responses.create(model=model, input=[item, {"role": "user", "content": "go"}])
    sent = str(claude.requests[-1].body["messages"])
    assert SUMMARY in sent and "ALPHA-HISTORY" not in sent
    assert len(gateway.usage(user_id=key.user_id)) == 3


def test_a_stored_chain_continues_after_its_trigger_turn(
    gateway: Gateway, claude: FakeAnthropic
) -> None:
    """``previous_response_id`` after a stored trigger turn: the history the compaction
    summarised is not replayed, the trigger item neither (only the summary is)."""
    model = _claude(gateway, claude)
    sdk = _sdk(gateway, gateway.make_user_key().key)
    claude.script(model, ClaudeBehaviour(text="Noted ALPHA-ANSWER."))
    first = sdk.responses.create(model=model, input=HISTORY[:1])
    claude.script(model, ClaudeBehaviour(text=SUMMARY))
    compacted = sdk.responses.create(
        model=model, previous_response_id=first.id, input=[{"type": "compaction_trigger"}]
    )
    assert [item.type for item in compacted.output] == ["compaction"]
    assert "ALPHA-ANSWER" in str(claude.requests[-1].body["messages"])
    claude.script(model, ClaudeBehaviour(text="on we go"))
    later = sdk.responses.create(model=model, previous_response_id=compacted.id, input="next")
    assert later.output_text == "on we go"
    sent = claude.requests[-1].body["messages"]
    assert SUMMARY in str(sent) and "ALPHA" not in str(sent) and len(sent) == 1


def test_trigger_turn_on_native_channel(gateway: Gateway, native: FakeOpenAIResponses) -> None:
    model = _native(gateway, native)
    sdk = _sdk(gateway, gateway.make_user_key().key)
    turn: Any = [*HISTORY, {"type": "compaction_trigger"}]
    events = list(sdk.responses.create(model=model, input=turn, stream=True, store=False))
    assert native.requests[-1].body["input"][-1] == {"type": "compaction_trigger"}
    final = events[-1].response  # type: ignore[union-attr]
    assert [o.type for o in final.output] == ["compaction"]
    assert final.output[0].encrypted_content == NATIVE_COMPACTION  # type: ignore[union-attr]


def test_foreign_and_tampered_items_are_refused(gateway: Gateway, fake: FakeOpenAI) -> None:
    model = _chat(gateway, fake)
    owner = _sdk(gateway, gateway.make_user_key().key)
    fake.script(model, Behaviour(text=SUMMARY))
    item = _item(owner.responses.compact(model=model, input=HISTORY))
    stranger = _sdk(gateway, gateway.make_user_key().key)
    calls = len(fake.requests)
    with pytest.raises(openai.BadRequestError) as foreign:
        stranger.responses.create(model=model, input=[item, {"role": "user", "content": "x"}])
    assert foreign.value.param == "input"  # type: ignore[attr-defined]
    body, _, mac = item["encrypted_content"].rpartition(".")
    changed = {**item, "encrypted_content": f"{body}.{'A' if mac[0] != 'A' else 'B'}{mac[1:]}"}
    with pytest.raises(openai.BadRequestError) as tampered:
        owner.responses.create(model=model, input=[changed, {"role": "user", "content": "x"}])
    assert tampered.value.param == "input"  # type: ignore[attr-defined]
    assert len(fake.requests) == calls  # refused before any upstream was asked


def test_echo_channel_and_a_swept_summary(gateway: Gateway) -> None:
    """The built-in echo channel compacts too; a summary removed by the retention sweep
    makes its item a clear 400, not an upstream call without the history."""
    key = gateway.make_user_key()
    sdk = _sdk(gateway, key.key)
    item = _item(sdk.responses.compact(model=ECHO, input=HISTORY))
    later = sdk.responses.create(model=ECHO, input=[item, {"role": "user", "content": "next"}])
    assert later.status == "completed"

    async def age(state: StateService) -> int:
        past = utcnow() - timedelta(days=10)
        async with state.db.session() as session, session.begin():
            await session.execute(
                update(CompactionSummary)
                .where(CompactionSummary.id == item["id"])
                .values(created_at=past)
            )
        return await state.sweep()

    assert with_state(gateway, age, retention_days=5) >= 1
    with pytest.raises(openai.BadRequestError) as gone:
        sdk.responses.create(model=ECHO, input=[item, {"role": "user", "content": "next"}])
    assert "no longer exists" in str(gone.value)
