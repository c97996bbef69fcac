"""The text-to-token estimate that bills a stream cut before the upstream's count.

The reference counts are what the real tokenizers gave for these texts (OpenAI's
o200k_base and Anthropic's tokenizer, counted with ``bench/token_estimate.py``'s
packages); the estimate must stay within the error documented in docs/billing.md.
"""

from __future__ import annotations

import pytest

from relaygate.core.tokens import TokenTally, estimate_tokens

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


def test_a_tally_fed_in_small_deltas_matches_the_whole_text() -> None:
    for text in (PROSE * 20, CODE * 20, CHINESE * 40):
        tally = TokenTally()
        for at in range(0, len(text), 3):
            tally.add(text[at : at + 3])
        whole = estimate_tokens(text)
        assert abs(tally.tokens() - whole) <= 0.03 * whole


def test_summing_per_delta_estimates_would_overcount() -> None:
    """Why the tally exists: words cut across deltas count twice when each delta is
    estimated alone."""
    deltas = [PROSE[at : at + 3] for at in range(0, len(PROSE), 3)]
    assert sum(estimate_tokens(d) for d in deltas) > 1.4 * estimate_tokens(PROSE)


def test_an_empty_tally_is_zero() -> None:
    tally = TokenTally()
    assert tally.tokens() == 0
    tally.add("")
    assert tally.tokens() == 0
