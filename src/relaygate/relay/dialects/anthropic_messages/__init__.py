"""The Anthropic dialect: Messages (stream and not), count_tokens and legacy Complete."""
