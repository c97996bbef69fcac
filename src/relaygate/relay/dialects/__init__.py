"""Wire dialects: pure parsing and rendering of each API format, used in both directions.

The dialect names live here, in the package's light root, so the pipeline can name a
dialect without importing a translator (those load on the first translated call). What
each dialect does is its :class:`~relaygate.relay.dialects.record.Dialect` record, found
by name or channel type in :mod:`relaygate.relay.dialects.registry`.
"""

from enum import StrEnum

__all__ = ["ANTHROPIC", "OPENAI", "RESPONSES", "DialectName"]


class DialectName(StrEnum):
    """The wire formats Relaygate speaks. A ``StrEnum`` so a name is still the string
    the logs, the usage rows and the tests have always shown (``"openai"``…)."""

    OPENAI = "openai"  # Chat Completions (and legacy Completions, Embeddings)
    ANTHROPIC = "anthropic"  # Messages
    RESPONSES = "responses"  # the Responses API


OPENAI = DialectName.OPENAI
ANTHROPIC = DialectName.ANTHROPIC
RESPONSES = DialectName.RESPONSES
