"""Many simultaneous calls through one gateway: no cross-talk, one record each."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

from tests.fakes.openai_upstream import Behaviour, FakeOpenAI
from tests.harness import Gateway

CALLS = 32


def _last_user(body: dict[str, Any]) -> str:
    return f"answer to {body['messages'][-1]['content']}"


def test_concurrent_streams_do_not_mix(gateway: Gateway, fake: FakeOpenAI) -> None:
    fake.default = Behaviour(reply=_last_user, chunk_delay=0.005)
    ch = gateway.add_channel(fake)
    model = next(iter(ch["models"]))
    client = gateway.openai(gateway.make_user_key().key)

    def one(i: int) -> tuple[str, str, str]:
        with client.chat.completions.with_streaming_response.create(
            model=model,
            messages=[{"role": "user", "content": f"question {i}"}],
            stream=True,
            stream_options={"include_usage": True},
        ) as response:
            rid = response.headers["x-request-id"]
            text = "".join(c.choices[0].delta.content or "" for c in response.parse() if c.choices)
        return f"answer to question {i}", text, rid

    with ThreadPoolExecutor(16) as pool:
        results = list(pool.map(one, range(CALLS)))
    for expected, text, _ in results:
        assert text == expected
    rids = [rid for _, _, rid in results]
    assert len(set(rids)) == CALLS
    for rid in rids:
        record = gateway.wait_for_usage(rid)
        assert record["status"] == 200 and record["completion_tokens"] == 4


def test_long_stream_arrives_intact(sqlite_gateway: Gateway, fake: FakeOpenAI) -> None:
    words = [f"token{i}" for i in range(3000)]
    fake.default = Behaviour(text=" ".join(words))
    ch = sqlite_gateway.add_channel(fake)
    model = next(iter(ch["models"]))
    client = sqlite_gateway.openai(sqlite_gateway.make_user_key().key)
    stream = client.chat.completions.create(
        model=model, messages=[{"role": "user", "content": "long"}], stream=True
    )
    text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    assert text == " ".join(words)
