"""The state capability's errors: OpenAI's wording for an id that is not there.

An id that exists but belongs to another user gets the very same error, so nothing
tells a caller whether someone else's id is real.
"""

from __future__ import annotations

from relaygate.core.errors import InvalidRequest, NotFound

__all__ = [
    "bad_cursor",
    "completion_not_found",
    "conversation_not_found",
    "item_not_found",
    "previous_response_not_found",
    "response_not_found",
]


def response_not_found(response_id: str) -> NotFound:
    return NotFound(f"Response with id '{response_id}' not found.")


def previous_response_not_found(response_id: str) -> NotFound:
    return NotFound(
        f"Previous response with id '{response_id}' not found.", param="previous_response_id"
    )


def conversation_not_found(conversation_id: str, param: str | None = None) -> NotFound:
    return NotFound(f"Conversation with id '{conversation_id}' not found.", param=param)


def item_not_found(item_id: str) -> NotFound:
    return NotFound(f"Item with id '{item_id}' not found.")


def completion_not_found(completion_id: str) -> NotFound:
    return NotFound(f"Chat completion with id '{completion_id}' not found.")


def bad_cursor(after: str) -> InvalidRequest:
    """``after`` names nothing in this list (deleted since, or never part of it)."""
    return InvalidRequest(
        f"Invalid 'after': no object with id '{after}' in this list.", param="after"
    )
