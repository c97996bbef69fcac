"""How much output a stream may deliver before it is stopped: its hold, in tokens.

A hold covers the call's worst case as the upstream bills it (``Wire.max_output``: every
choice, every ``best_of`` completion) plus a slack (``stream_cap_slack_percent`` of it,
at least ``stream_cap_slack_tokens``): the slack absorbs the error of the delivered-text
estimate, so a stream the upstream ends within its limit is never cut. While a stream
is relayed, its reader keeps a running estimate of the output delivered
(``StreamReader.delivered``); when that reaches the budget, the running cost (priced
like the final bill) has reached the hold, and:

* the caller set an output limit: the upstream ignored it; the stream is ended as the
  dialect ends an answer at its output limit, the upstream closed, what was delivered
  billed;
* the caller set none: the hold grows by the same amount again while the balance (and
  the key's cap) covers it with every other hold (``Charging.extend``), else the stream
  is ended the same way.

So no call is ever billed much past its hold (one upstream chunk at most), and a user's
balance cannot go below zero by more than one call's hold, whatever the upstream does.
The check costs one integer comparison per chunk.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["CapSlack", "OutputBudget"]


@dataclass(frozen=True, slots=True)
class CapSlack:
    percent: int = 20
    tokens: int = 64

    def of(self, held: int) -> int:
        """The slack on ``held`` output tokens (none when nothing is generated)."""
        if held <= 0:
            return 0
        return max(-(-held * self.percent // 100), self.tokens)


@dataclass(slots=True)
class OutputBudget:
    tokens: int  # the delivered output (estimated tokens) the hold covers
    step: int  # what one extension of the hold adds; 0: the caller's own limit, final
