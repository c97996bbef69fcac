"""A fake OpenAI upstream that also serves the Responses API itself (``POST /v1/responses``).

Same scripting as :class:`~tests.fakes.openai_upstream.FakeOpenAI` (``Behaviour.text``,
token counts, status codes); the answer is a ``Response`` object, or its event stream
with increasing ``sequence_number``s, as OpenAI sends them.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from aiohttp import web

from tests.fakes.openai_upstream import Behaviour, FakeOpenAI, RecordedRequest

__all__ = ["NATIVE_COMPACTION", "FakeOpenAIResponses", "response_body"]

# the encrypted content of the fake's own compaction items (OpenAI's are Fernet tokens)
NATIVE_COMPACTION = "gAAAAABfake-openai-compaction"


def response_body(b: Behaviour, body: dict[str, Any], rid: str) -> dict[str, Any]:
    output_tokens = b.completion_count()
    return {
        "id": rid,
        "object": "response",
        "created_at": int(time.time()),
        "status": "completed",
        "model": str(body.get("model", "")),
        "output": [
            {
                "type": "message",
                "id": f"msg_{rid[5:]}",
                "status": "completed",
                "role": "assistant",
                "content": [{"type": "output_text", "text": b.text, "annotations": []}],
            }
        ],
        "previous_response_id": body.get("previous_response_id"),
        "parallel_tool_calls": body.get("parallel_tool_calls", True),
        "tool_choice": body.get("tool_choice", "auto"),
        "tools": body.get("tools", []),
        "store": body.get("store", True),
        "usage": {
            "input_tokens": b.prompt_tokens,
            "input_tokens_details": {"cached_tokens": b.cached_tokens},
            "output_tokens": output_tokens,
            "output_tokens_details": {"reasoning_tokens": b.reasoning_tokens},
            "total_tokens": b.prompt_tokens + output_tokens,
        },
    }


def _events(b: Behaviour, final: dict[str, Any]) -> list[dict[str, Any]]:
    item = final["output"][0]
    started = {**final, "status": "in_progress", "output": [], "usage": None}
    opened = {**item, "status": "in_progress", "content": []}
    part = {"type": "output_text", "text": "", "annotations": []}
    where = {"item_id": item["id"], "output_index": 0, "content_index": 0}
    events: list[dict[str, Any]] = [
        {"type": "response.created", "response": started},
        {"type": "response.in_progress", "response": started},
        {"type": "response.output_item.added", "output_index": 0, "item": opened},
        {"type": "response.content_part.added", **where, "part": part},
        *(
            {"type": "response.output_text.delta", **where, "delta": p, "logprobs": []}
            for p in b.pieces()
        ),
        {"type": "response.output_text.done", **where, "text": b.text, "logprobs": []},
        {"type": "response.content_part.done", **where, "part": item["content"][0]},
        {"type": "response.output_item.done", "output_index": 0, "item": item},
        {"type": "response.completed", "response": final},
    ]
    return [{**event, "sequence_number": n} for n, event in enumerate(events)]


class FakeOpenAIResponses(FakeOpenAI):
    def _add_routes(self, app: web.Application) -> None:
        super()._add_routes(app)
        app.router.add_post("/v1/responses", self._responses)
        app.router.add_post("/v1/responses/compact", self._compact)

    async def _compact(self, request: web.Request) -> web.StreamResponse:
        return await self._guarded(request, self._answer_compact)

    async def _answer_compact(
        self, request: web.Request, rec: RecordedRequest, b: Behaviour
    ) -> web.StreamResponse:
        """``CompactResource``: one compaction item, as OpenAI answers."""
        final = response_body(b, rec.body if isinstance(rec.body, dict) else {}, "resp_cmp")
        resource = {
            "id": "resp_cmp",
            "object": "response.compaction",
            "created_at": final["created_at"],
            "output": [_native_item()],
            "usage": final["usage"],
        }
        return self._json(rec, b, resource)

    async def _responses(self, request: web.Request) -> web.StreamResponse:
        return await self._guarded(request, self._answer_responses)

    async def _answer_responses(
        self, request: web.Request, rec: RecordedRequest, b: Behaviour
    ) -> web.StreamResponse:
        body = rec.body if isinstance(rec.body, dict) else {}
        # unique like OpenAI's: every test shares a gateway, whose store keys responses by id
        final = response_body(b, body, f"resp_fake{len(self.requests):04d}{uuid.uuid4().hex}")
        items = body.get("input")
        if isinstance(items, list) and items and items[-1].get("type") == "compaction_trigger":
            final["output"] = [_native_item()]  # the trigger is answered by one compaction
        if not body.get("stream"):
            return self._json(rec, b, final)
        frames = [(e["type"].endswith(".delta"), e) for e in _events(b, final)]
        return await self._stream(request, rec, b, frames)


def _native_item() -> dict[str, Any]:
    return {"type": "compaction", "id": "cmp_native", "encrypted_content": NATIVE_COMPACTION}
