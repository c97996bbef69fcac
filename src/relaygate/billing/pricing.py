"""What a call costs: official price × multipliers, in exact integer micro-units.

Pure code, no I/O. Money is counted in micro-units of the platform currency
(``1_000_000`` = 1.00). Prices are the upstream's *official* prices per million tokens
(or per call); the platform's margin or discount is a product of multipliers: per model,
per route group (the Claude Code / Codex routes), per service tier (``flex``), per user
group. Everything is exact (fractions) until one final rounding, half up, to a whole
micro-unit. docs/billing.md has worked examples.

Units (``core.units.Usage``, the record the relay meters a call in): ``prompt_tokens``
counts every input token, including ``cached_tokens`` (cache reads) and
``cache_write_tokens``; ``completion_tokens`` counts every output token, including
``reasoning_tokens``.

Media units (docs/media.md) are priced beside the tokens, and add up with them: images
returned (``per_image``, micro-units per image), input characters of a speech call
(``per_character``, micro-units per *million* characters, as OpenAI quotes "$15 / 1M
characters") and seconds of audio transcribed or translated (``per_second``, micro-units
per second; a call is billed per *started* second: ``ceil(audio_ms / 1000)``).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

from relaygate.core.money import MICRO
from relaygate.core.units import Usage

__all__ = [
    "MICRO",
    "Multipliers",
    "Price",
    "charge",
    "official_cost",
]

_PER = 1_000_000  # prices are per million tokens


@dataclass(frozen=True, slots=True)
class Price:
    """Official prices in micro-units per million tokens; ``None`` falls back as noted."""

    input: int = 0
    output: int = 0
    cached_input: int | None = None  # None: the input price
    cache_write: int | None = None  # None: the input price
    reasoning: int | None = None  # None: the output price
    per_call: int = 0  # a flat fee per call (non-token endpoints, or on top)
    per_image: int = 0  # per image returned
    per_character: int = 0  # per million input characters (speech)
    per_second: int = 0  # per started second of audio (transcription, translation)


@dataclass(frozen=True, slots=True)
class Multipliers:
    model: Decimal = Decimal(1)
    route: Decimal = Decimal(1)
    tier: Decimal = Decimal(1)
    group: Decimal = Decimal(1)

    @property
    def total(self) -> Decimal:
        return self.model * self.route * self.tier * self.group


def _nonneg(value: int) -> int:
    return value if value > 0 else 0


def official_cost(price: Price, tokens: Usage) -> Fraction:
    """The call's cost at official prices, in micro-units, exactly."""
    cached = min(_nonneg(tokens.cached_tokens), _nonneg(tokens.prompt_tokens))
    written = min(_nonneg(tokens.cache_write_tokens), _nonneg(tokens.prompt_tokens) - cached)
    fresh_input = _nonneg(tokens.prompt_tokens) - cached - written
    reasoning = min(_nonneg(tokens.reasoning_tokens), _nonneg(tokens.completion_tokens))
    plain_output = _nonneg(tokens.completion_tokens) - reasoning
    per_million = (
        fresh_input * price.input
        + cached * (price.input if price.cached_input is None else price.cached_input)
        + written * (price.input if price.cache_write is None else price.cache_write)
        + plain_output * price.output
        + reasoning * (price.output if price.reasoning is None else price.reasoning)
        + _nonneg(tokens.characters) * price.per_character
    )
    # one Fraction, built once: summing Fractions costs a gcd each (this runs twice a call)
    return Fraction(per_million + _whole_units_cost(price, tokens) * _PER, _PER)


def _whole_units_cost(price: Price, units: Usage) -> int:
    """The flat fee, images and started seconds of audio, in micro-units."""
    seconds = -(-_nonneg(units.audio_ms) // 1000)  # ceil: a started second is a second
    return price.per_call + _nonneg(units.images) * price.per_image + seconds * price.per_second


def charge(official: Fraction, multiplier: Decimal) -> int:
    """Apply the multiplier and round once, half up, to whole micro-units (integer
    arithmetic on the exact ratio: the same result as Fraction's, without its gcds)."""
    numerator, denominator = multiplier.as_integer_ratio()
    exact_num = official.numerator * numerator
    exact_den = official.denominator * denominator
    whole, rest = divmod(exact_num, exact_den)
    return whole + (1 if 2 * rest >= exact_den else 0)
