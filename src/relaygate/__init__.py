"""Relaygate: a self-hosted AI API platform (OpenAI and Anthropic dialects, metered and billed)."""

__version__ = "0.1.0"
