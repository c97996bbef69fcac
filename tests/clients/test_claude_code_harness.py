"""Proof that the Claude Code harness works, independent of the gateway.

A tiny scripted Anthropic server (real HTTP on loopback, SSE with ``event:`` lines) answers
``claude -p`` with canned replies; the tests check what the client printed and what it
sent. If these pass and a gateway test of Claude Code fails, the gateway is at fault, not
the install, the isolation or the flags. They also pin the facts of
``client-requirements.md`` §5.1 the gateway relies on, so a change of the pinned version
that breaks them shows here first.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from tests.clients.claude_code import (
    CLAUDE_CODE_VERSION,
    ClaudeTimeoutError,
    install_claude_code,
    run_claude,
)

pytestmark = pytest.mark.clients

KEY = "sk-harness-0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKL"
RUN_TIMEOUT = 60.0

Event = tuple[str, dict[str, Any]]


@dataclass(frozen=True)
class Reply:
    """One scripted model turn: text, or one tool call streamed as JSON fragments."""

    text: str = ""
    tool_use: tuple[str, str, dict[str, Any]] | None = None  # (id, name, input)
    hang: bool = False  # never answer (the client must be killed)

    def events(self, model: str, number: int) -> list[Event]:
        """The SSE events of this reply, in the order the Anthropic API sends them."""
        start: dict[str, Any] = {
            "id": f"msg_scripted_{number}",
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {"input_tokens": 25, "output_tokens": 1},
        }
        events: list[Event] = [("message_start", {"type": "message_start", "message": start})]
        if self.tool_use is None:
            block: dict[str, Any] = {"type": "text", "text": ""}
            deltas = [{"type": "text_delta", "text": part} for part in _pieces(self.text, 3)]
            stop_reason = "end_turn"
        else:
            tool_id, name, tool_input = self.tool_use
            block = {"type": "tool_use", "id": tool_id, "name": name, "input": {}}
            deltas = [
                {"type": "input_json_delta", "partial_json": part}
                for part in _pieces(json.dumps(tool_input), 4)
            ]
            stop_reason = "tool_use"
        events.append(
            (
                "content_block_start",
                {"type": "content_block_start", "index": 0, "content_block": block},
            )
        )
        events += [
            ("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": d})
            for d in deltas
        ]
        events.append(("content_block_stop", {"type": "content_block_stop", "index": 0}))
        events.append(
            (
                "message_delta",
                {
                    "type": "message_delta",
                    "delta": {"stop_reason": stop_reason, "stop_sequence": None},
                    "usage": {"output_tokens": 12},
                },
            )
        )
        events.append(("message_stop", {"type": "message_stop"}))
        return events


def _pieces(text: str, count: int) -> list[str]:
    """``text`` cut into ``count`` non-empty pieces (fewer if it is shorter)."""
    size = max(1, -(-len(text) // count))
    return [text[i : i + size] for i in range(0, len(text), size)]


@dataclass
class Seen:
    """A request as it arrived: header names lower-cased, body parsed."""

    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: Any


@dataclass
class ScriptedAnthropic:
    """Answers each ``POST /v1/messages`` with the next scripted reply, in order.

    Anything else is a 404, and a request beyond the script gets a 400 (Claude Code gives
    up on a 400 within a second; on a 5xx it would retry for minutes). Runs its own event
    loop in a thread because ``claude -p`` is driven synchronously.
    """

    replies: list[Reply]
    prefix: str = ""  # a path the base URL carries, e.g. "/api/v1/ai/openai/cc-omg"
    requests: list[Seen] = field(default_factory=list)
    port: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _loop: asyncio.AbstractEventLoop = field(default_factory=asyncio.new_event_loop)
    _runner: web.AppRunner | None = None
    _thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}{self.prefix}"

    @property
    def messages_path(self) -> str:
        return f"{self.prefix}/v1/messages"

    def __enter__(self) -> ScriptedAnthropic:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, handler_cancellation=True, shutdown_timeout=0.5)
        self._loop.run_until_complete(self._runner.setup())
        self._loop.run_until_complete(web.SockSite(self._runner, sock).start())
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        assert self._runner is not None and self._thread is not None
        asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(15)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(15)
        self._loop.close()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        body: Any = json.loads(raw) if raw else None
        seen = Seen(
            request.method,
            request.path,
            request.query_string,
            {k.lower(): v for k, v in request.headers.items()},
            body,
        )
        with self._lock:
            self.requests.append(seen)
            number = sum((r.method, r.path) == ("POST", self.messages_path) for r in self.requests)
        if (request.method, request.path) != ("POST", self.messages_path):
            return web.json_response({"type": "error"}, status=404)
        if number > len(self.replies):
            error = {"type": "invalid_request_error", "message": f"unscripted request #{number}"}
            return web.json_response({"type": "error", "error": error}, status=400)
        reply = self.replies[number - 1]
        if reply.hang:
            await asyncio.sleep(3600)  # cancelled when the killed client's socket closes
        response = web.StreamResponse(headers={"content-type": "text/event-stream"})
        await response.prepare(request)
        for name, data in reply.events(body["model"], number):
            await response.write(f"event: {name}\ndata: {json.dumps(data)}\n\n".encode())
        await response.write_eof()
        return response


@pytest.fixture(scope="module")
def claude() -> Path:
    """The pinned client; installs it on a fresh clone and fails (never skips) if it can't."""
    return install_claude_code()


def _text(content: Any) -> str:
    """The text of a ``tool_result`` content: a string or a list of text blocks."""
    if isinstance(content, str):
        return content
    return "".join(block.get("text", "") for block in content)


@pytest.mark.parametrize("auth", ["bearer", "x-api-key"])
def test_say_hi_prints_exactly_the_scripted_text(
    claude: Path, tmp_path: Path, auth: str, record_property: Any
) -> None:
    with ScriptedAnthropic([Reply(text="Hi from the scripted server.")]) as server:
        run = run_claude(
            server.base_url,
            KEY,
            "say hi",
            cwd=tmp_path,
            timeout=RUN_TIMEOUT,
            auth="bearer" if auth == "bearer" else "x-api-key",
            executable=claude,
        )
    record_property("claude_seconds", round(run.elapsed, 3))
    assert run.returncode == 0, run.stderr
    assert run.stdout == "Hi from the scripted server.\n"

    [req] = server.requests  # one turn, one request: no HEAD /api/hello, no side requests
    record_property("headers", sorted(req.headers))
    record_property("body_fields", sorted(req.body))
    assert (req.method, req.path, req.query) == ("POST", "/v1/messages", "beta=true")
    assert req.body["stream"] is True
    if auth == "bearer":
        assert req.headers["authorization"] == f"Bearer {KEY}"
        assert "x-api-key" not in req.headers
    else:
        assert req.headers["x-api-key"] == KEY
        assert "authorization" not in req.headers
    assert req.headers["anthropic-version"] == "2023-06-01"
    assert "claude-code-20250219" in req.headers["anthropic-beta"].split(",")
    assert req.headers["user-agent"] == f"claude-cli/{CLAUDE_CODE_VERSION} (external, sdk-cli)"
    assert req.headers["x-app"] == "cli"
    assert req.headers["accept"] == "application/json"  # streaming is not asked for on Accept

    # The body facts a gateway (or a translation to another dialect) must cope with.
    assert req.body["model"] == "claude-opus-5-5"
    assert isinstance(req.body["metadata"]["user_id"], str)  # a JSON string, not an object
    assert req.body["thinking"]["type"] == "adaptive"
    assert "system" in [m["role"] for m in req.body["messages"]]  # role "system" in messages
    assert "Read" in [tool["name"] for tool in req.body["tools"]]


def test_anthropic_model_is_sent_as_given(
    claude: Path, tmp_path: Path, record_property: Any
) -> None:
    """A non-Claude model (the gateway translates it) goes out under its own name."""
    with ScriptedAnthropic([Reply(text="Answered by gpt-4o-mini.")]) as server:
        run = run_claude(
            server.base_url,
            KEY,
            "who are you?",
            model="gpt-4o-mini",
            cwd=tmp_path,
            timeout=RUN_TIMEOUT,
            output_format="json",
            executable=claude,
        )
    record_property("claude_seconds", round(run.elapsed, 3))
    assert run.returncode == 0, run.stderr
    result = run.json()
    assert (result["result"], result["is_error"], result["num_turns"]) == (
        "Answered by gpt-4o-mini.",
        False,
        1,
    )
    [req] = server.requests
    assert req.body["model"] == "gpt-4o-mini"
    assert req.body["max_tokens"] == 32000
    # Still a role "system" message, though the per-turn-control beta is not announced:
    # a translation must not key the one on the other.
    assert "system" in [m["role"] for m in req.body["messages"]]
    assert "per-turn-control-2026-07-01" not in req.headers["anthropic-beta"].split(",")


def test_read_tool_loop(claude: Path, tmp_path: Path, record_property: Any) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("the password is swordfish-7301\n", encoding="utf-8")
    tool_input = {"file_path": str(notes)}
    script = [
        Reply(tool_use=("toolu_scripted_01", "Read", tool_input)),
        Reply(text="The file says swordfish-7301."),
    ]
    assert sum(name == "content_block_delta" for name, _ in script[0].events("m", 1)) > 2

    with ScriptedAnthropic(script) as server:
        run = run_claude(
            server.base_url,
            KEY,
            "read notes.txt",
            cwd=tmp_path,
            timeout=RUN_TIMEOUT,
            executable=claude,
        )
    record_property("claude_seconds", round(run.elapsed, 3))
    assert run.returncode == 0, run.stderr
    assert run.stdout == "The file says swordfish-7301.\n"

    first, second = server.requests  # one request per model turn, nothing else
    assert second.body["stream"] is True
    assert first.headers["x-claude-code-session-id"] == second.headers["x-claude-code-session-id"]
    # The assistant turn comes back with the input assembled from the fragments ...
    calls = [
        block
        for message in second.body["messages"]
        if message["role"] == "assistant"
        for block in message["content"]
        if block["type"] == "tool_use"
    ]
    assert [(c["id"], c["name"], c["input"]) for c in calls] == [
        ("toolu_scripted_01", "Read", tool_input)
    ]
    # ... followed by the tool's result, last.
    last = second.body["messages"][-1]
    assert last["role"] == "user"
    [result] = [block for block in last["content"] if block["type"] == "tool_result"]
    assert result["tool_use_id"] == "toolu_scripted_01"
    assert not result.get("is_error")
    assert "swordfish-7301" in _text(result["content"])


def test_the_base_url_path_is_kept_and_a_trailing_slash_dropped(
    claude: Path, tmp_path: Path
) -> None:
    """``ANTHROPIC_BASE_URL=.../cc-omg/`` (the platform's docs end it with ``/``) works."""
    prefix = "/api/v1/ai/openai/cc-omg"
    with ScriptedAnthropic([Reply(text="via cc-omg")], prefix=prefix) as server:
        run = run_claude(
            server.base_url + "/",
            KEY,
            "say hi",
            cwd=tmp_path,
            timeout=RUN_TIMEOUT,
            executable=claude,
        )
    assert (run.returncode, run.stdout) == (0, "via cc-omg\n"), run.stderr
    [req] = server.requests
    assert (req.method, req.path, req.query) == ("POST", f"{prefix}/v1/messages", "beta=true")


@pytest.mark.parametrize("granted", [True, False])
def test_a_read_outside_cwd_needs_the_grant_and_a_refusal_is_silent(
    claude: Path, tmp_path: Path, granted: bool
) -> None:
    """Without ``--allowedTools Read`` the client refuses the call but still exits 0."""
    outside = tmp_path / "elsewhere" / "secret.txt"
    outside.parent.mkdir()
    outside.write_text("outside-cwd-5512\n", encoding="utf-8")
    cwd = tmp_path / "work"
    cwd.mkdir()
    script = [
        Reply(tool_use=("toolu_scripted_02", "Read", {"file_path": str(outside)})),
        Reply(text="done"),
    ]
    with ScriptedAnthropic(script) as server:
        run = run_claude(
            server.base_url,
            KEY,
            "read it",
            cwd=cwd,
            timeout=RUN_TIMEOUT,
            allowed_tools=("Read",) if granted else (),
            executable=claude,
        )
    assert (run.returncode, run.stdout) == (0, "done\n"), run.stderr
    [result] = server.requests[1].body["messages"][-1]["content"]
    assert result["type"] == "tool_result"
    if granted:
        assert not result.get("is_error")
        assert "outside-cwd-5512" in _text(result["content"])
    else:
        assert result["is_error"] is True
        assert "haven't granted" in _text(result["content"])


def test_a_hanging_server_is_bounded_by_the_timeout(claude: Path, tmp_path: Path) -> None:
    """The client waits for ever on a silent server; the harness kills its process group."""
    with (
        ScriptedAnthropic([Reply(hang=True)]) as server,
        pytest.raises(ClaudeTimeoutError) as caught,
    ):
        run_claude(server.base_url, KEY, "say hi", cwd=tmp_path, timeout=3, executable=claude)
    assert caught.value.partial.returncode == -signal.SIGKILL
    assert caught.value.partial.elapsed < 10
    with pytest.raises(ProcessLookupError):  # nothing of the group is left
        os.killpg(caught.value.pid, 0)
    assert len(server.requests) == 1
