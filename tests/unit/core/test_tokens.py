"""The text-to-token estimate that bills a stream cut before the upstream's count.

The reference counts are what the real tokenizers gave for these texts (OpenAI's
o200k_base and Anthropic's tokenizer, counted with ``bench/token_estimate.py``'s
packages); the estimate must stay within the error documented in docs/billing.md.
"""

from __future__ import annotations

import pytest

from relaygate.core.tokens import estimate_tokens

PROSE = (
    "A hold is a reservation, not money, so it can live next to a cached view of the "
    "balance and cost no database round trip before the upstream call. The settle is the "
    "one durable write per call."
)
CODE = (
    "def settle(self, ctx: CallContext) -> None:\n"
    "    if ctx.settled or ctx.reservation is None:\n"
    "        return\n"
    "    ctx.settled = True\n"
    "    await self.charging.settle(ctx.reservation, bill)\n"
)
CHINESE = (
    "当客户端在流式响应中途断开连接时，网关应该按照已经发送出去的内容收费。"
    "这里的难点在于上游往往只在最后一个事件里报告用量。"
)


@pytest.mark.parametrize(
    ("text", "o200k", "claude", "tolerance"),
    [(PROSE, 42, 42, 0.12), (CODE, 49, 49, 0.12), (CHINESE, 44, 53, 0.2)],
)
def test_within_the_documented_error_of_real_tokenizers(
    text: str, o200k: int, claude: int, tolerance: float
) -> None:
    estimate = estimate_tokens(text)
    assert abs(estimate - o200k) <= tolerance * o200k
    assert abs(estimate - claude) <= tolerance * claude


def test_no_text_is_no_token_and_any_text_at_least_one() -> None:
    assert estimate_tokens("") == 0
    assert estimate_tokens("a") == 1
    assert estimate_tokens(" ") == 1


def test_grows_with_the_text() -> None:
    assert estimate_tokens(PROSE * 10) >= 9 * estimate_tokens(PROSE)
    assert estimate_tokens("你" * 1000) > estimate_tokens("你" * 100) * 9


def test_summed_over_token_sized_events_stays_close_to_the_whole() -> None:
    """A stream is estimated event batch by event batch; events carry whole tokens, so
    the sum stays near the whole text's estimate (o200k's tokens of PROSE, one an event)."""
    events = PROSE.replace(" ", "\0 ").split("\0")  # " word" pieces, as BPE cuts them
    total = sum(estimate_tokens(event) for event in events)
    assert abs(total - estimate_tokens(PROSE)) <= 0.1 * estimate_tokens(PROSE)


def test_cutting_inside_words_would_overcount() -> None:
    """Why batches are cut at event boundaries, never inside a word: a word cut in two
    counts twice."""
    deltas = [PROSE[at : at + 3] for at in range(0, len(PROSE), 3)]
    assert sum(estimate_tokens(d) for d in deltas) > 1.4 * estimate_tokens(PROSE)
