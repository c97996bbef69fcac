"""Codex CLI 0.169.0 itself, through the gateway's Codex route, on both databases.

The provider's ``base_url`` is ``<gateway>/api/v1/ai/openai/codex-omg/v1``: ``codex exec``
calls ``POST .../v1/responses`` with ``"stream": true`` and ``store: false`` once per model
turn, re-sending the whole history each time (client-requirements §5.2). The gateway
translates each turn to a chat completion (OpenAI-compatible channel, FakeOpenAI) or an
Anthropic Messages call (``anthropic`` channel, FakeAnthropic) and renders the answer
back as the Responses event stream Codex needs (``response.output_item.done`` for every
item, ``response.completed`` last, after which Codex hangs up at once).

Each test asserts what the user sees (Codex's final message, exactly, from ``-o``, and its
JSON events), what the upstream saw (one request per turn, streamed, the channel's key,
the translated body), and what the user paid: the route's multiplier (0.2) applied to
the official cost, in exact micro-units, with the ledger's books balanced. The tool loops
run a real command (``exec_command`` → ``cat hello.txt``) in Codex's read-only sandbox,
and check that its output reaches the upstream as the tool's result.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from relaygate.billing.charging import INSUFFICIENT_BALANCE
from tests.clients.codex import CodexRun, install_codex, run_codex
from tests.fakes.anthropic_payloads import SIGNATURE
from tests.fakes.anthropic_upstream import Behaviour, FakeAnthropic
from tests.fakes.openai_upstream import Behaviour as OpenAIBehaviour
from tests.fakes.openai_upstream import FakeOpenAI, RecordedRequest
from tests.harness import Gateway, IssuedKey
from tests.integration.test_money import START, books, funded_key, wallet

pytestmark = pytest.mark.clients

CODEX_OMG = "/api/v1/ai/openai/codex-omg/v1"
RUN_TIMEOUT = 60.0
SECRET = "the launch code is swordfish-7301"
TOOL_OUTPUT_HEAD = "Process exited with code 0"  # how Codex reports a finished command


@pytest.fixture(scope="module")
def codex() -> Path:
    """The pinned client; installed on a fresh clone, and a failure (never a skip) if not."""
    return install_codex()


@pytest.fixture
def fake_anthropic() -> Iterator[FakeAnthropic]:
    with FakeAnthropic() as fake:
        yield fake


def _anthropic_channel(gw: Gateway, fake: FakeAnthropic) -> tuple[str, str]:
    """A fresh priced model on an ``anthropic`` channel: (model, the channel's key)."""
    model = f"claude-codex-{uuid.uuid4().hex[:8]}"
    channel = gw.add_channel(fake, models=[model], type="anthropic", base_url=fake.url)
    prices = {"input": "3.00", "output": "15.00", "cached_input": "0.30", "cache_write": "3.75"}
    gw.op("PUT", f"/models/{model}", json=prices)
    return model, str(channel["_api_key"])


def _openai_channel(gw: Gateway, fake: FakeOpenAI) -> tuple[str, str]:
    """A fresh priced model on an OpenAI-compatible channel: (model, the channel's key)."""
    model = f"gpt-codex-{uuid.uuid4().hex[:8]}"
    channel = gw.add_channel(fake, models=[model])
    gw.op("PUT", f"/models/{model}", json={"input": "2.00", "output": "8.00"})
    return model, str(channel["_api_key"])


def _codex(
    codex: Path, gw: Gateway, key: IssuedKey, model: str, prompt: str, cwd: Path,
    route: str = CODEX_OMG,
) -> CodexRun:  # fmt: skip
    """One ``codex exec`` through the gateway that must succeed."""
    run = run_codex(
        gw.url + route, key.key, prompt, cwd=cwd, timeout=RUN_TIMEOUT, model=model, json=True,
        executable=codex,
    )  # fmt: skip
    assert run.returncode == 0, (run.stdout, run.stderr)
    return run


def _items(run: CodexRun, kind: str) -> list[dict[str, Any]]:
    """The completed items of one ``kind`` in Codex's JSON events."""
    return [
        e["item"]
        for e in run.events()
        if e["type"] == "item.completed" and e["item"]["type"] == kind
    ]


def _turn_usage(run: CodexRun) -> tuple[int, int]:
    """(input, output) tokens Codex read from ``response.completed``, summed over turns."""
    [done] = [e for e in run.events() if e["type"] == "turn.completed"]
    return done["usage"]["input_tokens"], done["usage"]["output_tokens"]


def _records(gw: Gateway, user_id: int, count: int) -> list[dict[str, Any]]:
    """The user's usage records, oldest first, once ``count`` of them are written."""
    deadline = time.monotonic() + 10
    records = gw.usage(user_id=user_id)
    while len(records) < count and time.monotonic() < deadline:
        time.sleep(0.05)
        records = gw.usage(user_id=user_id)
    assert len(records) == count, records
    return records[::-1]  # the operator API lists the newest first


def _assert_billed(
    gw: Gateway,
    key: IssuedKey,
    records: list[dict[str, Any]],
    bills: list[tuple[int, int]],
    multiplier: str = "0.2",
) -> None:
    """Each turn's (official cost, amount charged), every one a served Responses stream
    at the route's ``multiplier``, and that is all the wallet lost; the books balance.

    ``status`` 200 on every record also shows that Codex hanging up right after
    ``response.completed`` was not taken for a failed or cancelled call."""
    assert [(r["official_cost"], r["amount"]) for r in records] == bills
    assert all(Decimal(r["multiplier"]) == Decimal(multiplier) for r in records), records
    assert [
        (r["endpoint"], r["status"], r["stream"], r["free_amount"], r["package_amount"])
        for r in records
    ] == [("responses", 200, True, 0, 0)] * len(records)
    books(gw, key.user_id)
    assert wallet(gw, key.user_id) == (START - sum(amount for _, amount in bills), 0)


def _assert_all_streamed(requests: Sequence[RecordedRequest], count: int) -> None:
    """``count`` upstream calls, all streamed: one per Codex turn, no retry."""
    assert len(requests) == count, [(r.path, r.status) for r in requests]
    assert [(r.body.get("stream"), r.status) for r in requests] == [(True, 200)] * count


def _text(content: Any) -> str:
    """A tool_result's content as text (a string or a list of text blocks)."""
    if isinstance(content, str):
        return content
    return "".join(block.get("text", "") for block in content if isinstance(block, dict))


def _tool_names(tools: list[dict[str, Any]]) -> set[str]:
    return {str(t.get("function", t).get("name")) for t in tools}


# ------------------------------------------------------------------ openai-compatible channel


def test_codex_on_an_openai_channel_is_translated_and_billed_x02(
    codex: Path, gateway: Gateway, fake: FakeOpenAI, tmp_path: Path
) -> None:
    model, channel_key = _openai_channel(gateway, fake)
    key = gateway.make_user_key()
    reply = "Hello from a chat model behind Relaygate."
    fake.script(model, OpenAIBehaviour(text=reply, prompt_tokens=1500, completion_tokens=250))
    run = _codex(codex, gateway, key, model, "say hi", tmp_path)
    assert run.last_message == reply
    assert [m["text"] for m in _items(run, "agent_message")] == [reply]
    assert _turn_usage(run) == (1500, 250)  # read from response.completed

    [sent] = fake.requests
    _assert_all_streamed([sent], 1)
    assert sent.path == "/v1/chat/completions"
    assert sent.authorization == f"Bearer {channel_key}"  # the channel's key, not the user's
    body = sent.body
    assert body["model"] == model
    assert body["stream_options"] == {"include_usage": True}
    # A chat completion, not a Responses body: the gateway's own fields stay behind.
    assert not {"input", "store", "include", "reasoning", "client_metadata"} & set(body)
    assert not {"prompt_cache_key", "instructions"} & set(body)
    # Codex's two developer messages become the one system message, then its two user
    # messages (the environment context, the prompt) follow as they were.
    roles = [m["role"] for m in body["messages"]]
    assert roles == ["system", "user", "user"]
    assert body["messages"][0]["content"].startswith("You are a coding agent running in the Codex")
    assert "<skills_instructions>" in body["messages"][0]["content"]
    assert body["messages"][1]["content"].startswith("<environment_context>")
    assert body["messages"][2]["content"] == "say hi"
    # Function tools as they came, the namespace flattened, the hosted web_search dropped.
    assert all(t["type"] == "function" for t in body["tools"])
    names = _tool_names(body["tools"])
    assert {"exec_command", "write_stdin", "multi_agent_v1__spawn_agent"} <= names
    assert "web_search" not in names
    assert (body["tool_choice"], body["parallel_tool_calls"]) == ("auto", True)

    [record] = _records(gateway, key.user_id, 1)
    assert (record["prompt_tokens"], record["completion_tokens"]) == (1500, 250)
    assert record["usage_estimated"] is False
    # 1500 x 2.00 + 250 x 8.00 = 5000; x 0.2 = 1000
    _assert_billed(gateway, key, [record], [(5000, 1000)])


def test_codex_exec_command_loop_on_an_openai_channel(
    codex: Path, gateway: Gateway, fake: FakeOpenAI, tmp_path: Path
) -> None:
    model, channel_key = _openai_channel(gateway, fake)
    key = gateway.make_user_key()
    (tmp_path / "hello.txt").write_text(SECRET + "\n", encoding="utf-8")
    arguments = json.dumps({"cmd": "cat hello.txt"})
    cut = [arguments[:6], arguments[6:15], arguments[15:]]
    tool_call = [  # the call's id and name first, then its arguments in three fragments
        {"index": 0, "id": "call_codex_01", "type": "function",
         "function": {"name": "exec_command", "arguments": ""}},
        *({"index": 0, "function": {"arguments": piece}} for piece in cut),
    ]  # fmt: skip
    fake.script(
        model,
        OpenAIBehaviour(tool_calls=tool_call, prompt_tokens=2500, completion_tokens=125),
        OpenAIBehaviour(
            text="The file says swordfish-7301.", prompt_tokens=3000, completion_tokens=30
        ),
    )
    run = _codex(codex, gateway, key, model, "what does hello.txt say?", tmp_path)
    assert run.last_message == "The file says swordfish-7301."
    # Codex ran the command the model asked for, in its sandbox, and it worked.
    [command] = _items(run, "command_execution")
    assert (command["exit_code"], command["aggregated_output"]) == (0, SECRET + "\n")
    assert _turn_usage(run) == (5500, 155)

    first, second = fake.requests
    _assert_all_streamed([first, second], 2)
    assert {first.authorization, second.authorization} == {f"Bearer {channel_key}"}
    messages = second.body["messages"]
    # Codex re-sent the history: the call came back as an assistant tool call ...
    [assistant] = [m for m in messages if m["role"] == "assistant"]
    [call] = assistant["tool_calls"]
    assert (call["id"], call["type"], call["function"]["name"]) == (
        "call_codex_01",
        "function",
        "exec_command",
    )
    assert json.loads(call["function"]["arguments"]) == {"cmd": "cat hello.txt"}
    # ... followed by the command's output as the tool's message, last.
    tool = messages[messages.index(assistant) + 1]
    assert tool is messages[-1]
    assert (tool["role"], tool["tool_call_id"]) == ("tool", "call_codex_01")
    assert TOOL_OUTPUT_HEAD in tool["content"] and SECRET in tool["content"]
    assert messages[: len(first.body["messages"])] == first.body["messages"]

    records = _records(gateway, key.user_id, 2)
    assert [(r["prompt_tokens"], r["completion_tokens"]) for r in records] == [
        (2500, 125),
        (3000, 30),
    ]
    # 2500 x 2 + 125 x 8 = 6000 -> 1200; 3000 x 2 + 30 x 8 = 6240 -> 1248
    _assert_billed(gateway, key, records, [(6000, 1200), (6240, 1248)])


# ---------------------------------------------------------------------- anthropic channel


def test_codex_on_an_anthropic_channel_is_translated_and_billed_x02(
    codex: Path, gateway: Gateway, fake_anthropic: FakeAnthropic, tmp_path: Path
) -> None:
    model, channel_key = _anthropic_channel(gateway, fake_anthropic)
    key = gateway.make_user_key()
    reply = "Hello from Claude behind Relaygate."
    fake_anthropic.script(
        model,
        Behaviour(
            text=reply,
            input_tokens=1000,
            output_tokens=50,
            cache_read_input_tokens=2000,
            cache_creation_input_tokens=400,
        ),
    )
    run = _codex(codex, gateway, key, model, "say hi", tmp_path)
    assert run.last_message == reply
    assert [m["text"] for m in _items(run, "agent_message")] == [reply]

    [sent] = fake_anthropic.requests
    _assert_all_streamed([sent], 1)
    assert sent.path == "/v1/messages"
    assert sent.header("x-api-key") == channel_key
    assert key.key not in str(sent.header("x-api-key")) + str(sent.header("authorization"))
    body = sent.body
    assert body["model"] == model
    # Codex sets no output limit; Anthropic requires one: the documented default. (It was
    # the billing hold's 1,024, and Codex fails a whole run on a turn cut off by it.)
    assert body["max_tokens"] == 4096
    # reasoning {"summary": "auto"} alone does not switch thinking on (nor bill for it)
    assert "thinking" not in body
    system = [block["text"] for block in body["system"]]
    assert system[0].startswith("You are a coding agent running in the Codex")
    assert any(text.startswith("<skills_instructions>") for text in system)
    [user] = body["messages"]  # the environment context and the prompt: one user turn
    assert user["role"] == "user"
    assert [block["text"] for block in user["content"]][-1] == "say hi"
    names = {t["name"] for t in body["tools"]}
    assert {"exec_command", "multi_agent_v1__spawn_agent"} <= names and "web_search" not in names
    assert all("input_schema" in t for t in body["tools"])

    [record] = _records(gateway, key.user_id, 1)
    assert (record["prompt_tokens"], record["completion_tokens"]) == (3400, 50)
    assert record["cached_tokens"] == 2000
    # Codex counts the same input (it reads response.completed's usage)
    assert _turn_usage(run) == (3400, 50)
    # 1000 x 3.00 + 2000 x 0.30 + 400 x 3.75 + 50 x 15.00 = 5850; x 0.2 = 1170
    _assert_billed(gateway, key, [record], [(5850, 1170)])


def test_codex_exec_command_loop_on_an_anthropic_channel(
    codex: Path, gateway: Gateway, fake_anthropic: FakeAnthropic, tmp_path: Path
) -> None:
    model, channel_key = _anthropic_channel(gateway, fake_anthropic)
    key = gateway.make_user_key()
    (tmp_path / "hello.txt").write_text(SECRET + "\n", encoding="utf-8")
    fake_anthropic.script(
        model,
        Behaviour(
            thinking="I should read the file.",
            text="",
            tool_uses=[
                {"id": "toolu_codex_01", "name": "exec_command", "input": {"cmd": "cat hello.txt"}}
            ],
            json_fragments=4,
            input_tokens=2000,
            output_tokens=100,
        ),
        Behaviour(text="The file says swordfish-7301.", input_tokens=3000, output_tokens=20),
    )
    run = _codex(codex, gateway, key, model, "what does hello.txt say?", tmp_path)
    assert run.last_message == "The file says swordfish-7301."
    [command] = _items(run, "command_execution")
    assert (command["exit_code"], command["aggregated_output"]) == (0, SECRET + "\n")

    first, second = fake_anthropic.requests
    _assert_all_streamed([first, second], 2)
    assert {first.header("x-api-key"), second.header("x-api-key")} == {channel_key}
    # Codex keeps no state on the server (store: false) and re-sends the reasoning item it
    # was given; the gateway sealed the thinking block's signature into its
    # encrypted_content, so Anthropic gets the block back whole, signature and all.
    assistant = second.body["messages"][-2]
    assert assistant["role"] == "assistant"
    assert [b["type"] for b in assistant["content"]] == ["thinking", "tool_use"]
    thinking, call = assistant["content"]
    assert (thinking["thinking"], thinking["signature"]) == ("I should read the file.", SIGNATURE)
    assert (call["id"], call["name"], call["input"]) == (
        "toolu_codex_01",
        "exec_command",
        {"cmd": "cat hello.txt"},
    )
    last = second.body["messages"][-1]
    [result] = [b for b in last["content"] if b["type"] == "tool_result"]
    assert result["tool_use_id"] == "toolu_codex_01" and not result.get("is_error")
    assert TOOL_OUTPUT_HEAD in _text(result["content"]) and SECRET in _text(result["content"])

    records = _records(gateway, key.user_id, 2)
    assert [(r["prompt_tokens"], r["completion_tokens"]) for r in records] == [
        (2000, 100),
        (3000, 20),
    ]
    # 2000 x 3 + 100 x 15 = 7500 -> 1500; 3000 x 3 + 20 x 15 = 9300 -> 1860
    _assert_billed(gateway, key, records, [(7500, 1500), (9300, 1860)])


def test_codex_compacts_remotely_past_a_small_context_window_on_an_anthropic_channel(
    codex: Path, gateway: Gateway, fake_anthropic: FakeAnthropic, tmp_path: Path
) -> None:
    """A context window of 10,000 tokens, compacted past 5,000: the first turn reports
    9,000 input tokens, so before the tool's result goes back Codex compacts. Codex uses
    remote compaction only for a provider named ``OpenAI`` (otherwise it compacts with
    an ordinary turn, which any channel serves), and then sends a ``compaction_trigger``
    turn: Claude is asked for the summary (a whole, unstreamed call under Relaygate's
    instruction), Codex gets one sealed ``compaction`` item, and the next turn reaches
    Claude with the summary in place of the dropped history. Codex finishes its task."""
    model, _ = _anthropic_channel(gateway, fake_anthropic)
    key = gateway.make_user_key()
    (tmp_path / "hello.txt").write_text(SECRET + "\n", encoding="utf-8")
    summary = "SUMMARY: the user asked what hello.txt says; the file was read."
    call = {"id": "toolu_cmp_01", "name": "exec_command", "input": {"cmd": "cat hello.txt"}}
    fake_anthropic.script(
        model,
        Behaviour(text="", tool_uses=[call], input_tokens=9000, output_tokens=100),
        Behaviour(text=summary, input_tokens=500, output_tokens=20),
        Behaviour(text="The file says swordfish-7301.", input_tokens=600, output_tokens=10),
    )
    small_window = [
        "-c", "model_context_window=10000",
        "-c", "model_auto_compact_token_limit=5000",
        "-c", 'model_providers.gateway.name="OpenAI"',
    ]  # fmt: skip
    run = run_codex(
        gateway.url + CODEX_OMG, key.key, "what does hello.txt say?", cwd=tmp_path,
        timeout=RUN_TIMEOUT, model=model, json=True, executable=codex, extra_args=small_window,
    )  # fmt: skip
    assert run.returncode == 0, (run.stdout, run.stderr)
    assert run.last_message == "The file says swordfish-7301."

    first, compaction, after = fake_anthropic.requests
    assert (first.body["stream"], compaction.body["stream"], after.body["stream"]) == (
        True,
        False,
        True,
    )
    assert "compact conversations" in str(compaction.body["system"])
    assert "tools" not in compaction.body
    transcript = str(compaction.body["messages"])
    assert "what does hello.txt say?" in transcript and SECRET in transcript  # the history
    sent = str(after.body["messages"])
    assert summary in sent and "summary of the earlier part" in sent
    assert "toolu_cmp_01" not in sent  # the tool call and its result were compacted away

    records = _records(gateway, key.user_id, 3)
    assert [(r["endpoint"], r["status"]) for r in records] == [("responses", 200)] * 3
    assert [(r["prompt_tokens"], r["completion_tokens"]) for r in records] == [
        (9000, 100),
        (500, 20),
        (600, 10),
    ]
    # 9000 x 3 + 100 x 15 = 28500 -> 5700; 500 x 3 + 20 x 15 = 1800 -> 360;
    # 600 x 3 + 10 x 15 = 1950 -> 390
    _assert_billed(gateway, key, records, [(28500, 5700), (1800, 360), (1950, 390)])


# ---------------------------------------------------------------------- other routes, money


def test_codex_on_the_plain_v1_route_is_not_discounted(
    codex: Path, sqlite_gateway: Gateway, fake: FakeOpenAI, tmp_path: Path
) -> None:
    """``base_url = <gateway>/v1`` works the same, at the official price (multiplier 1)."""
    gateway = sqlite_gateway
    model, _ = _openai_channel(gateway, fake)
    key = gateway.make_user_key()
    fake.script(
        model, OpenAIBehaviour(text="Plain route.", prompt_tokens=1500, completion_tokens=250)
    )
    run = _codex(codex, gateway, key, model, "say hi", tmp_path, route="/v1")
    assert run.last_message == "Plain route."
    _assert_all_streamed(fake.requests, 1)
    [record] = _records(gateway, key.user_id, 1)
    # 1500 x 2.00 + 250 x 8.00 = 5000, charged in full
    _assert_billed(gateway, key, [record], [(5000, 5000)], multiplier="1")


def test_codex_with_an_unfunded_key_shows_the_402_and_pays_nothing(
    codex: Path, sqlite_gateway: Gateway, fake: FakeOpenAI, tmp_path: Path
) -> None:
    """Codex retries a 402 like any status but 400 (6 attempts, about 7 s), then prints the
    gateway's message and exits 1. Every attempt is recorded, none charged, none sent
    upstream."""
    gateway = sqlite_gateway
    model, _ = _openai_channel(gateway, fake)
    key = funded_key(gateway)  # never credited
    run = run_codex(
        gateway.url + CODEX_OMG, key.key, "say hi", cwd=tmp_path, timeout=RUN_TIMEOUT,
        model=model, json=True, executable=codex,
    )  # fmt: skip
    assert run.returncode == 1, (run.stdout, run.stderr)
    assert run.last_message == ""
    [failed] = [e for e in run.events() if e["type"] == "turn.failed"]
    assert failed["error"]["message"].startswith(
        f"unexpected status 402 Payment Required: {INSUFFICIENT_BALANCE}, url: "
        f"{gateway.url}{CODEX_OMG}/responses, request id: req_"
    )
    assert not fake.requests
    records = _records(gateway, key.user_id, 6)
    assert {(r["status"], r["amount"], r["official_cost"]) for r in records} == {(402, 0, 0)}
    assert failed["error"]["message"].endswith(records[-1]["request_id"])
    assert wallet(gateway, key.user_id) == (0, 0)
