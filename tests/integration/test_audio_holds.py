"""The hold of a transcription on a token-priced model (gpt-4o-transcribe) covers the
tokens the upstream bills for it: the input audio and the transcript, estimated from the
audio's length (docs/media.md, "The hold"). Without them the hold was the prompt's few
tokens, and concurrent calls spent far past the balance.

A user funded for ``CALLS`` calls sends ``PARALLEL`` transcriptions of a 30 s WAV at once
through the ``openai`` SDK; the upstream answers each after a pause and bills a fast
talker's transcript. The balance never goes below minus one call's cost.
"""

from __future__ import annotations

import asyncio
from decimal import Decimal

import httpx
import openai

from relaygate.billing.pricing import Price, charge, official_cost
from relaygate.core.units import Usage
from relaygate.relay.media.units import (
    AUDIO_INPUT_TOKENS_PER_SECOND,
    TRANSCRIPT_TOKENS_PER_SECOND,
)
from tests.fakes.media_routes import MediaBehaviour
from tests.fakes.openai_upstream import Behaviour, FakeOpenAI
from tests.harness import Gateway, run_sync
from tests.integration.test_audio import _mapped, make_wav
from tests.integration.test_money import books, charges, wallet
from tests.integration.test_money_concurrency import _user_with

CALLS = 2
PARALLEL = 12
SECONDS = 30
INPUT, OUTPUT = 6_000_000, 10_000_000  # $6 and $10 per 1M tokens: 6 and 10 micro a token
# what the upstream bills each call: 10 audio tokens a second, 13 transcript tokens a
# second (a fast talker; inside the documented bound of TRANSCRIPT_TOKENS_PER_SECOND)
BILLED_INPUT, BILLED_OUTPUT = 10 * SECONDS, 13 * SECONDS
BILLED = {"type": "tokens", "input_tokens": BILLED_INPUT, "output_tokens": BILLED_OUTPUT}


def _cost(prompt: int, output: int) -> int:
    return charge(official_cost(Price(INPUT, OUTPUT), Usage(prompt, output)), Decimal(1))


async def _fire(gw: Gateway, key: str, model: str, audio: bytes) -> list[int]:
    limits = httpx.Limits(max_connections=PARALLEL + 4, max_keepalive_connections=0)
    http = httpx.AsyncClient(limits=limits, timeout=120)
    client = openai.AsyncOpenAI(base_url=gw.url + "/v1", api_key=key, max_retries=0,
                                http_client=http)  # fmt: skip

    async def one() -> int:
        try:
            await client.audio.transcriptions.create(
                model=model, file=("talk.wav", audio, "audio/wav")
            )
        except openai.APIStatusError as err:
            return err.status_code
        return 200

    async with http:
        return await asyncio.gather(*(one() for _ in range(PARALLEL)))


def test_the_documented_estimate_covers_what_the_upstream_bills() -> None:
    held = _cost(AUDIO_INPUT_TOKENS_PER_SECOND * SECONDS, TRANSCRIPT_TOKENS_PER_SECOND * SECONDS)
    assert held >= _cost(BILLED_INPUT, BILLED_OUTPUT)


def test_concurrent_token_priced_transcriptions_cannot_overspend(
    gateway: Gateway, fake: FakeOpenAI
) -> None:
    public, upstream = _mapped(gateway, fake, input="6", output="10")
    fake.script(upstream, *[Behaviour(latency=0.5) for _ in range(PARALLEL)])
    fake.media.script(upstream, *[MediaBehaviour(usage=BILLED) for _ in range(PARALLEL)])
    cost = _cost(BILLED_INPUT, BILLED_OUTPUT)
    user_id = _user_with(gateway, CALLS * cost)
    key = gateway.make_user_key(user_id=user_id)

    statuses = run_sync(_fire(gateway, key.key, public, make_wav(SECONDS, rate=8_000)))

    served = statuses.count(200)
    assert set(statuses) <= {200, 402}, statuses
    assert 1 <= served <= CALLS + 1, statuses
    balance, _ = wallet(gateway, user_id)
    assert balance >= -cost, (balance, cost)
    assert balance == CALLS * cost - served * cost
    assert len(charges(gateway, user_id)) == served
    books(gateway, user_id)
