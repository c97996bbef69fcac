"""OpenAPI fragments that several capabilities' documents share.

A streamed answer is described as what it is on the wire: a ``text/event-stream`` body of
server-sent events. Before OpenAPI 3.2 (which adds ``itemSchema``) the ``schema`` of an
event-stream media type describes one event, as a reader parses it: its ``event`` name
(``message`` when the line is absent), its ``data`` text (one JSON object in every
dialect, or ``[DONE]`` at the end of an OpenAI Chat or Completions stream) and an optional
``id``. Comment lines (``: keep-alive``) keep an idle stream open and are not events.
"""

from __future__ import annotations

from typing import Any

__all__ = ["SSE_CONTENT"]

SSE_CONTENT: dict[str, Any] = {
    "schema": {
        "type": "object",
        "description": (
            "One server-sent event: `event: <type>` (Anthropic, Responses) and"
            " `data: <one JSON event>`; OpenAI Chat and Completions streams end with"
            " `data: [DONE]`."
        ),
        "required": ["data"],
        "properties": {
            "event": {"type": "string"},
            "data": {"type": "string"},
            "id": {"type": "string"},
            "retry": {"type": "integer"},
        },
    },
}
