"""How many tokens a piece of generated text is, without a tokenizer.

Used where the upstream never said (a stream the client cut, or the gateway ended at its
hold, before the upstream's usage event): the call is billed the larger of the
upstream's own count and this estimate of the text that was delivered.

Why not a real tokenizer: each upstream family has its own vocabulary (OpenAI's o200k and
cl100k, Anthropic's, every open model's), loading one costs tens of megabytes of memory
in every process and a download the gateway may not make, and it would still be wrong
for the others. Instead the text is split the way those BPE tokenizers pre-split it
(words with their leading space, digit groups of at most three, punctuation runs, line
breaks, indentation), and each kind of piece is weighted by a coefficient fitted against
the real tokenizers on a mixed corpus of English prose, Markdown, Python, TypeScript,
JSON, Chinese, Japanese, Korean and Russian. ``bench/token_estimate.py`` reproduces the
fit's error figures; docs/billing.md reports them.

Everything is counted with regular expressions (C loops), so a short stream delta costs a
few microseconds and a whole answer is linear in its length. The weights are integers in
hundredths, so the result is exact and the same on every machine.
"""

from __future__ import annotations

import re

__all__ = ["estimate_tokens"]

# ASCII pieces, as BPE pre-tokenizers cut them (a word keeps its leading space or mark).
_WORDS = re.compile(r"[A-Za-z]+")
_LONG_WORDS = re.compile(r"[A-Za-z]{7,}")  # long words split into several tokens
_DIGITS = re.compile(r"[0-9]{1,3}")
_PUNCT = re.compile(r"[!-/:-@\[-`{-~]+")  # runs of ASCII punctuation
_LONG_PUNCT = re.compile(r"[!-/:-@\[-`{-~]{3,}")
_BREAKS = re.compile(r"[ \t]*[\r\n]+|[ \t]{2,}")  # line breaks and indentation
# Scripts whose characters are (close to) a token each, or less.
_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u3000-\u303f\uff00-\uffef]")
_KANA = re.compile(r"[\u3040-\u30ff]")
_HANGUL = re.compile(r"[\uac00-\ud7af]")
# Other non-ASCII letters (accented Latin, Cyrillic, Greek, Arabic, ...), by run.
_OTHER = re.compile(
    r"[^\x00-\x7f\u3000-\u303f\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff"
    r"\uac00-\ud7af\uf900-\ufaff\uff00-\uffef\s]+"
)

# Weights in hundredths of a token: a least-squares fit of the relative error against
# OpenAI's o200k and Anthropic's tokenizer at once (between the two where they differ,
# as for Han characters: about 0.7 a character in o200k, 1.0 in Claude's).
_WORD, _WORD_EXTRA, _DIGIT, _MARK, _MARK_EXTRA, _BREAK = 104, 17, 148, 82, 28, 54
_HAN_CHAR, _KANA_CHAR, _HANGUL_CHAR, _OTHER_RUN, _OTHER_BYTE = 81, 80, 87, 107, 7


def _extra(pattern: re.Pattern[str], text: str, free: int) -> int:
    """Characters past the first ``free`` of every match (long words, long mark runs)."""
    return sum(len(m) - free for m in pattern.findall(text))


def estimate_tokens(text: str) -> int:
    """An estimate of the tokens in ``text``, rounded (0 for no text, at least 1 otherwise)."""
    if not text:
        return 0
    return max(1, (_hundredths(text) + 50) // 100)


def _hundredths(text: str) -> int:
    """The estimate in hundredths of a token, unrounded."""
    if not text:
        return 0
    hundredths = (
        _WORD * len(_WORDS.findall(text))
        + _WORD_EXTRA * _extra(_LONG_WORDS, text, 6)
        + _DIGIT * len(_DIGITS.findall(text))
        + _MARK * len(_PUNCT.findall(text))
        + _MARK_EXTRA * _extra(_LONG_PUNCT, text, 2)
        + _BREAK * len(_BREAKS.findall(text))
    )
    if not text.isascii():
        others = _OTHER.findall(text)
        hundredths += (
            _HAN_CHAR * len(_HAN.findall(text))
            + _KANA_CHAR * len(_KANA.findall(text))
            + _HANGUL_CHAR * len(_HANGUL.findall(text))
            + _OTHER_RUN * len(others)
            + _OTHER_BYTE * sum(len(run.encode()) for run in others)
        )
    return hundredths
