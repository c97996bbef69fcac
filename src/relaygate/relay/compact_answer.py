"""The two forms of compaction, answered on every channel (relay/compaction.py).

``POST /v1/responses/compact`` and a ``/v1/responses`` turn whose last input item is a
``compaction_trigger`` run through the relay's normal call (admission, rate limit,
hold, failover, settle and usage record: ``relay.call``, relay/call.py); only the answer is
made here. A channel that serves the Responses API natively is relayed the call as it
came (its own ``compaction`` item comes back). On any other channel the call has become
a summarisation call (``crossing.upstream_payload``); the summary is stored for the
user and answered as one ``compaction`` item holding a sealed reference to it. A
trigger turn is asked of the upstream whole and, when the client asked for a stream,
sent as the events a native stream has for its items.

Before any Responses call, :meth:`CompactAnswers.expand` replaces each of Relaygate's
compaction items in the turn's input and history by the summary it names; in a stored
chain, what such an item summarised is no longer sent.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import orjson

from relaygate.core.errors import InvalidRequest, UpstreamBadResponse
from relaygate.relay.asgi import Send, respond
from relaygate.relay.call import CallLifecycle, estimate_prompt_tokens
from relaygate.relay.canonical import Usage
from relaygate.relay.compaction import (
    compact_resource,
    compaction_item,
    is_sealed,
    output_text,
    seal,
    stream_events,
    summary_message,
    unseal,
)
from relaygate.relay.context import CallContext
from relaygate.relay.crossing import read_reply
from relaygate.relay.dialects import RESPONSES
from relaygate.relay.dialects.openai_chat.request import RequestFacts
from relaygate.relay.dialects.openai_responses.output import new_id
from relaygate.relay.dialects.openai_responses.output import read_usage as responses_usage
from relaygate.relay.dialects.openai_responses.request import COMPACT, TRIGGER, has_trigger
from relaygate.relay.service import RelayService
from relaygate.relay.turns import Turn, close_turn
from relaygate.state.service import StateService

__all__ = ["CompactAnswers", "compacts"]

_JSON, _SSE = b"application/json", b"text/event-stream"


def compacts(endpoint: str, payload: dict[str, Any]) -> bool:
    """Whether a Responses call is a compaction (either form)."""
    return endpoint == COMPACT or has_trigger(payload)


class CompactAnswers:
    """Answers compaction calls and expands Relaygate's compaction items in later turns."""

    def __init__(self, relay: RelayService, state: StateService) -> None:
        self.relay = relay
        self.state = state

    async def expand(self, user_id: int, payload: dict[str, Any], turn: Turn) -> None:
        """Replace Relaygate's compaction items in ``payload['input']`` and the turn's
        history by their summaries (400 for a changed or another user's item). The
        turn's stored input keeps the items themselves."""
        if turn.background and has_trigger(payload):
            raise InvalidRequest(
                "A 'compaction_trigger' turn cannot run in the background.", param="background"
            )
        items = payload.get("input")
        if isinstance(items, list) and any(is_sealed(item) for item in items):
            payload["input"] = await self._expanded(user_id, items)
        history = _after_last_compaction(turn.history)
        if any(is_sealed(item) for item in history):
            history = await self._expanded(user_id, history)
        turn.history = history

    async def _expanded(self, user_id: int, items: list[Any]) -> list[Any]:
        key = await self.state.compactions.secret()
        out = []
        for item in items:
            if not is_sealed(item):
                out.append(item)
                continue
            summary_id = unseal(key, item["encrypted_content"], user_id)
            summary = await self.state.compactions.summary(user_id, summary_id)
            if summary is None:  # deleted with its user's data, or never stored
                raise InvalidRequest(
                    "Invalid 'input': the compaction item refers to a summary that no "
                    "longer exists.",
                    param="input",
                    code="invalid_compaction",
                )
            out.append(summary_message(summary))
        return out

    async def answer(
        self,
        call: CallLifecycle,
        facts: RequestFacts,
        payload: dict[str, Any],
        body: bytes,
        send: Send,
        turn: Turn,
        headers: list[tuple[bytes, bytes]],
    ) -> None:
        """Make the compaction call and answer it (billed here when it completed; the
        lifecycle records it otherwise)."""
        ctx = call.ctx
        trigger = ctx.endpoint != COMPACT
        asked = dataclasses.replace(facts, stream=False)  # always asked of the upstream whole
        sent = {**payload, "stream": False} if trigger else payload
        opened = await self.relay.open(
            ctx, asked, sent, body, client=RESPONSES, endpoint=ctx.endpoint, history=turn.history
        )
        try:
            raw = await opened.reply.read()
            content_type = opened.reply.content_type.encode()
        finally:
            opened.reply.close()
        if ctx.error is None:
            result = await self._result(ctx, opened.upstream, raw, opened.parsed, turn, trigger)
            ctx.usage = ctx.usage or _estimated(body)
            ctx.status = 200
            if trigger and ctx.user_id is not None:
                await close_turn(self.state, ctx.user_id, turn, result)
            await call.finish()
            stream = trigger and facts.stream
            raw, content_type = (
                (stream_events(result), _SSE) if stream else (orjson.dumps(result), _JSON)
            )
        ctx.responded = True
        await respond(send, ctx.status, raw, content_type, [*headers, *opened.headers])

    async def _result(
        self,
        ctx: CallContext,
        upstream: str,
        raw: bytes,
        parsed: dict[str, Any] | None,
        turn: Turn,
        trigger: bool,
    ) -> dict[str, Any]:
        """The client's answer: the native upstream's own, or a compaction item for the
        summary the model wrote (which is stored here)."""
        if upstream == RESPONSES:
            result = parsed if parsed is not None else orjson.loads(raw)
            if not isinstance(result, dict):
                raise UpstreamBadResponse("The upstream returned a body that is not an object.")
            ctx.usage = responses_usage(result)
            return result
        _, usage, response = read_reply(
            RESPONSES, upstream, raw, model=ctx.model, legacy=False,
            template=turn.template, parsed=parsed,
        )  # fmt: skip
        assert response is not None  # a translated answer is always returned as an object
        ctx.usage = usage
        summary = output_text(response)
        if not summary.strip():
            raise UpstreamBadResponse("The model returned an empty summary; nothing to keep.")
        user_id = ctx.user_id
        assert user_id is not None  # an authenticated call
        item_id = new_id("cmp")
        await self.state.compactions.save(user_id, item_id, ctx.model, summary)
        key = await self.state.compactions.secret()
        item = compaction_item(item_id, seal(key, item_id, user_id))
        if trigger:
            return {**response, "output": [item]}
        return compact_resource(response, item)


def _after_last_compaction(history: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A stored chain as the model needs it: what a compaction summarised is dropped (the
    items before Relaygate's last compaction item), and so are the triggers, which asked
    for a compaction and are no content (OpenAI refuses one that is not last)."""
    kept = [
        item for item in history if not (isinstance(item, dict) and item.get("type") == TRIGGER)
    ]
    last = max((i for i, item in enumerate(kept) if is_sealed(item)), default=0)
    return kept[last:]


def _estimated(request_body: bytes) -> Usage:
    """For an upstream that reported no usage (as the relay path does)."""
    return Usage(prompt_tokens=estimate_prompt_tokens(request_body), estimated=True)
