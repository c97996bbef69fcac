"""A key's own limits over HTTP: requests per minute, tokens per minute, calls in flight."""

from __future__ import annotations

import threading

from tests.fakes.openai_payloads import Behaviour
from tests.fakes.openai_upstream import FakeOpenAI
from tests.harness import Gateway
from tests.integration.test_money import chat, priced_model


def test_key_rpm_refuses_past_its_limit_with_headers(gateway: Gateway, fake: FakeOpenAI) -> None:
    model = priced_model(gateway, fake, input="1.00", output="1.00")
    limited = gateway.make_user_key(rpm_limit=3)
    other = gateway.make_user_key(user_id=limited.user_id)
    statuses = [chat(gateway, limited.key, model).status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    refused = chat(gateway, limited.key, model)
    assert refused.status_code == 429
    assert int(refused.headers["retry-after"]) >= 1
    assert refused.headers["x-ratelimit-limit-requests"] == "3"
    assert refused.json()["error"]["code"] == "rate_limit_exceeded"
    assert chat(gateway, other.key, model).status_code == 200  # other keys are not affected


def test_key_tpm_counts_the_tokens_used(gateway: Gateway, fake: FakeOpenAI) -> None:
    model = priced_model(gateway, fake, input="1.00", output="1.00")
    fake.default = Behaviour(prompt_tokens=400, completion_tokens=400)
    limited = gateway.make_user_key(tpm_limit=1000)
    first = chat(gateway, limited.key, model)
    assert first.status_code == 200
    assert "x-ratelimit-limit-tokens" in first.headers
    statuses = [chat(gateway, limited.key, model).status_code for _ in range(2)]
    assert statuses[-1] == 429, statuses  # 800 tokens used per call against 1,000 a minute


def test_key_concurrency_refuses_a_call_over_the_limit(gateway: Gateway, fake: FakeOpenAI) -> None:
    model = priced_model(gateway, fake, input="1.00", output="1.00")
    limited = gateway.make_user_key(concurrency_limit=1)
    fake.script(model, Behaviour(latency=1.5))
    results: list[int] = []
    slow = threading.Thread(
        target=lambda: results.append(chat(gateway, limited.key, model).status_code)
    )
    slow.start()
    while not fake.requests:
        threading.Event().wait(0.02)
    refused = chat(gateway, limited.key, model)
    slow.join()
    assert refused.status_code == 429, refused.text
    assert refused.json()["error"]["code"] == "concurrency_limit_exceeded"
    assert results == [200]
    assert chat(gateway, limited.key, model).status_code == 200  # the slot came back
