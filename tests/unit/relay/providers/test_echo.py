"""The echo upstream: deterministic replies in OpenAI's shapes, with usage."""

from __future__ import annotations

import base64
import struct

import orjson

from relaygate.channels.spec import ChannelSpec
from relaygate.relay.providers.base import UpstreamCall
from relaygate.relay.providers.echo import EchoProvider, echo_text

ECHO = ChannelSpec(id=1, name="echo", type="echo", base_url="", api_key="", models={})


def _call(endpoint: str, payload: dict[str, object], stream: bool = False) -> UpstreamCall:
    return UpstreamCall(endpoint, payload, orjson.dumps(payload), stream, "req_1")


def test_reply_comes_from_the_last_user_message() -> None:
    messages = [
        {"role": "user", "content": "first"},
        {"role": "assistant", "content": "x"},
        {"role": "user", "content": [{"type": "text", "text": "second"}, {"type": "image_url"}]},
    ]
    assert echo_text(messages) == "Echo: second"


async def test_chat_non_stream_has_usage() -> None:
    payload = {"model": "relaygate-echo", "messages": [{"role": "user", "content": "hello world"}]}
    reply = await EchoProvider().send(ECHO, _call("chat/completions", payload))
    body = orjson.loads(await reply.read())
    assert body["choices"][0]["message"]["content"] == "Echo: hello world"
    assert body["usage"]["prompt_tokens"] > 0 and body["usage"]["completion_tokens"] > 0


async def test_chat_stream_concatenates_to_the_reply_and_ends_with_done() -> None:
    payload = {
        "model": "relaygate-echo",
        "messages": [{"role": "user", "content": "a b c"}],
        "stream_options": {"include_usage": True},
    }
    reply = await EchoProvider().send(ECHO, _call("chat/completions", payload, stream=True))
    frames = [f async for f in reply.chunks()]
    assert frames[-1] == b"data: [DONE]\n\n"
    chunks = [orjson.loads(f[6:]) for f in frames[:-1]]
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks if c["choices"])
    assert text == "Echo: a b c"
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["total_tokens"] > 0


async def test_embeddings_honour_base64_and_dimensions() -> None:
    plain = {"model": "e", "input": ["x"], "dimensions": 4}
    floats = orjson.loads(
        await (await EchoProvider().send(ECHO, _call("embeddings", plain))).read()
    )
    packed = {**plain, "encoding_format": "base64"}
    b64 = orjson.loads(await (await EchoProvider().send(ECHO, _call("embeddings", packed))).read())
    decoded = struct.unpack("<4f", base64.b64decode(b64["data"][0]["embedding"]))
    assert len(floats["data"][0]["embedding"]) == 4
    assert list(decoded) == [
        struct.unpack("<f", struct.pack("<f", v))[0] for v in floats["data"][0]["embedding"]
    ]
