"""The pure half of compaction (relay/compaction.py): sealed references, the
transcript the model summarises, and the stream a trigger turn is answered with."""

from __future__ import annotations

import base64
from typing import Any

import orjson
import pytest

from relaygate.core.errors import InvalidRequest
from relaygate.relay.compaction import (
    SUMMARY_INSTRUCTIONS,
    is_sealed,
    seal,
    stream_events,
    summary_request,
    transcript,
    unseal,
)
from relaygate.relay.dialects.openai_responses.request import COMPACT, has_trigger, inspect

KEY = b"k" * 32


def test_seal_opens_for_its_owner_only() -> None:
    sealed = seal(KEY, "cmp_1", 7)
    assert unseal(KEY, sealed, 7) == "cmp_1"
    assert is_sealed({"type": "compaction", "encrypted_content": sealed})
    assert not is_sealed({"type": "compaction", "encrypted_content": "gAAAAAB..."})
    for user, key, token in (
        (8, KEY, sealed),  # another user
        (7, b"other" * 8, sealed),  # another server's key
        (7, KEY, sealed[:-2] + ("AA" if not sealed.endswith("AA") else "BB")),  # changed mac
        (7, KEY, "rgcmp1.garbage"),
        (7, KEY, "rgcmp1.%%%.%%%"),
    ):
        with pytest.raises(InvalidRequest) as refused:
            unseal(key, token, user)
        assert refused.value.param == "input"


def test_a_forged_claim_is_refused() -> None:
    """Changing the claims (the summary or the user) breaks the MAC."""
    _, _, mac = seal(KEY, "cmp_1", 7).rpartition(".")
    claims = base64.urlsafe_b64encode(orjson.dumps({"s": "cmp_1", "u": 8})).decode().rstrip("=")
    forged = "rgcmp1." + claims
    with pytest.raises(InvalidRequest):
        unseal(KEY, f"{forged}.{mac}", 8)


def test_transcript_keeps_tool_traffic_as_text() -> None:
    items: list[dict[str, Any]] = [
        {"role": "user", "content": "fix the bug"},
        {"type": "function_call", "call_id": "c1", "name": "shell", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "c1", "output": "ok"},
        {
            "type": "message",
            "role": "assistant",
            "content": [{"type": "output_text", "text": "done"}],
        },
        {"type": "compaction_trigger"},
    ]
    text = transcript(items)
    assert text.splitlines()[0] == "user: fix the bug"
    assert "called tool shell (c1)" in text and "tool result (c1): ok" in text
    assert "assistant: done" in text and "compaction_trigger" not in text
    request = summary_request({"model": "m", "input": items, "tools": [{}]}, [])
    assert request["instructions"] == SUMMARY_INSTRUCTIONS and "tools" not in request
    assert request["stream"] is False and "fix the bug" in request["input"][0]["content"]


def test_trigger_must_be_last() -> None:
    trigger = {"type": "compaction_trigger"}
    assert has_trigger({"input": [{"role": "user", "content": "x"}, trigger]})
    with pytest.raises(InvalidRequest):
        inspect("responses", {"model": "m", "input": [trigger, {"role": "user", "content": "x"}]})
    assert inspect(COMPACT, {"model": "m", "input": "x", "stream": True}).stream is False


def test_stream_events_number_and_end_with_completed() -> None:
    item = {"type": "compaction", "id": "cmp_1", "encrypted_content": "x"}
    response = {"id": "resp_1", "object": "response", "status": "completed", "output": [item]}
    frames = [f for f in stream_events(response).split(b"\n\n") if f]
    events = [orjson.loads(f.split(b"data: ", 1)[1]) for f in frames]
    assert [e["sequence_number"] for e in events] == list(range(5))
    assert events[0]["response"]["output"] == [] and "usage" not in events[0]["response"]
    assert events[2]["item"] == item == events[3]["item"]
    assert events[-1] == {"type": "response.completed", "sequence_number": 4, "response": response}
