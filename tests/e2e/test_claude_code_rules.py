"""Claude Code itself through the cc-omg route with an override rule that appends to the
system prompt (docs/rules.md): the upstream sees Claude Code's own system prompt with the
rule's text after it, the run prints the answer as usual, and the bill names the rule."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.clients.claude_code import install_claude_code, run_claude
from tests.fakes.anthropic_upstream import Behaviour, FakeAnthropic
from tests.harness import Gateway

pytestmark = pytest.mark.clients

CC_OMG = "/api/v1/ai/openai/cc-omg"
HOUSE_RULE = "Always answer in French."


@pytest.fixture(scope="module")
def claude() -> Path:
    return install_claude_code()


@pytest.fixture
def fake_anthropic() -> Iterator[FakeAnthropic]:
    with FakeAnthropic() as fake:
        yield fake


def test_claude_code_with_a_rule_that_appends_to_the_system_prompt(
    claude: Path, sqlite_gateway: Gateway, fake_anthropic: FakeAnthropic, tmp_path: Path
) -> None:
    gw = sqlite_gateway
    model = f"claude-e2e-{uuid.uuid4().hex[:8]}"
    gw.add_channel(fake_anthropic, models=[model], type="anthropic", base_url=fake_anthropic.url)
    key = gw.make_user_key()
    admin = gw.make_user_key(user_id=key.user_id, is_admin=True).key
    with gw.http(admin) as http:
        made = http.post(
            "/api/v1/user/override-rules/create",
            json={
                "name": "french claude code",
                "match": {"route_groups": ["cc-omg"], "endpoints": ["messages"]},
                "actions": [{"type": "system_prompt", "mode": "append", "text": HOUSE_RULE}],
            },
        )
    assert made.status_code == 200, made.text
    fake_anthropic.script(model, Behaviour(text="Bonjour !", input_tokens=100, output_tokens=5))
    run = run_claude(
        gw.url + CC_OMG,
        key.key,
        "say hi",
        cwd=tmp_path,
        timeout=60.0,
        model=model,
        auth="bearer",
        executable=claude,
    )
    assert run.returncode == 0, (run.stdout, run.stderr)
    assert run.stdout == "Bonjour !\n"
    [sent] = fake_anthropic.requests
    system = sent.body["system"]
    assert isinstance(system, list) and len(system) >= 2  # Claude Code's own blocks, then ours
    assert system[-1] == {"type": "text", "text": HOUSE_RULE}
    assert "Claude" in "".join(block.get("text", "") for block in system[:-1])
    records = gw.usage(user_id=key.user_id)
    assert [r["rules"] for r in records] == [str(made.json()["data"]["id"])]
