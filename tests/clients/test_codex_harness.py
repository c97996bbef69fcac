"""The Codex CLI harness (tests/clients/codex.py), proven against a scripted Responses server.

No gateway here: a tiny aiohttp server answers ``POST /v1/responses`` with a scripted,
complete OpenAI Responses event stream (``response.created`` ... ``response.completed``,
every event with its ``sequence_number``). The tests show that the pinned client installs
and runs offline, prints exactly what the server said, makes exactly one request per model
turn, runs a command in its sandbox for a tool call, and is killed on a hang. They also
pin the facts of ``client-requirements.md`` §5.2 the gateway relies on (headers, body
fields, the tool's name and schema, the replayed history), so a change of the pinned
version that breaks them shows here first.
"""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from tests.clients.codex import (
    CODEX_VERSION,
    CodexTimeoutError,
    Sandbox,
    install_codex,
    run_codex,
)

pytestmark = pytest.mark.clients

KEY = "sk-harness-0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKL"
MODEL = "gpt-5-codex"
RUN_TIMEOUT = 60.0


@dataclass(frozen=True)
class Turn:
    """One scripted model turn: a message, or one function call streamed in fragments.

    ``omit`` names event types to leave out, to show what Codex cannot do without.
    """

    text: str = ""
    call: tuple[str, str, dict[str, Any]] | None = None  # (call_id, name, arguments)
    usage: tuple[int, int] = (40, 8)  # (input_tokens, output_tokens)
    incomplete: bool = False  # cut off by the output limit: ``response.incomplete``
    omit: frozenset[str] = frozenset()
    hang: bool = False  # never answer (the client must be killed)

    def events(self, model: str, number: int) -> list[dict[str, Any]]:
        """The stream's events in the order the Responses API sends them, numbered."""
        rid = f"resp_scripted_{number}"
        base: dict[str, Any] = {
            "id": rid,
            "object": "response",
            "created_at": 1_790_000_000 + number,
            "status": "in_progress",
            "model": model,
            "output": [],
            "usage": None,
        }
        events: list[dict[str, Any]] = [
            {"type": "response.created", "response": base},
            {"type": "response.in_progress", "response": base},
        ]
        if self.call is None:
            item, body = self._message(number)
        else:
            item, body = self._function_call(number)
        if self.incomplete:
            item = {**item, "status": "incomplete"}
        opened = {**item, "status": "in_progress"}
        if item["type"] == "message":
            opened["content"] = []
        else:
            opened["arguments"] = ""
        events.append({"type": "response.output_item.added", "output_index": 0, "item": opened})
        events += body
        events.append({"type": "response.output_item.done", "output_index": 0, "item": item})
        tokens_in, tokens_out = self.usage
        done = {
            **base,
            "status": "completed",
            "output": [item],
            "usage": {
                "input_tokens": tokens_in,
                "input_tokens_details": {"cached_tokens": 0},
                "output_tokens": tokens_out,
                "output_tokens_details": {"reasoning_tokens": 0},
                "total_tokens": tokens_in + tokens_out,
            },
        }
        if self.incomplete:
            done["status"] = "incomplete"
            done["incomplete_details"] = {"reason": "max_output_tokens"}
        events.append({"type": f"response.{done['status']}", "response": done})
        kept = [event for event in events if event["type"] not in self.omit]
        return [{**event, "sequence_number": i} for i, event in enumerate(kept)]

    def _message(self, number: int) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        item_id = f"msg_scripted_{number}"
        part = {"type": "output_text", "text": self.text, "annotations": []}
        where = {"item_id": item_id, "output_index": 0, "content_index": 0}
        body: list[dict[str, Any]] = [
            {"type": "response.content_part.added", **where, "part": {**part, "text": ""}},
            *(
                {"type": "response.output_text.delta", **where, "delta": piece}
                for piece in _pieces(self.text, 3)
            ),
            {"type": "response.output_text.done", **where, "text": self.text},
            {"type": "response.content_part.done", **where, "part": part},
        ]
        item = {
            "id": item_id,
            "type": "message",
            "status": "completed",
            "role": "assistant",
            "content": [part],
        }
        return item, body

    def _function_call(self, number: int) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        assert self.call is not None
        call_id, name, arguments = self.call
        item_id = f"fc_scripted_{number}"
        text = json.dumps(arguments)
        where = {"item_id": item_id, "output_index": 0}
        body: list[dict[str, Any]] = [
            *(
                {"type": "response.function_call_arguments.delta", **where, "delta": piece}
                for piece in _pieces(text, 4)
            ),
            {"type": "response.function_call_arguments.done", **where, "arguments": text},
        ]
        item = {
            "id": item_id,
            "type": "function_call",
            "status": "completed",
            "call_id": call_id,
            "name": name,
            "arguments": text,
        }
        return item, body


def _pieces(text: str, count: int) -> list[str]:
    """``text`` cut into ``count`` non-empty pieces (fewer if it is shorter)."""
    size = max(1, -(-len(text) // count))
    return [text[i : i + size] for i in range(0, len(text), size)]


@dataclass
class Seen:
    """A request as it arrived: header names lower-cased, body parsed."""

    method: str
    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class ScriptedResponses:
    """Answers each ``POST {prefix}/v1/responses`` with the next scripted turn, in order.

    Anything else is a 404, and a request beyond the script gets a 400 (Codex gives up on
    a 400 at once; a 5xx it would retry). Runs its own event loop in a thread because
    ``codex exec`` is driven synchronously. Events are sent without ``event:`` lines, as
    data-only SSE, which Codex accepts (it reads the JSON ``type``).
    """

    turns: list[Turn]
    prefix: str = ""
    requests: list[Seen] = field(default_factory=list)
    port: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _loop: asyncio.AbstractEventLoop = field(default_factory=asyncio.new_event_loop)
    _runner: web.AppRunner | None = None
    _thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        """What goes into the provider's ``base_url``: Codex appends ``/responses``."""
        return f"http://127.0.0.1:{self.port}{self.prefix}/v1"

    @property
    def responses_path(self) -> str:
        return f"{self.prefix}/v1/responses"

    def __enter__(self) -> ScriptedResponses:
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

    @property
    def turn_requests(self) -> list[Seen]:
        with self._lock:
            return [r for r in self.requests if (r.method, r.path) == ("POST", self.responses_path)]

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        try:
            body: Any = json.loads(raw) if raw else None
        except ValueError:
            body = raw
        seen = Seen(
            request.method,
            request.path,
            {k.lower(): v for k, v in request.headers.items()},
            body,
        )
        with self._lock:
            self.requests.append(seen)
            number = sum((r.method, r.path) == ("POST", self.responses_path) for r in self.requests)
        if (request.method, request.path) != ("POST", self.responses_path):
            return web.json_response({"error": {"message": "not found"}}, status=404)
        if number > len(self.turns):
            error = {"type": "invalid_request_error", "message": f"unscripted request #{number}"}
            return web.json_response({"error": error}, status=400)
        turn = self.turns[number - 1]
        if turn.hang:
            await asyncio.sleep(3600)  # cancelled when the killed client's socket closes
        response = web.StreamResponse(headers={"content-type": "text/event-stream"})
        await response.prepare(request)
        for event in turn.events(body["model"], number):
            await response.write(f"data: {json.dumps(event)}\n\n".encode())
        await response.write_eof()
        return response


@pytest.fixture(scope="module")
def codex(record_testsuite_property: Any) -> Path:
    """The pinned client; installs it on a fresh clone and fails (never skips) if it can't."""
    start = time.monotonic()
    exe = install_codex()
    record_testsuite_property("codex_install_seconds", round(time.monotonic() - start, 3))
    return exe


def _input_text(item: dict[str, Any]) -> str:
    """The text of a Responses input message (its ``input_text`` parts joined)."""
    return "".join(part.get("text", "") for part in item["content"])


def test_install_is_the_pinned_native_binary(codex: Path) -> None:
    """The launcher and its platform package are the pinned release, and a second call
    reuses the install instead of running npm again."""
    modules = codex.parent.parent / "@openai"
    assert json.loads((modules / "codex" / "package.json").read_text())["version"] == (
        CODEX_VERSION
    )
    natives = [p.name for p in modules.iterdir() if p.name.startswith("codex-")]
    assert len(natives) == 1, natives  # only this platform's optional dependency
    start = time.monotonic()
    assert install_codex() == codex
    assert time.monotonic() - start < 10  # a version check, not an install


def test_say_hi_prints_exactly_the_scripted_text(
    codex: Path, tmp_path: Path, record_property: Any
) -> None:
    with ScriptedResponses([Turn(text="Hi from the scripted server.", usage=(40, 8))]) as server:
        run = run_codex(
            server.base_url, KEY, "say hi", cwd=tmp_path, timeout=RUN_TIMEOUT, model=MODEL,
            json=True, executable=codex,
        )  # fmt: skip
    record_property("codex_seconds", round(run.elapsed, 3))
    assert run.returncode == 0, (run.stdout, run.stderr)
    assert run.last_message == "Hi from the scripted server."
    events = run.events()
    messages = [e["item"]["text"] for e in events if e["type"] == "item.completed"
                and e["item"]["type"] == "agent_message"]  # fmt: skip
    assert messages == ["Hi from the scripted server."]
    [done] = [e for e in events if e["type"] == "turn.completed"]
    assert (done["usage"]["input_tokens"], done["usage"]["output_tokens"]) == (40, 8)

    [req] = server.requests  # one turn, one request: no /models, no side requests
    record_property("headers", sorted(req.headers))
    record_property("body_fields", sorted(req.body))
    assert (req.method, req.path) == ("POST", "/v1/responses")
    # Headers (client-requirements §5.2)
    assert req.headers["authorization"] == f"Bearer {KEY}"
    assert req.headers["accept"] == "text/event-stream"  # the only client that asks
    assert req.headers["originator"] == "codex_exec"
    assert req.headers["user-agent"].startswith(f"codex_exec/{CODEX_VERSION} ")
    assert req.headers["session-id"] == req.headers["thread-id"]
    assert req.headers["x-codex-beta-features"] == "remote_compaction_v2"
    turn_metadata = json.loads(req.headers["x-codex-turn-metadata"])
    assert (turn_metadata["sandbox_mode"], turn_metadata["analytics_enabled"]) == (
        "read-only",
        False,
    )
    assert "accept-encoding" not in req.headers
    # Body
    body = req.body
    assert body["model"] == MODEL
    assert (body["stream"], body["store"], body["tool_choice"], body["parallel_tool_calls"]) == (
        True,
        False,
        "auto",
        True,
    )
    assert body["include"] == ["reasoning.encrypted_content"]
    assert body["reasoning"] == {"summary": "auto"}
    assert body["prompt_cache_key"] == req.headers["session-id"]
    assert isinstance(body["client_metadata"], dict)
    assert "instructions" not in body and "max_output_tokens" not in body
    roles = [(item["type"], item["role"]) for item in body["input"]]
    assert roles == [("message", "developer")] * 2 + [("message", "user")] * 2
    assert all(item["id"].startswith("msg_") for item in body["input"])  # client-made ids
    assert _input_text(body["input"][2]).startswith("<environment_context>")
    assert _input_text(body["input"][3]) == "say hi"
    # Tools: functions, one namespace of functions, and the hosted web_search
    kinds = {tool["type"] for tool in body["tools"]}
    assert kinds == {"function", "namespace", "web_search"}
    [exec_command] = [t for t in body["tools"] if t.get("name") == "exec_command"]
    assert exec_command["parameters"]["required"] == ["cmd"]
    assert exec_command["strict"] is False
    [namespace] = [t for t in body["tools"] if t["type"] == "namespace"]
    assert namespace["name"] == "multi_agent_v1"
    assert {t["type"] for t in namespace["tools"]} == {"function"}
    assert {"type": "web_search", "external_web_access": False} in body["tools"]


def test_exec_command_tool_loop_runs_in_the_sandbox(
    codex: Path, tmp_path: Path, record_property: Any
) -> None:
    (tmp_path / "hello.txt").write_text("the launch code is swordfish-7301\n", encoding="utf-8")
    arguments = {"cmd": "cat hello.txt"}
    script = [
        Turn(call=("call_scripted_01", "exec_command", arguments)),
        Turn(text="The file says swordfish-7301."),
    ]
    assert sum(e["type"].endswith("arguments.delta") for e in script[0].events("m", 1)) > 2
    with ScriptedResponses(script) as server:
        run = run_codex(
            server.base_url, KEY, "what does hello.txt say?", cwd=tmp_path,
            timeout=RUN_TIMEOUT, model=MODEL, json=True, executable=codex,
        )  # fmt: skip
    record_property("codex_seconds", round(run.elapsed, 3))
    assert run.returncode == 0, (run.stdout, run.stderr)
    assert run.last_message == "The file says swordfish-7301."
    [command] = [e["item"] for e in run.events() if e["type"] == "item.completed"
                 and e["item"]["type"] == "command_execution"]  # fmt: skip
    assert (command["exit_code"], command["aggregated_output"]) == (
        0,
        "the launch code is swordfish-7301\n",
    )

    first, second = server.requests  # one request per model turn, nothing else
    assert first.headers["session-id"] == second.headers["session-id"]
    assert second.body["input"][: len(first.body["input"])] == first.body["input"]
    call, output = second.body["input"][len(first.body["input"]) :]
    # The server's call comes back as it was sent (its id, status and exact arguments) ...
    assert call == {
        "type": "function_call",
        "id": "fc_scripted_1",
        "status": "completed",
        "call_id": "call_scripted_01",
        "name": "exec_command",
        "arguments": json.dumps(arguments),
    }
    # ... followed by the command's output, under a client-made id.
    assert (output["type"], output["call_id"]) == ("function_call_output", "call_scripted_01")
    assert output["id"].startswith("fco_")
    assert "Process exited with code 0" in output["output"]
    assert "the launch code is swordfish-7301" in output["output"]


@pytest.mark.parametrize("sandbox", ["read-only", "workspace-write"])
def test_the_sandbox_mode_decides_whether_a_command_may_write(
    codex: Path, tmp_path: Path, sandbox: Sandbox
) -> None:
    """Commands run in the bundled bubblewrap sandbox: ``read-only`` (the default) turns
    a write away, and the refusal goes back to the model as the tool's output (the run
    still succeeds); ``workspace-write`` lets it write into the working directory."""
    command = {"cmd": "echo written > out.txt && cat out.txt"}
    script = [Turn(call=("call_scripted_02", "exec_command", command)), Turn(text="done")]
    with ScriptedResponses(script) as server:
        run = run_codex(
            server.base_url, KEY, "write out.txt", cwd=tmp_path, timeout=RUN_TIMEOUT,
            sandbox=sandbox, executable=codex,
        )  # fmt: skip
    assert (run.returncode, run.last_message) == (0, "done"), run.stderr
    output = server.requests[1].body["input"][-1]["output"]
    if sandbox == "read-only":
        assert not (tmp_path / "out.txt").exists()
        assert "Process exited with code 1" in output
        assert "out.txt: Read-only file system" in output
    else:
        assert (tmp_path / "out.txt").read_text() == "written\n"
        assert "Process exited with code 0" in output


def test_the_base_url_path_is_kept(codex: Path, tmp_path: Path) -> None:
    """``base_url = .../codex-omg/v1``: Codex appends ``/responses`` to the whole path."""
    prefix = "/api/v1/ai/openai/codex-omg"
    with ScriptedResponses([Turn(text="via codex-omg")], prefix=prefix) as server:
        run = run_codex(
            server.base_url, KEY, "say hi", cwd=tmp_path, timeout=RUN_TIMEOUT, executable=codex
        )
    assert (run.returncode, run.last_message) == (0, "via codex-omg"), run.stderr
    [req] = server.requests
    assert (req.method, req.path) == ("POST", f"{prefix}/v1/responses")


def test_without_output_item_done_codex_succeeds_with_nothing(codex: Path, tmp_path: Path) -> None:
    """§5.0 item 7: the answer is built only from ``response.output_item.done``; without
    it Codex exits 0 with an empty last message, which the exact assertions catch."""
    turn = Turn(text="never shown", omit=frozenset({"response.output_item.done"}))
    with ScriptedResponses([turn]) as server:
        run = run_codex(
            server.base_url, KEY, "say hi", cwd=tmp_path, timeout=RUN_TIMEOUT, executable=codex
        )
    assert (run.returncode, run.last_message) == (0, ""), run.stderr
    assert len(server.requests) == 1


@pytest.mark.parametrize(
    "turn",
    [
        Turn(text="cut short", omit=frozenset({"response.completed"})),
        Turn(text="cut short", incomplete=True),
    ],
    ids=["no-response.completed", "response.incomplete"],
)
def test_a_turn_that_does_not_complete_fails_the_run(
    codex: Path, tmp_path: Path, turn: Turn
) -> None:
    """A stream that ends without ``response.completed`` is retried and then fails; a
    ``response.incomplete`` (the output limit was hit) fails at once. Retries are
    turned off here (``-c``), so each costs one request."""
    with ScriptedResponses([turn]) as server:
        run = run_codex(
            server.base_url, KEY, "say hi", cwd=tmp_path, timeout=RUN_TIMEOUT, json=True,
            extra_args=["-c", "model_providers.gateway.stream_max_retries=0"], executable=codex,
        )  # fmt: skip
    assert run.returncode == 1, (run.stdout, run.stderr)
    [failed] = [e for e in run.events() if e["type"] == "turn.failed"]
    expected = (
        "Incomplete response returned, reason: max_output_tokens"
        if turn.incomplete
        else "stream disconnected before completion: stream closed before response.completed"
    )
    assert failed["error"]["message"] == expected
    assert len(server.requests) == 1


def test_a_hanging_server_is_bounded_by_the_timeout(codex: Path, tmp_path: Path) -> None:
    """Codex waits (its stream idle timeout is minutes); the harness kills its group."""
    with (
        ScriptedResponses([Turn(hang=True)]) as server,
        pytest.raises(CodexTimeoutError) as caught,
    ):
        run_codex(server.base_url, KEY, "say hi", cwd=tmp_path, timeout=3, executable=codex)
    assert caught.value.partial.returncode == -signal.SIGKILL
    assert caught.value.partial.elapsed < 10
    assert _running_in_group(caught.value.pid) == []  # nothing of the group is left
    assert len(server.requests) == 1


def _running_in_group(pgid: int) -> list[str]:
    """The processes of group ``pgid`` that still run. Zombies do not count: a killed
    helper Codex started is reparented to PID 1, which may reap it a second later."""
    running = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # gone meanwhile
        state, group = fields[0], int(fields[2])
        if group == pgid and state != "Z":
            running.append(f"{stat.parent.name} {state}")
    return running
