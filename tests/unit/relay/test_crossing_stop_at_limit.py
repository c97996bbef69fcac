"""A stream stopped at its hold ends as the caller's dialect ends an answer at its
output limit, and stays a well-formed stream of that dialect (checked against the spec).

Each reader is fed the first part of a recorded stream (cut at an event boundary,
mid-answer), then asked to stop: what the client received in total must parse as a
complete stream ending with ``finish_reason: "length"`` (OpenAI), ``stop_reason:
"max_tokens"`` (Anthropic) or ``response.incomplete`` / ``max_output_tokens``
(Responses), carrying the usage that is billed.
"""

from __future__ import annotations

import json
from typing import Any

import orjson

from relaygate.relay.canonical import Usage
from relaygate.relay.crossing import StreamReader, stream_reader
from relaygate.relay.dialects.openai_responses.stream import ResponsesScanner, ResponsesTranslator
from relaygate.relay.dialects.translated_stream import StreamTranslator
from relaygate.relay.streaming import SSEScanner
from tests.unit.relay.dialects.openai_responses.golden import stream_template
from tests.unit.relay.dialects.openai_responses.spec_check import check_responses
from tests.unit.relay.dialects.spec_check import check_anthropic, check_openai

from .test_crossing_delivered_text import fixture

BILLED = Usage(prompt_tokens=20, completion_tokens=33, estimated=True)


def first(stream: bytes, count: int) -> bytes:
    """The first ``count`` events of ``stream``."""
    return b"".join(event + b"\n\n" for event in stream.split(b"\n\n")[:count])


def stopped(reader: StreamReader, part: bytes) -> bytes:
    out = reader.feed(part)
    assert not reader.finished and reader.delivered > 0
    ending = reader.stop_at_limit(BILLED)
    assert reader.finished and reader.stop_at_limit(BILLED) == b""  # once
    assert reader.feed(b"data: late\n\n") in (b"", b"data: late\n\n")
    return out + ending


def test_openai_passthrough_ends_with_length_then_done() -> None:
    part = first(fixture("openai_chat", "stream_tools.sse"), 4)
    out = stopped(SSEScanner(drop_usage_chunk=True), part)
    chunks = check_openai(out, include_usage=False)
    assert chunks[-1]["choices"][0]["finish_reason"] == "length"
    assert chunks[-1]["id"] == chunks[0]["id"] and chunks[-1]["model"] == chunks[0]["model"]


def test_openai_passthrough_sends_the_usage_chunk_the_client_asked_for() -> None:
    part = first(fixture("openai_chat", "stream_tools.sse"), 4)
    out = stopped(SSEScanner(drop_usage_chunk=False), part)
    chunks = check_openai(out, include_usage=True)
    assert chunks[-1]["usage"]["completion_tokens"] == 33
    assert chunks[-1]["usage"]["prompt_tokens"] == 20


def test_every_choice_of_n_gets_its_length_ending() -> None:
    chunk = {"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "m",
             "choices": [{"index": i, "delta": {"content": "hi"}, "finish_reason": None}
                         for i in range(3)]}  # fmt: skip
    out = stopped(SSEScanner(True, choices=3), b"data: " + json.dumps(chunk).encode() + b"\n\n")
    frames = [json.loads(f[6:]) for f in out.split(b"\n\n") if f.startswith(b"data: {")]
    ends = [c for f in frames[1:] for c in f["choices"]]
    assert [(c["index"], c["finish_reason"]) for c in ends] == [(i, "length") for i in range(3)]
    assert out.endswith(b"data: [DONE]\n\n")


def test_a_choice_that_already_finished_is_not_ended_twice() -> None:
    def chunk(choices: list[dict[str, Any]]) -> bytes:
        body = {"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "m",
                "choices": choices}  # fmt: skip
        return b"data: " + json.dumps(body).encode() + b"\n\n"

    text = [{"index": i, "delta": {"content": "hi"}, "finish_reason": None} for i in range(3)]
    done = [{"index": 1, "delta": {}, "finish_reason": "stop"}]
    out = stopped(SSEScanner(True, choices=3), chunk(text) + chunk(done))
    frames = [json.loads(f[6:]) for f in out.split(b"\n\n") if f.startswith(b"data: {")]
    ends = [(c["index"], c["finish_reason"]) for f in frames for c in f["choices"]
            if c["finish_reason"]]  # fmt: skip
    assert ends == [(1, "stop"), (0, "length"), (2, "length")]


def test_legacy_completions_end_with_length() -> None:
    chunk = {
        "id": "cmpl-1",
        "object": "text_completion",
        "created": 1,
        "model": "m",
        "choices": [{"text": "Hi", "index": 0, "logprobs": None, "finish_reason": None}],
    }
    out = stopped(SSEScanner(True, completions=True), b"data: " + orjson.dumps(chunk) + b"\n\n")
    last = json.loads(out.split(b"\n\n")[-3][6:])
    assert last["object"] == "text_completion"
    assert last["choices"] == [
        {"index": 0, "finish_reason": "length", "text": "", "logprobs": None}
    ]


def test_anthropic_passthrough_ends_with_max_tokens() -> None:
    stream = fixture("anthropic_messages", "stream_thinking_tools.sse")
    reader = stream_reader(
        "anthropic", "anthropic", model="m", request_id="req_1", include_usage=False,
        injected=False, legacy=False,
    )  # fmt: skip
    events = check_anthropic(stopped(reader, first(stream, 8)))  # inside the text block
    assert [e["type"] for e in events[-3:]] == [
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    assert events[-2]["delta"]["stop_reason"] == "max_tokens"
    assert events[-2]["usage"]["output_tokens"] == 33


def test_responses_passthrough_ends_incomplete_with_the_items_so_far() -> None:
    stream = fixture("openai_responses", "native_stream.sse")
    cut = next(i for i, e in enumerate(stream.split(b"\n\n")) if b"output_text.delta" in e) + 1
    scanner = ResponsesScanner()
    events = check_responses(stopped(scanner, first(stream, cut)))
    terminal = events[-1]
    assert terminal["type"] == "response.incomplete"
    response = terminal["response"]
    assert response["incomplete_details"] == {"reason": "max_output_tokens"}
    assert response["usage"]["output_tokens"] == 33
    message = response["output"][-1]
    assert message["type"] == "message" and message["status"] == "incomplete"
    delta = json.loads(stream.split(b"\n\n")[cut - 1].split(b"data: ", 1)[1])["delta"]
    assert message["content"][0]["text"] == delta
    assert scanner.response == response  # stored with the turn


def test_translated_streams_end_in_the_clients_dialect() -> None:
    openai = fixture("openai_chat", "stream_tools.sse")
    anthropic = fixture("anthropic_messages", "stream_thinking_tools.sse")
    to_anthropic = StreamTranslator("openai", "anthropic", model="m", request_id="req_1")
    events = check_anthropic(stopped(to_anthropic, first(openai, 4)))
    assert events[-2]["delta"]["stop_reason"] == "max_tokens"
    to_openai = StreamTranslator("anthropic", "openai", model="m", request_id="req_1",
                                 include_usage=True)  # fmt: skip
    chunks = check_openai(stopped(to_openai, first(anthropic, 8)), include_usage=True)
    assert chunks[-2]["choices"][0]["finish_reason"] == "length"
    assert chunks[-1]["usage"]["completion_tokens"] == 33


def test_translated_responses_end_incomplete() -> None:
    for upstream, stream, count in (
        ("anthropic", fixture("anthropic_messages", "stream_thinking_tools.sse"), 8),
        ("openai", fixture("openai_chat", "stream_tools.sse"), 4),
    ):
        translator = ResponsesTranslator(upstream, response_template=stream_template())
        events = check_responses(stopped(translator, first(stream, count)))
        response = events[-1]["response"]
        assert events[-1]["type"] == "response.incomplete", upstream
        assert response["incomplete_details"] == {"reason": "max_output_tokens"}
        assert translator.response == response


def test_the_legacy_complete_route_ends_with_max_tokens() -> None:
    stream = fixture("anthropic_messages", "stream_thinking_tools.sse")
    reader = stream_reader(
        "anthropic", "anthropic", model="m", request_id="req_1", include_usage=False,
        injected=False, legacy=True,
    )  # fmt: skip
    out = stopped(reader, first(stream, 8))
    last = json.loads(out.rstrip().split(b"\n")[-1][6:])
    assert last["type"] == "completion" and last["stop_reason"] == "max_tokens"


def _deltas(events: list[dict[str, Any]]) -> dict[tuple[str, str, int], str]:
    """The text each part (or call) received, by (item id, index field, index)."""
    texts: dict[tuple[str, str, int], str] = {}
    for event in events:
        if event["type"].endswith(".delta"):
            field = "summary_index" if "summary" in event["type"] else "content_index"
            key = (event["item_id"], field, event.get(field, 0))
            texts[key] = texts.get(key, "") + event["delta"]
    return texts


def test_a_native_responses_stream_cut_anywhere_ends_as_openai_ends_it() -> None:
    """Cut after every event: each open part gets its ``.done`` text event and its part
    event with the whole text, a call its ``arguments.done``, the item ``incomplete``
    holding that text; ``response.incomplete`` numbered on, with every item."""
    stream = fixture("openai_responses", "native_stream.sse")
    total = len(stream.split(b"\n\n")) - 1
    for cut in range(3, total - 1):
        part = first(stream, cut)
        scanner = ResponsesScanner()
        out = scanner.feed(part)
        if scanner.delivered == 0:
            continue
        events = check_responses(out + scanner.stop_at_limit(BILLED))
        sent = [json.loads(e.split(b"data: ", 1)[1]) for e in part.split(b"\n\n") if e]
        ending = events[len(sent) :]
        assert ending[-1]["type"] == "response.incomplete", cut
        output = ending[-1]["response"]["output"]
        texts = _deltas(sent)
        for item in output:
            for index, content in enumerate(item.get("content") or []):
                key = (item["id"], "content_index", index)
                assert content.get("text", content.get("refusal")) == texts.get(key, ""), cut
            for index, summary in enumerate(item.get("summary") or []):
                assert summary["text"] == texts.get((item["id"], "summary_index", index)), cut
            if item["type"] == "function_call":
                assert item["arguments"] == texts.get((item["id"], "content_index", 0), ""), cut
        added = [e["item"]["id"] for e in sent if e["type"] == "response.output_item.added"]
        assert [item["id"] for item in output] == added
        cut_item = output[-1]
        if not any(e["type"] == "response.output_item.done" and e["item"]["id"] == cut_item["id"]
                   for e in sent):  # fmt: skip
            assert cut_item["status"] == "incomplete"
            assert ending[-2] == {
                "type": "response.output_item.done", "output_index": len(output) - 1,
                "item": cut_item, "sequence_number": ending[-2]["sequence_number"],
            }  # fmt: skip


def test_a_cut_message_part_is_finished_before_its_item() -> None:
    stream = fixture("openai_responses", "native_stream.sse")
    cut = next(i for i, e in enumerate(stream.split(b"\n\n")) if b"output_text.delta" in e) + 2
    scanner = ResponsesScanner()
    sent = scanner.feed(first(stream, cut))
    ending = split(scanner.stop_at_limit(BILLED))
    assert [e["type"] for e in ending] == [
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.incomplete",
    ]
    last = int(json.loads(sent.rstrip().split(b"data: ")[-1])["sequence_number"])
    assert [e["sequence_number"] for e in ending] == list(range(last + 1, last + 5))
    text = "I'll list them."
    assert ending[0] == {"type": "response.output_text.done", "item_id": "msg_68f0b2",
                         "output_index": 1, "content_index": 0, "text": text, "logprobs": [],
                         "sequence_number": last + 1}  # fmt: skip
    part = {"type": "output_text", "annotations": [], "logprobs": [], "text": text}
    assert ending[1]["part"] == part and ending[1]["content_index"] == 0
    assert ending[2]["item"]["content"] == [part] and ending[2]["item"]["status"] == "incomplete"
    assert ending[3]["response"]["output"][1] == ending[2]["item"]


def test_a_cut_call_finishes_its_arguments_with_its_name() -> None:
    stream = fixture("openai_responses", "native_stream.sse")
    cut = next(i for i, e in enumerate(stream.split(b"\n\n")) if b"arguments.delta" in e) + 1
    scanner = ResponsesScanner()
    scanner.feed(first(stream, cut))
    ending = split(scanner.stop_at_limit(BILLED))
    assert [e["type"] for e in ending[:2]] == [
        "response.function_call_arguments.done",
        "response.output_item.done",
    ]
    assert ending[0]["name"] == "exec_command" and ending[0]["arguments"] == '{"cmd":'
    assert ending[1]["item"]["arguments"] == '{"cmd":'


def split(stream: bytes) -> list[dict[str, Any]]:
    return [json.loads(e.split(b"data: ", 1)[1]) for e in stream.split(b"\n\n") if e]


def test_odd_indexes_from_the_upstream_do_not_break_the_ending() -> None:
    """An upstream's lists or strings where OpenAI sends integers end the stream all
    the same (they are relayed unchanged; the gateway's own events are well-formed)."""
    scanner = ResponsesScanner()
    events = [
        {"type": "response.output_item.added", "output_index": [0], "item": {"id": "m",
         "type": "message", "status": "in_progress", "content": []}},
        {"type": "response.content_part.added", "item_id": "m", "output_index": [0],
         "content_index": {"a": 1}, "part": {"type": "output_text", "text": ""}},
        {"type": "response.output_text.delta", "item_id": "m", "output_index": [0],
         "content_index": 0, "delta": "hello"},
    ]  # fmt: skip
    scanner.feed(b"".join(b"data: " + json.dumps(e).encode() + b"\n\n" for e in events))
    ending = split(scanner.stop_at_limit(BILLED))
    assert ending[-1]["type"] == "response.incomplete"
    assert ending[-2]["item"]["status"] == "incomplete"


def test_a_translated_stream_cut_in_its_reasoning_finishes_it_incomplete() -> None:
    stream = fixture("anthropic_messages", "stream_thinking_tools.sse")
    cut = next(i for i, e in enumerate(stream.split(b"\n\n")) if b"thinking_delta" in e) + 1
    translator = ResponsesTranslator("anthropic", response_template=stream_template())
    events = check_responses(stopped(translator, first(stream, cut)))
    assert [e["type"] for e in events[-5:]] == [
        "response.reasoning_text.delta",
        "response.reasoning_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.incomplete",
    ]
    reasoning = events[-2]["item"]
    assert reasoning["type"] == "reasoning" and reasoning["status"] == "incomplete"
    assert events[-1]["response"]["output"] == [reasoning]
