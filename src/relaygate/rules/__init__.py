"""Override rules: a user's server-side rewrites of their own requests (docs/rules.md)."""
