"""Users and their API keys: who is calling, and what they may call."""
