"""State the gateway owns: stored Responses, Conversations and stored chat completions.

Kept in Relaygate's own database, per user, so ``previous_response_id`` and
``conversation`` work on every upstream (docs/state.md).
"""
