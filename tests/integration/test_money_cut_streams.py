"""A stream the client leaves is billed for the text it delivered, in every dialect.

The upstream's own count is often missing or stale when a stream is cut: Anthropic's
``message_start`` says 1 output token and the final count never comes; an OpenAI
stream's usage chunk comes last. The bill is the larger of that count and an estimate
of the delivered text, read whatever the JSON's spacing. Both databases.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import anthropic
import pytest

from tests.fakes.anthropic_upstream import Behaviour as AnthropicBehaviour
from tests.fakes.anthropic_upstream import FakeAnthropic
from tests.fakes.openai_upstream import Behaviour, FakeOpenAI
from tests.harness import Gateway
from tests.integration.test_anthropic_routes import anthropic_model
from tests.integration.test_money import USER, books, charges, priced_model

PIECES = 60  # words the upstream would stream
SEEN = 40  # text deltas the client reads before it hangs up
WORDS = " ".join(f"w{i}" for i in range(PIECES))


@pytest.fixture
def fake_anthropic() -> Iterator[FakeAnthropic]:
    with FakeAnthropic() as fake:
        yield fake


def _assert_billed_for_delivered(gw: Gateway, user_id: int, rid: str) -> None:
    """Billed roughly the delivered text: at least half of what the client read (each
    word is a token or two), at most all the upstream could have sent."""
    record = gw.wait_for_usage(rid)
    assert record["status"] == 499, record
    assert SEEN // 2 <= record["completion_tokens"] <= 3 * PIECES, record
    assert record["official_cost"] == 2 * record["prompt_tokens"] + 8 * record["completion_tokens"]
    [entry] = charges(gw, user_id)
    assert (entry["request_id"], entry["amount"]) == (rid, -record["amount"])
    books(gw, user_id)


def test_cut_anthropic_stream_is_billed_for_its_text(
    gateway: Gateway, fake_anthropic: FakeAnthropic
) -> None:
    """Today's bill was the 1 output token of ``message_start``."""
    model = anthropic_model(gateway, fake_anthropic, input="2.00", output="8.00")
    key = gateway.make_user_key()
    fake_anthropic.script(model, AnthropicBehaviour(text=WORDS, chunk_delay=0.03))
    client = anthropic.Anthropic(base_url=gateway.url, api_key=key.key, max_retries=0)
    seen = 0
    with client.messages.with_streaming_response.create(
        model=model, max_tokens=1000, messages=USER, stream=True
    ) as response:
        rid = response.headers["request-id"]
        for line in response.iter_lines():
            if line.startswith("data:") and '"text_delta"' in line:
                seen += 1
            if seen >= SEEN:
                break
    _assert_billed_for_delivered(gateway, key.user_id, rid)


def test_cut_openai_stream_with_spaced_json_is_billed_for_its_text(
    gateway: Gateway, fake: FakeOpenAI
) -> None:
    """``"content": "w1"`` (with a space) was billed 0 output tokens."""
    model = priced_model(gateway, fake, input="2.00", output="8.00")
    key = gateway.make_user_key()
    fake.script(
        model,
        Behaviour(text=WORDS, spaced_json=True, stall_after=SEEN, stall_seconds=30),
    )
    body = {"model": model, "messages": USER, "stream": True, "max_tokens": 1000}
    seen = 0
    with gateway.http(key.key) as http, http.stream("POST", "/v1/chat/completions", json=body) as r:
        rid = r.headers["x-request-id"]
        for line in r.iter_lines():
            if line.startswith("data:") and "[DONE]" not in line:
                seen += sum(1 for c in json.loads(line[5:])["choices"] if c["delta"].get("content"))
            if seen >= SEEN:
                break
    _assert_billed_for_delivered(gateway, key.user_id, rid)
