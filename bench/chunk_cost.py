"""Per-chunk CPU of the stream readers: the relay's hot path, one upstream chunk at a time.

``python -m bench.chunk_cost`` feeds each reader (passthrough and translated, every
dialect) a long stream of typical one-token chunks and prints the CPU time per chunk
(process time, best of several rounds), so a change to the readers can be measured
before and after. No network, no event loop: only the reader's own work.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import orjson

from relaygate.relay.crossing import StreamReader, stream_reader

CHUNKS = 20_000
ROUNDS = 5
TEMPLATE = {"id": "resp_1", "object": "response", "status": "in_progress", "output": []}


def _openai(i: int) -> bytes:
    chunk = {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "m",
        "choices": [{"index": 0, "delta": {"content": f" word{i % 10}"}, "finish_reason": None}],
    }
    return b"data: " + orjson.dumps(chunk) + b"\n\n"


def _anthropic(i: int) -> bytes:
    event = {"type": "content_block_delta", "index": 0,
             "delta": {"type": "text_delta", "text": f" word{i % 10}"}}  # fmt: skip
    return b"event: content_block_delta\ndata: " + orjson.dumps(event) + b"\n\n"


def _responses(i: int) -> bytes:
    event = {"type": "response.output_text.delta", "sequence_number": i + 3,
             "item_id": "msg_1", "output_index": 0, "content_index": 0,
             "delta": f" word{i % 10}"}  # fmt: skip
    return b"event: response.output_text.delta\ndata: " + orjson.dumps(event) + b"\n\n"


_ANTHROPIC_HEAD = (
    b'event: message_start\ndata: {"type":"message_start","message":{"id":"msg_1",'
    b'"type":"message","role":"assistant","model":"m","content":[],"usage":'
    b'{"input_tokens":5,"output_tokens":1}}}\n\n'
    b'event: content_block_start\ndata: {"type":"content_block_start","index":0,'
    b'"content_block":{"type":"text","text":""}}\n\n'
)
_OPENAI_HEAD = _openai(0)


def _cases() -> dict[str, tuple[Callable[[], StreamReader], bytes, Callable[[int], bytes]]]:
    def reader(client: str, upstream: str) -> Callable[[], StreamReader]:
        return lambda: stream_reader(
            client, upstream, model="m", request_id="req_1", include_usage=False,
            injected=False, legacy=False, template=TEMPLATE,
        )  # fmt: skip

    return {
        "openai passthrough": (reader("openai", "openai"), _OPENAI_HEAD, _openai),
        "anthropic passthrough": (reader("anthropic", "anthropic"), _ANTHROPIC_HEAD, _anthropic),
        "responses passthrough": (reader("responses", "responses"), b"", _responses),
        "openai -> anthropic": (reader("anthropic", "openai"), _OPENAI_HEAD, _openai),
        "anthropic -> openai": (reader("openai", "anthropic"), _ANTHROPIC_HEAD, _anthropic),
        "anthropic -> responses": (reader("responses", "anthropic"), _ANTHROPIC_HEAD, _anthropic),
    }


def main() -> None:
    for name, (make, head, chunk) in _cases().items():
        chunks = [chunk(i) for i in range(CHUNKS)]
        best = float("inf")
        for _ in range(ROUNDS):
            reader = make()
            reader.feed(head)
            started = time.process_time()
            for data in chunks:
                reader.feed(data)
            best = min(best, time.process_time() - started)
        print(f"{name:24s} {best / CHUNKS * 1e6:6.2f} µs/chunk")


if __name__ == "__main__":
    main()
