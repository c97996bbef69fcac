"""Claude Code 2.1.330 itself, through the gateway's Claude Code route, on both databases.

``ANTHROPIC_BASE_URL=<gateway>/api/v1/ai/openai/cc-omg``: the client calls
``POST .../v1/messages?beta=true`` with ``"stream": true`` once per model turn. On an
``anthropic`` channel the call is relayed as it came (FakeAnthropic); on an
OpenAI-compatible channel it is translated to a chat completion and the answer back
(FakeOpenAI). Each test asserts what the user sees (the exact text ``claude -p``
printed), what the upstream saw (one request per turn, every one streamed, the channel's
key and not the user's, and the translated body), and what the user paid: the route's
multiplier (0.2) applied to the official cost, in exact micro-units, with the ledger's
books balanced.

Why the upstream count matters: Claude Code answers an Anthropic stream it cannot parse
(SSE without ``event:`` lines) by re-sending the whole turn with ``stream:false``, and
still prints the right answer (client-requirements §5.1). Only the number of upstream
requests, and their ``stream`` flags, show that the gateway doubled the cost.

Both auth styles are used: ``ANTHROPIC_AUTH_TOKEN`` (``Authorization: Bearer``) and
``ANTHROPIC_API_KEY`` (``x-api-key``), each on both channel kinds.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import anthropic
import pytest

from relaygate.billing.charging import INSUFFICIENT_BALANCE
from tests.clients.claude_code import Auth, ClaudeRun, install_claude_code, run_claude
from tests.fakes.anthropic_payloads import SIGNATURE
from tests.fakes.anthropic_upstream import Behaviour, FakeAnthropic
from tests.fakes.openai_upstream import Behaviour as OpenAIBehaviour
from tests.fakes.openai_upstream import FakeOpenAI, RecordedRequest
from tests.harness import Gateway, IssuedKey
from tests.integration.test_money import START, books, funded_key, wallet

pytestmark = pytest.mark.clients

CC_OMG = "/api/v1/ai/openai/cc-omg"
RUN_TIMEOUT = 60.0
SECRET = "the launch code is swordfish-7301"


@pytest.fixture(scope="module")
def claude() -> Path:
    """The pinned client; installed on a fresh clone, and a failure (never a skip) if not."""
    return install_claude_code()


@pytest.fixture
def fake_anthropic() -> Iterator[FakeAnthropic]:
    with FakeAnthropic() as fake:
        yield fake


def _anthropic_channel(gw: Gateway, fake: FakeAnthropic) -> tuple[str, str]:
    """A fresh priced model on an ``anthropic`` channel: (model, the channel's key)."""
    model = f"claude-e2e-{uuid.uuid4().hex[:8]}"
    channel = gw.add_channel(fake, models=[model], type="anthropic", base_url=fake.url)
    prices = {"input": "3.00", "output": "15.00", "cached_input": "0.30", "cache_write": "3.75"}
    gw.op("PUT", f"/models/{model}", json=prices)
    return model, str(channel["_api_key"])


def _openai_channel(gw: Gateway, fake: FakeOpenAI) -> tuple[str, str]:
    """A fresh priced model on an OpenAI-compatible channel: (model, the channel's key)."""
    model = f"gpt-e2e-{uuid.uuid4().hex[:8]}"
    channel = gw.add_channel(fake, models=[model])
    gw.op("PUT", f"/models/{model}", json={"input": "2.00", "output": "8.00"})
    return model, str(channel["_api_key"])


def _claude(
    claude: Path, gw: Gateway, key: IssuedKey, model: str, prompt: str, cwd: Path, auth: Auth
) -> ClaudeRun:
    run = run_claude(
        gw.url + CC_OMG,
        key.key,
        prompt,
        cwd=cwd,
        timeout=RUN_TIMEOUT,
        model=model,
        auth=auth,
        executable=claude,
    )
    assert run.returncode == 0, (run.stdout, run.stderr)
    return run


def _records(gw: Gateway, user_id: int, count: int) -> list[dict[str, Any]]:
    """The user's usage records, oldest first, once ``count`` of them are written.

    A refused or failed call's record is written after its answer went out, so poll for
    all of them rather than read once.
    """
    deadline = time.monotonic() + 10
    records = gw.usage(user_id=user_id)
    while len(records) < count and time.monotonic() < deadline:
        time.sleep(0.05)
        records = gw.usage(user_id=user_id)
    assert len(records) == count, records
    return records[::-1]  # the operator API lists the newest first


def _assert_billed(
    gw: Gateway, key: IssuedKey, records: list[dict[str, Any]], bills: list[tuple[int, int]]
) -> None:
    """Each turn's (official cost, amount charged), the amount being the official cost ×
    0.2 (the cc-omg route's multiplier), and that is all the wallet lost; the ledger's
    entries sum to the wallet."""
    assert [(r["official_cost"], r["amount"]) for r in records] == bills
    assert all(Decimal(r["multiplier"]) == Decimal("0.2") for r in records), records
    assert [(r["status"], r["stream"], r["free_amount"], r["package_amount"]) for r in records] == [
        (200, True, 0, 0)
    ] * len(records)
    books(gw, key.user_id)
    assert wallet(gw, key.user_id) == (START - sum(amount for _, amount in bills), 0)


def _assert_all_streamed(requests: Sequence[RecordedRequest], count: int) -> None:
    """``count`` upstream calls, all streamed: no turn fell back to ``stream:false``."""
    assert len(requests) == count, [r.body for r in requests]
    assert [r.body.get("stream") for r in requests] == [True] * count


def _text(content: Any) -> str:
    """A tool_result's content as text (a string or a list of text blocks)."""
    if isinstance(content, str):
        return content
    return "".join(block.get("text", "") for block in content if isinstance(block, dict))


# ---------------------------------------------------------------------- anthropic channel


def test_claude_code_on_an_anthropic_channel_is_relayed_and_billed_x02(
    claude: Path, gateway: Gateway, fake_anthropic: FakeAnthropic, tmp_path: Path
) -> None:
    model, channel_key = _anthropic_channel(gateway, fake_anthropic)
    key = gateway.make_user_key()
    fake_anthropic.script(
        model,
        Behaviour(
            thinking="The user greets me.",
            text="Hello from Claude behind Relaygate.",
            input_tokens=1000,
            output_tokens=50,
            cache_read_input_tokens=2000,
            cache_creation_input_tokens=400,
        ),
    )
    run = _claude(claude, gateway, key, model, "say hi", tmp_path, "bearer")
    assert run.stdout == "Hello from Claude behind Relaygate.\n"

    [sent] = fake_anthropic.requests
    _assert_all_streamed([sent], 1)
    assert sent.path == "/v1/messages"
    assert sent.header("x-api-key") == channel_key  # the channel's key, not the user's
    assert key.key not in str(sent.header("x-api-key")) + str(sent.header("authorization"))
    assert "claude-code-20250219" in str(sent.header("anthropic-beta")).split(",")
    # Relayed as Claude Code sent it: the role "system" message and the JSON-string
    # metadata.user_id reach Anthropic untouched.
    assert sent.body["model"] == model
    assert "system" in [m["role"] for m in sent.body["messages"]]
    assert isinstance(sent.body["metadata"]["user_id"], str)

    [record] = _records(gateway, key.user_id, 1)
    assert (record["prompt_tokens"], record["completion_tokens"]) == (3400, 50)
    assert record["cached_tokens"] == 2000
    # 1000 x 3.00 + 2000 x 0.30 + 400 x 3.75 + 50 x 15.00 = 5850; x 0.2 = 1170
    _assert_billed(gateway, key, [record], [(5850, 1170)])


def test_claude_code_read_tool_loop_on_an_anthropic_channel(
    claude: Path, gateway: Gateway, fake_anthropic: FakeAnthropic, tmp_path: Path
) -> None:
    model, channel_key = _anthropic_channel(gateway, fake_anthropic)
    key = gateway.make_user_key()
    notes = tmp_path / "notes.txt"
    notes.write_text(SECRET + "\n", encoding="utf-8")
    fake_anthropic.script(
        model,
        Behaviour(
            thinking="I should read the file.",
            text="",
            tool_uses=[{"id": "toolu_e2e_01", "name": "Read", "input": {"file_path": str(notes)}}],
            json_fragments=4,
            input_tokens=2000,
            output_tokens=100,
        ),
        Behaviour(text="The file says swordfish-7301.", input_tokens=3000, output_tokens=20),
    )
    run = _claude(claude, gateway, key, model, "what does notes.txt say?", tmp_path, "x-api-key")
    assert run.stdout == "The file says swordfish-7301.\n"

    first, second = fake_anthropic.requests
    _assert_all_streamed([first, second], 2)
    assert {first.header("x-api-key"), second.header("x-api-key")} == {channel_key}
    # The assistant turn comes back whole: the thinking block with its signature (which
    # Anthropic verifies), and the tool call with its input assembled from the fragments.
    assistant = [m for m in second.body["messages"] if m["role"] == "assistant"][-1]
    thinking = [b for b in assistant["content"] if b["type"] == "thinking"]
    assert [b["signature"] for b in thinking] == [SIGNATURE]
    calls = [
        (b["id"], b["name"], b["input"]) for b in assistant["content"] if b["type"] == "tool_use"
    ]
    assert calls == [("toolu_e2e_01", "Read", {"file_path": str(notes)})]
    last = second.body["messages"][-1]
    [result] = [b for b in last["content"] if b["type"] == "tool_result"]
    assert result["tool_use_id"] == "toolu_e2e_01" and not result.get("is_error")
    assert SECRET in _text(result["content"])

    records = _records(gateway, key.user_id, 2)
    assert [(r["prompt_tokens"], r["completion_tokens"]) for r in records] == [
        (2000, 100),
        (3000, 20),
    ]
    # 2000 x 3 + 100 x 15 = 7500 -> 1500; 3000 x 3 + 20 x 15 = 9300 -> 1860
    _assert_billed(gateway, key, records, [(7500, 1500), (9300, 1860)])


# ------------------------------------------------------------------ openai-compatible channel


def _chat_requests(fake: FakeOpenAI) -> list[RecordedRequest]:
    return fake.requests_for("/chat/completions")


def test_claude_code_on_an_openai_channel_is_translated_and_billed_x02(
    claude: Path, gateway: Gateway, fake: FakeOpenAI, tmp_path: Path
) -> None:
    model, channel_key = _openai_channel(gateway, fake)
    key = gateway.make_user_key()
    fake.script(
        model,
        OpenAIBehaviour(
            text="Hello from a chat model behind Relaygate.",
            prompt_tokens=1500,
            completion_tokens=250,
        ),
    )
    run = _claude(claude, gateway, key, model, "say hi", tmp_path, "x-api-key")
    assert run.stdout == "Hello from a chat model behind Relaygate.\n"

    assert len(fake.requests) == 1, [r.path for r in fake.requests]
    [sent] = _chat_requests(fake)
    _assert_all_streamed([sent], 1)
    assert sent.authorization == f"Bearer {channel_key}"
    body = sent.body
    assert body["model"] == model
    assert body["stream_options"] == {"include_usage": True}
    # A chat completion request, not a Messages body: roles and string/part contents only.
    assert not {"thinking", "metadata", "context_management", "system"} & set(body)
    roles = [m["role"] for m in body["messages"]]
    assert roles[0] == "system" and "user" in roles
    assert set(roles) <= {"system", "user"}
    assert all(isinstance(m["content"], str | list) for m in body["messages"])
    assert "x-anthropic-billing-header" not in json.dumps(body["messages"])
    assert "Read" in [t["function"]["name"] for t in body["tools"]]
    assert all(t["type"] == "function" for t in body["tools"])

    [record] = _records(gateway, key.user_id, 1)
    assert (record["prompt_tokens"], record["completion_tokens"]) == (1500, 250)
    assert record["usage_estimated"] is False
    # 1500 x 2.00 + 250 x 8.00 = 5000; x 0.2 = 1000
    _assert_billed(gateway, key, [record], [(5000, 1000)])


def test_claude_code_read_tool_loop_on_an_openai_channel(
    claude: Path, gateway: Gateway, fake: FakeOpenAI, tmp_path: Path
) -> None:
    model, channel_key = _openai_channel(gateway, fake)
    key = gateway.make_user_key()
    notes = tmp_path / "notes.txt"
    notes.write_text(SECRET + "\n", encoding="utf-8")
    arguments = json.dumps({"file_path": str(notes)})
    cut = [arguments[:7], arguments[7:19], arguments[19:]]
    tool_call = [  # the call's id and name first, then its arguments in three fragments
        {"index": 0, "id": "call_e2e_01", "type": "function",
         "function": {"name": "Read", "arguments": ""}},
        *({"index": 0, "function": {"arguments": piece}} for piece in cut),
    ]  # fmt: skip
    fake.script(
        model,
        OpenAIBehaviour(tool_calls=tool_call, prompt_tokens=2500, completion_tokens=125),
        OpenAIBehaviour(
            text="The file says swordfish-7301.", prompt_tokens=3000, completion_tokens=30
        ),
    )
    run = _claude(claude, gateway, key, model, "what does notes.txt say?", tmp_path, "bearer")
    assert run.stdout == "The file says swordfish-7301.\n"

    assert len(fake.requests) == 2, [r.path for r in fake.requests]
    first, second = _chat_requests(fake)
    _assert_all_streamed([first, second], 2)
    assert {first.authorization, second.authorization} == {f"Bearer {channel_key}"}
    assert second.body["stream_options"] == {"include_usage": True}
    messages = second.body["messages"]
    # The call came back as an assistant tool call with the fragments joined ...
    [assistant] = [m for m in messages if m["role"] == "assistant"]
    [call] = assistant["tool_calls"]
    assert (call["id"], call["type"], call["function"]["name"]) == (
        "call_e2e_01",
        "function",
        "Read",
    )
    assert json.loads(call["function"]["arguments"]) == {"file_path": str(notes)}
    # ... followed by the file's content as the tool's message.
    tool = messages[messages.index(assistant) + 1]
    assert (tool["role"], tool["tool_call_id"]) == ("tool", "call_e2e_01")
    assert SECRET in tool["content"]
    assert not tool["content"].startswith("Error")

    records = _records(gateway, key.user_id, 2)
    assert [(r["prompt_tokens"], r["completion_tokens"]) for r in records] == [
        (2500, 125),
        (3000, 30),
    ]
    # 2500 x 2 + 125 x 8 = 6000 -> 1200; 3000 x 2 + 30 x 8 = 6240 -> 1248
    _assert_billed(gateway, key, records, [(6000, 1200), (6240, 1248)])


# ---------------------------------------------------------------- money edges, seen by the client


def test_claude_code_turn_is_paid_from_a_cc_omg_package_at_official_price(
    claude: Path, gateway: Gateway, fake_anthropic: FakeAnthropic, tmp_path: Path
) -> None:
    """A package scoped to the cc-omg route pays Claude Code's turns unmultiplied; the same
    user's call on the plain route is outside the scope and paid from the balance."""
    model, _ = _anthropic_channel(gateway, fake_anthropic)
    kind = gateway.op(
        "POST",
        "/package-types",
        json={"name": f"cc-{uuid.uuid4().hex[:8]}", "amount": "1", "scope_routes": ["cc-omg"]},
    )
    key = gateway.make_user_key()
    package = gateway.op("POST", f"/users/{key.user_id}/packages", json={"type_id": kind["id"]})
    fake_anthropic.script(
        model, Behaviour(text="Paid by the package.", input_tokens=1000, output_tokens=100)
    )
    run = _claude(claude, gateway, key, model, "say hi", tmp_path, "bearer")
    assert run.stdout == "Paid by the package.\n"
    [record] = _records(gateway, key.user_id, 1)
    # 1000 x 3.00 + 100 x 15.00 = 4500 official, all of it from the package, nothing billed
    assert (record["official_cost"], record["package_amount"], record["amount"]) == (4500, 4500, 0)
    data = books(gateway, key.user_id)
    assert data["packages"][str(package["id"])]["remaining"] == 1_000_000 - 4500
    assert data["packages"][str(package["id"])]["ledger_sum"] == 1_000_000 - 4500
    assert wallet(gateway, key.user_id) == (START, 0)

    fake_anthropic.script(
        model, Behaviour(text="Plain route.", input_tokens=1000, output_tokens=100)
    )
    sdk = anthropic.Anthropic(base_url=gateway.url, api_key=key.key, max_retries=0)
    raw = sdk.messages.with_raw_response.create(
        model=model, max_tokens=200, messages=[{"role": "user", "content": "hi"}]
    )
    plain = gateway.wait_for_usage(raw.headers["request-id"])
    assert (plain["official_cost"], plain["package_amount"], plain["amount"]) == (4500, 0, 4500)
    assert wallet(gateway, key.user_id) == (START - 4500, 0)


def test_claude_code_with_an_unfunded_key_fails_at_once_with_the_402(
    claude: Path, gateway: Gateway, fake_anthropic: FakeAnthropic, tmp_path: Path
) -> None:
    """A 402 ``billing_error`` is final for Claude Code: it prints it and exits 1 (a 401
    or 5xx would have it retry for minutes), and nothing reaches the upstream."""
    model, _ = _anthropic_channel(gateway, fake_anthropic)
    key = funded_key(gateway)  # never credited
    run = run_claude(
        gateway.url + CC_OMG, key.key, "say hi", cwd=tmp_path, timeout=RUN_TIMEOUT,
        model=model, executable=claude,
    )  # fmt: skip
    assert run.returncode == 1, (run.stdout, run.stderr)
    assert run.stdout == f"API Error: 402 {INSUFFICIENT_BALANCE}\n"
    assert not fake_anthropic.requests
    [record] = _records(gateway, key.user_id, 1)  # one attempt: no retry
    assert (record["status"], record["amount"], record["official_cost"]) == (402, 0, 0)
    assert wallet(gateway, key.user_id) == (0, 0)


def test_claude_code_retries_an_overloaded_upstream_and_pays_once(
    claude: Path, gateway: Gateway, fake_anthropic: FakeAnthropic, tmp_path: Path
) -> None:
    """Anthropic's 529 reaches Claude Code as a 529 (not a 503), which it retries; the
    failed attempt is recorded and not charged, the retry is charged once."""
    model, _ = _anthropic_channel(gateway, fake_anthropic)
    key = gateway.make_user_key()
    fake_anthropic.script(
        model,
        Behaviour(status=529),
        Behaviour(text="Second time lucky.", input_tokens=1000, output_tokens=100),
    )
    run = _claude(claude, gateway, key, model, "say hi", tmp_path, "x-api-key")
    assert run.stdout == "Second time lucky.\n"
    assert [r.status for r in fake_anthropic.requests] == [529, 200]
    _assert_all_streamed(fake_anthropic.requests, 2)
    failed, served = _records(gateway, key.user_id, 2)
    assert (failed["status"], failed["amount"], failed["official_cost"]) == (529, 0, 0)
    assert (served["status"], served["official_cost"], served["amount"]) == (200, 4500, 900)
    books(gateway, key.user_id)
    assert wallet(gateway, key.user_id) == (START - 900, 0)


def test_claude_code_with_a_key_not_permitted_the_model_fails_at_once(
    claude: Path, gateway: Gateway, fake_anthropic: FakeAnthropic, tmp_path: Path
) -> None:
    """A key whose ``permissions`` leave the model out is refused with Anthropic's 403
    ``permission_error``: Claude Code prints it and exits 1. (It was a 401, which Claude
    Code retries with backoff for minutes: the user saw a hang, not the reason.)"""
    model, _ = _anthropic_channel(gateway, fake_anthropic)
    other, _ = _anthropic_channel(gateway, fake_anthropic)
    key = gateway.make_user_key(permissions=[other])
    run = run_claude(
        gateway.url + CC_OMG, key.key, "say hi", cwd=tmp_path, timeout=RUN_TIMEOUT,
        model=model, auth="x-api-key", executable=claude,
    )  # fmt: skip
    assert run.returncode == 1, (run.stdout, run.stderr)
    # Claude Code's own words for any 403, then the gateway's message
    message = f"This API key is not permitted to use the model '{model}'."
    assert run.stdout == f"Failed to authenticate. API Error: 403 {message}\n"
    assert not fake_anthropic.requests
    [record] = _records(gateway, key.user_id, 1)  # one attempt: no retry
    assert (record["status"], record["amount"]) == (403, 0)
    assert wallet(gateway, key.user_id) == (START, 0)
