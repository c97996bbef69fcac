"""A Responses API turn and the state Relaygate keeps for it (DESIGN.md §4).

Relaygate stores every response itself, so ``previous_response_id`` and ``conversation``
work on every channel, Claude and local models included: before the call the turn's
history is loaded from the store (a missing or foreign id is a 404 before any upstream
is paid), and the finished Response is written before the call's last byte is sent, so
a client that continues the chain at once finds it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from relaygate.core.errors import InvalidRequest
from relaygate.relay.dialects.openai_responses.convert import input_items
from relaygate.relay.dialects.openai_responses.output import new_id, response_template
from relaygate.state.service import StateService

__all__ = ["Turn", "close_turn", "open_turn"]


@dataclass(slots=True)
class Turn:
    history: list[dict[str, Any]]  # earlier items of the chain or conversation, oldest first
    template: dict[str, Any]  # the Response as known before the upstream answers
    input_items: list[dict[str, Any]]  # this turn's input, as stored
    conversation_id: str | None
    background: bool = False  # runs on after the create call is answered (relay.background)


def _conversation_id(payload: dict[str, Any]) -> str | None:
    conversation = payload.get("conversation")
    if conversation is None:
        return None
    if isinstance(conversation, dict):
        conversation = conversation.get("id")
    if not isinstance(conversation, str) or not conversation:
        raise InvalidRequest(
            "'conversation' must be a conversation id or an object with an 'id'.",
            param="conversation",
        )
    return conversation


def _background(payload: dict[str, Any]) -> bool:
    """``background: true`` needs the response stored (OpenAI refuses ``store: false``)."""
    background = payload.get("background")
    if background is None:
        return False
    if not isinstance(background, bool):
        raise InvalidRequest(
            "Invalid type for 'background': expected a boolean.", param="background"
        )
    if background and payload.get("store") is False:
        raise InvalidRequest("Background mode requires 'store' to be true.", param="background")
    return background


async def open_turn(state: StateService, user_id: int, payload: dict[str, Any]) -> Turn:
    """Load the turn's history and prepare its Response (404 for an unknown id)."""
    previous = payload.get("previous_response_id")
    conversation_id = _conversation_id(payload)
    background = _background(payload)
    history: list[dict[str, Any]] = []
    if isinstance(previous, str) and previous:
        history = await state.history(user_id, previous)
    elif conversation_id is not None:
        history = await state.conversation_items(user_id, conversation_id)
    items = input_items(payload)
    state.check_items(items, "input")
    template = response_template(
        payload,
        response_id=new_id("resp"),
        model=str(payload.get("model", "")),
        created_at=int(time.time()),
        previous_response_id=previous if isinstance(previous, str) else None,
        conversation_id=conversation_id,
    )
    if background:
        template["background"] = True
    return Turn(history, template, items, conversation_id, background)


async def close_turn(
    state: StateService, user_id: int, turn: Turn, response: dict[str, Any]
) -> None:
    """Store the finished Response (unless ``store: false``) and extend its conversation.

    A Response from an upstream that serves the API itself was asked without the chain
    (Relaygate sent the history instead): the links are put back for the store.
    """
    links = {k: turn.template.get(k) for k in ("previous_response_id", "conversation")}
    missing = {k: v for k, v in links.items() if v is not None and response.get(k) is None}
    if missing:
        response = {**response, **missing}
    await state.save_response(
        user_id, response, turn.input_items, conversation_id=turn.conversation_id
    )
