"""Streams that end early: a client that leaves mid-stream pays for what was produced."""

from __future__ import annotations

import json

from tests.fakes.openai_upstream import Behaviour, FakeOpenAI
from tests.harness import Gateway
from tests.integration.test_money import (
    START,
    USER,
    charges,
    chat,
    priced_model,
    wallet,
)

# ten one-token words, so the text the fake streams is the 10 tokens it reports (a cut
# stream is billed an estimate of the delivered text: "w7" would be two tokens)
WORDS = " ".join(["hello", "there", "this", "is", "a", "short", "answer", "from", "the", "model"])
SEEN = 3  # content chunks the client reads before it hangs up


def _leave_after(gw: Gateway, key: str, model: str, seen: int) -> str:
    """Stream, read ``seen`` content deltas, hang up; return the request id."""
    got = 0
    body = {"model": model, "messages": USER, "stream": True, "max_tokens": 100}
    with gw.http(key) as http, http.stream("POST", "/v1/chat/completions", json=body) as r:
        assert r.status_code == 200
        rid = r.headers["x-request-id"]
        for line in r.iter_lines():
            if not line.startswith("data:") or "[DONE]" in line:
                continue
            for choice in json.loads(line[5:])["choices"]:
                if choice["delta"].get("content"):
                    got += 1
            if got >= seen:
                break
    return rid


def test_client_leaving_mid_stream_pays_for_what_was_produced(
    gateway: Gateway, fake: FakeOpenAI
) -> None:
    model = priced_model(gateway, fake, input="2.00", output="8.00")
    key = gateway.make_user_key()
    # the whole answer: 1000 prompt (upstream's count) + 10 completion tokens = 2080 micro
    fake.script(model, Behaviour(text=WORDS, prompt_tokens=1000))
    full = chat(gateway, key.key, model, stream=True)
    full_record = gateway.wait_for_usage(full.headers["x-request-id"])
    assert (full_record["completion_tokens"], full_record["amount"]) == (10, 2080)

    fake.script(
        model, Behaviour(text=WORDS, prompt_tokens=1000, stall_after=SEEN, stall_seconds=30)
    )
    rid = _leave_after(gateway, key.key, model, SEEN)
    record = gateway.wait_for_usage(rid)
    assert record["status"] == 499, record
    assert record["amount"] > 0, record
    assert record["amount"] <= full_record["amount"], record
    assert record["official_cost"] == 2 * record["prompt_tokens"] + 8 * record["completion_tokens"]
    [entry, _] = charges(gateway, key.user_id)
    assert (entry["request_id"], entry["amount"]) == (rid, -record["amount"])
    assert wallet(gateway, key.user_id) == (START - 2080 - record["amount"], 0)
    assert record["completion_tokens"] <= SEEN, (
        f"{SEEN} content tokens were produced, {record['completion_tokens']} charged"
    )


def test_client_leaving_before_any_content_is_not_overcharged(
    gateway: Gateway, fake: FakeOpenAI
) -> None:
    """Hang up while the upstream is still silent: the bill is at most the prompt."""
    model = priced_model(gateway, fake, input="2.00", output="8.00")
    key = gateway.make_user_key()
    fake.script(model, Behaviour(text=WORDS, prompt_tokens=1000, stall_after=0, stall_seconds=30))
    body = {"model": model, "messages": USER, "stream": True}
    with gateway.http(key.key) as http, http.stream("POST", "/v1/chat/completions", json=body) as r:
        rid = r.headers["x-request-id"]
        for line in r.iter_lines():
            if line.startswith("data:"):
                break  # the role chunk: nothing generated yet
    record = gateway.wait_for_usage(rid)
    assert record["status"] == 499, record
    assert wallet(gateway, key.user_id) == (START - record["amount"], 0)
    assert record["completion_tokens"] == 0, record
    assert record["amount"] == 2 * record["prompt_tokens"], record
