"""Wire dialects: pure parsing and rendering of each API format, used in both directions.

The dialect names live here, in the package's light root, so the pipeline can name a
dialect without importing a translator (those load on the first translated call).
"""

__all__ = ["ANTHROPIC", "OPENAI", "RESPONSES"]

OPENAI = "openai"  # Chat Completions (and legacy Completions, Embeddings)
ANTHROPIC = "anthropic"  # Messages
RESPONSES = "responses"  # the Responses API
