"""Claude Code and Codex themselves on OpenAI-compatible models that refuse fields.

The real client (``claude -p``, an unknown model name: adaptive thinking with an effort,
``max_tokens`` 32,000, a mid-conversation ``system`` message, its tools) through the
Claude Code route to channels whose fake models refuse what the real ones refuse, with
their real texts (tests/fakes/openai_model_rules.py). Claude Code strips features and
retries on a 400 and then fails (client-requirements §5.1), so each run must print the
answer from exactly one upstream request. Codex (``parallel_tool_calls: true`` on every
turn, which the o-series refuse) on an o3 chat channel, likewise.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from tests.clients.claude_code import install_claude_code, run_claude
from tests.clients.codex import install_codex, run_codex
from tests.fakes.openai_model_rules import deepseek_reasoner_like, gpt4o_like, o3_like
from tests.fakes.openai_upstream import Behaviour, FakeOpenAI
from tests.harness import Gateway

pytestmark = pytest.mark.clients

RULES = {"o3": o3_like, "gpt-4o": gpt4o_like, "deepseek-reasoner": deepseek_reasoner_like}


@pytest.fixture(scope="module")
def claude() -> Path:
    return install_claude_code()


@pytest.mark.parametrize("upstream", list(RULES))
def test_claude_code_is_accepted_by_the_model(
    claude: Path, sqlite_gateway: Gateway, fake: FakeOpenAI, tmp_path: Path, upstream: str
) -> None:
    model = f"cc-{upstream}-{uuid.uuid4().hex[:6]}"
    fake.refuse[upstream] = RULES[upstream]
    sqlite_gateway.add_channel(fake, models={model: upstream})
    fake.script(upstream, Behaviour(text=f"Hello from {upstream}."))
    key = sqlite_gateway.make_user_key()
    run = run_claude(
        sqlite_gateway.url + "/api/v1/ai/openai/cc-omg", key.key, "say hi", cwd=tmp_path,
        timeout=60.0, model=model, auth="bearer", executable=claude,
    )  # fmt: skip
    assert (run.returncode, run.stdout) == (0, f"Hello from {upstream}.\n"), run.stderr
    [sent] = [r for r in fake.requests if r.path.endswith("/chat/completions")]
    assert sent.status == 200 and sent.body["stream"] is True
    body = sent.body
    if upstream == "o3":
        assert body["max_completion_tokens"] == 32000 and "max_tokens" not in body
        assert {m["role"] for m in body["messages"]} <= {"developer", "user"}
    else:
        assert body["max_tokens"] == (16384 if upstream == "gpt-4o" else 32000)
        assert "reasoning_effort" not in body


def test_codex_is_accepted_by_an_o3_chat_model(
    sqlite_gateway: Gateway, fake: FakeOpenAI, tmp_path: Path
) -> None:
    model = f"codex-o3-{uuid.uuid4().hex[:6]}"
    fake.refuse["o3"] = o3_like
    sqlite_gateway.add_channel(fake, models={model: "o3"})
    fake.script("o3", Behaviour(text="hi from o3"))
    key = sqlite_gateway.make_user_key()
    run = run_codex(
        sqlite_gateway.url + "/api/v1/ai/openai/codex-omg/v1", key.key, "say hi", cwd=tmp_path,
        timeout=60.0, model=model, json=True, executable=install_codex(),
    )  # fmt: skip
    assert (run.returncode, run.last_message) == (0, "hi from o3"), run.stderr
    [sent] = [r for r in fake.requests if r.path.endswith("/chat/completions")]
    assert sent.status == 200 and "parallel_tool_calls" not in sent.body
    assert sent.body["tools"] and sent.body["messages"][0]["role"] == "developer"
