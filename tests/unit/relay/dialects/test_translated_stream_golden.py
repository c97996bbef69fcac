"""Golden streams: a recorded upstream stream in, the exact client stream out.

``tests/fixtures/<dialect>/stream_<case>.sse`` is what an upstream sent;
``tests/fixtures/<client dialect>/stream_<case>.from_<upstream>.sse`` is what the client
must receive, byte for byte, however the upstream's bytes were split.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from relaygate.relay.dialects.translated_stream import StreamTranslator
from tests.unit.relay.dialects.spec_check import check_anthropic, check_openai

FIXTURES = Path(__file__).resolve().parents[3] / "fixtures"
DIRS = {"openai": "openai_chat", "anthropic": "anthropic_messages"}
CREATED = 1700000000


@dataclass(frozen=True)
class Case:
    upstream: str
    name: str
    include_usage: bool = False

    @property
    def client(self) -> str:
        return "anthropic" if self.upstream == "openai" else "openai"

    @property
    def model(self) -> str:
        return "claude-sonnet-4-5" if self.client == "anthropic" else "gpt-4o-via-claude"

    def source(self) -> bytes:
        return (FIXTURES / DIRS[self.upstream] / f"{self.name}.sse").read_bytes()

    def expected(self) -> bytes:
        path = FIXTURES / DIRS[self.client] / f"{self.name}.from_{self.upstream}.sse"
        return path.read_bytes()

    def translator(self) -> StreamTranslator:
        return StreamTranslator(
            self.upstream,
            self.client,
            model=self.model,
            request_id="req_0001",
            include_usage=self.include_usage,
            created=CREATED,
        )

    def __str__(self) -> str:
        return f"{self.upstream}:{self.name}"


CASES = [
    Case("openai", "stream_tools"),
    Case("openai", "stream_deepseek_reasoning"),  # CRLF line ends, a comment line
    Case("openai", "stream_no_done"),  # finish_reason but no [DONE]: flush closes it
    Case("openai", "stream_error"),
    Case("anthropic", "stream_thinking_tools", include_usage=True),
    Case("anthropic", "stream_server_tools"),
    Case("anthropic", "stream_error", include_usage=True),
]


def run(case: Case, pieces: list[bytes]) -> bytes:
    translator = case.translator()
    out = b"".join(translator.feed(piece) for piece in pieces)
    return out + translator.flush()


@pytest.mark.parametrize("case", CASES, ids=str)
def test_whole_stream_matches_the_golden_output(case: Case) -> None:
    assert run(case, [case.source()]) == case.expected()


@pytest.mark.parametrize("case", CASES, ids=str)
def test_golden_output_follows_the_spec(case: Case) -> None:
    if case.client == "anthropic":
        check_anthropic(case.expected())
    else:
        check_openai(case.expected(), include_usage=case.include_usage)


@pytest.mark.parametrize("case", CASES, ids=str)
def test_split_at_every_byte_boundary(case: Case) -> None:
    source, expected = case.source(), case.expected()
    for cut in range(len(source) + 1):
        assert run(case, [source[:cut], source[cut:]]) == expected, f"split at {cut}"


@pytest.mark.parametrize("case", CASES, ids=str)
def test_one_byte_at_a_time(case: Case) -> None:
    source = case.source()
    pieces = [source[i : i + 1] for i in range(len(source))]
    assert run(case, pieces) == case.expected()


@pytest.mark.parametrize("case", CASES, ids=str)
def test_each_feed_returns_whole_events_only(case: Case) -> None:
    source = case.source()
    translator = case.translator()
    for start in range(0, len(source), 7):
        out = translator.feed(source[start : start + 7])
        assert out == b"" or out.endswith(b"\n\n")


def test_terminal_events_come_with_the_upstream_terminal_event() -> None:
    """The pipeline stops reading at ``finished``: that feed must carry the ending."""
    case = Case("openai", "stream_tools")
    source = case.source()
    done = source.index(b"data: [DONE]")
    translator = case.translator()
    before = translator.feed(source[:done])
    assert not translator.finished
    assert b"message_delta" in before and b"message_stop" not in before
    last = translator.feed(source[done:])
    assert translator.finished
    assert last == b'event: message_stop\ndata: {"type":"message_stop"}\n\n'


def test_metering_of_the_openai_upstream() -> None:
    translator = Case("openai", "stream_tools").translator()
    translator.feed(Case("openai", "stream_tools").source())
    assert translator.usage is not None
    assert (translator.usage.prompt_tokens, translator.usage.completion_tokens) == (1200, 41)
    assert translator.usage.cached_tokens == 1024
    assert translator.content_events == 5  # two text deltas, three argument fragments
    assert translator.finished and translator.error is None


def test_metering_of_the_anthropic_upstream() -> None:
    case = Case("anthropic", "stream_thinking_tools", include_usage=True)
    translator = case.translator()
    translator.feed(case.source())
    usage = translator.usage
    assert usage is not None
    # 12 fresh + 2048 cache reads + 300 cache writes
    assert (usage.prompt_tokens, usage.completion_tokens) == (2360, 89)
    assert (usage.cached_tokens, usage.cache_write_tokens) == (2048, 300)
    assert translator.content_events == 5  # 2 thinking, 1 text, 2 non-empty fragments


def test_an_unfinished_upstream_is_not_finished_by_flush() -> None:
    case = Case("openai", "stream_tools")
    source = case.source()
    translator = case.translator()
    translator.feed(source[: source.index(b'"finish_reason":"tool_calls"') - 200])
    assert translator.flush() == b""
    assert not translator.finished


@pytest.mark.parametrize("case", [c for c in CASES if "error" in c.name], ids=str)
def test_upstream_error_is_relayed_and_ends_the_stream(case: Case) -> None:
    translator = case.translator()
    out = translator.feed(case.source())
    assert translator.finished
    assert translator.error in (
        "Overloaded",
        "The server had an error while processing your request. Sorry about that!",
    )
    assert b"error" in out.rsplit(b"\n\n", 2)[-2]
    assert translator.feed(b'data: {"choices":[{"delta":{"content":"late"}}]}\n\n') == b""
