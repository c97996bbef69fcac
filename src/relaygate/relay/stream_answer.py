"""A streamed answer: the upstream's events forwarded (or translated) to the caller.

Split from ``relay/api.py`` so the route handlers stay short; this is the part of the
pipeline that runs after the first byte went out, where nothing can be retried: a
failure ends the stream with the dialect's own terminal error, and counts against the
channel's breaker like a failure before the first byte.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import sys
import time
from dataclasses import dataclass
from typing import Any

from relaygate.core.errors import RelaygateError, UpstreamFailure
from relaygate.relay.asgi import Send
from relaygate.relay.call import CallLifecycle, estimate_prompt_tokens
from relaygate.relay.canonical import Usage
from relaygate.relay.context import CallContext
from relaygate.relay.crossing import Assembling, StreamReader, stream_reader
from relaygate.relay.dialects.openai_chat.request import COMPLETIONS, RequestFacts
from relaygate.relay.dialects.record import Dialect
from relaygate.relay.service import Opened, RelayService
from relaygate.relay.streaming import KeepAlive, StreamWatch
from relaygate.relay.turns import Turn, close_turn
from relaygate.state.service import StateService

__all__ = ["Plan", "StreamAnswers", "stream_usage"]

log = logging.getLogger(__name__)

_UNLIMITED = sys.maxsize  # a stream without an output budget (the operator's own calls)
_SSE_HEADERS = [(b"cache-control", b"no-cache"), (b"x-accel-buffering", b"no")]


@dataclass(slots=True)
class Plan:
    """How this call is carried: the caller's dialect and the upstream call to make."""

    wire: Dialect
    endpoint: str  # the upstream call (Messages for the legacy Complete route)
    legacy: bool
    beta: tuple[tuple[str, str], ...]
    turn: Turn | None = None  # a Responses turn: its stored history and its Response
    stored_chat: dict[str, Any] | None = None  # a store:true chat request, kept with its answer
    choices: int = 1  # the ``n`` of an OpenAI call: each choice ends if the stream is stopped


class StreamAnswers:
    def __init__(self, relay: RelayService, keepalive: KeepAlive, state: StateService) -> None:
        self.relay = relay
        self.keepalive = keepalive
        self.state = state

    async def answer(
        self,
        call: CallLifecycle,
        opened: Opened,
        facts: RequestFacts,
        request_body: bytes,
        send: Send,
        plan: Plan,
        id_headers: list[tuple[bytes, bytes]],
    ) -> None:
        """Forward (or translate) the upstream's events as they come and meter them.

        The stream ends at the upstream's terminal event (``[DONE]``, ``message_stop``),
        not at its end of file: a client may hang up right after it, and the call is
        complete all the same. An upstream that reports an error mid-stream has failed:
        the call is recorded as such and not charged.
        """
        ctx, wire, reply = call.ctx, plan.wire, opened.reply
        reader = stream_reader(
            wire.name,
            opened.upstream,
            model=facts.model,
            request_id=ctx.request_id,
            include_usage=facts.include_usage,  # read only by a Chat encoder
            input_estimate=estimate_prompt_tokens(request_body),
            injected=opened.injected,
            legacy=plan.legacy,
            template=plan.turn.template if plan.turn else None,
            assemble=plan.stored_chat is not None,
            upstream_model=ctx.upstream_model,
            mask=ctx.mask,
            completions=ctx.endpoint == COMPLETIONS,
            choices=plan.choices,
        )
        headers = [(b"content-type", b"text/event-stream"), *_SSE_HEADERS, *id_headers]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        ctx.status = 200
        watch = self.keepalive.watch(send, asyncio.current_task())
        last = b""
        try:
            last, stopped = await self._relay(call, reply, reader, send, watch)
            if stopped:  # at its hold or a shutdown: ended as the output limit ends one
                ctx.usage = stream_usage(reader, request_body, whole=False)
                last = reader.stop_at_limit(ctx.usage)
                log.info("stream %s stopped (%s)", ctx.request_id, stopped)
            else:
                last += reader.flush()
            _meter(ctx, reader, request_body)
            failure = reader.error
            if failure:
                ctx.fail(502, f"the upstream reported an error mid-stream: {failure}")
                self.relay.broke(ctx)
            await self._keep(ctx, plan, reader)
            if not failure:
                await call.finish()  # durable before the last byte goes out
        except UpstreamFailure as err:
            ctx.fail(err.status, err.message)
            self.relay.broke(ctx)
            last = reader.flush() + _failure_frame(wire, reader, err, ctx)
            await self._keep(ctx, plan, reader)
        finally:
            self.keepalive.release(watch)
            reply.close()
            _meter(ctx, reader, request_body)
        ctx.responded = True
        await send({"type": "http.response.body", "body": last, "more_body": False})

    async def _relay(
        self, call: CallLifecycle, reply: Any, reader: StreamReader, send: Send, watch: StreamWatch
    ) -> tuple[bytes, str]:
        """Forward the upstream's events until its terminal one (returned, to go out with
        the end of the body), its end, the stream's output budget (relay/output_cap.py)
        or a shutdown's deadline (``watch.ending``: KeepAlive.end_streams cancelled this
        task): (the terminal bytes, what stopped it, "" for nothing). One comparison per
        chunk."""
        budget = call.ctx.budget
        limit = budget.tokens if budget is not None else _UNLIMITED
        try:
            async for chunk in reply.chunks():
                out = reader.feed(chunk)
                if reader.finished:  # the terminal event goes out with the end of the body
                    return out, ""
                if out:
                    watch.last = time.monotonic()
                    await send({"type": "http.response.body", "body": out, "more_body": True})
                    if reader.delivered >= limit:
                        if not await call.extend():
                            return b"", "hold"
                        limit = budget.tokens if budget is not None else _UNLIMITED
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if not watch.ending or task is None:
                raise
            task.uncancel()  # the shutdown's own cancel: end the stream, then bill it
            return b"", "shutdown"
        finally:
            watch.task = None  # past the loop a shutdown waits for the ending and the bill
        return b"", ""

    async def _keep(self, ctx: CallContext, plan: Plan, reader: StreamReader) -> None:
        """A Responses stream's final Response is stored before its last event goes out
        (a failed one too, as OpenAI keeps failed responses); so is a completed
        ``store: true`` chat stream."""
        response = reader.response
        if ctx.user_id is None:
            return
        if plan.turn is not None and isinstance(response, dict):
            await close_turn(self.state, ctx.user_id, plan.turn, response)
        elif plan.stored_chat is not None and isinstance(reader, Assembling) and not ctx.error:
            await self.state.save_chat_completion(
                ctx.user_id, plan.stored_chat, reader.completion()
            )


def _failure_frame(
    wire: Dialect, reader: StreamReader, err: RelaygateError, ctx: CallContext
) -> bytes:
    """The stream's last event when the upstream broke off: the dialect's own terminal
    failure where it has one (``response.failed``), else an error frame."""
    frame = reader.fail(err.message)
    return frame if frame is not None else wire.stream_error_frame(err, ctx.request_id)


def _meter(ctx: CallContext, reader: StreamReader, request_body: bytes) -> None:
    """The stream's usage, once: see :func:`stream_usage`. A stream is whole when its
    terminal event came, or the final usage chunk of an OpenAI stream (some servers
    send no ``[DONE]``); else it was cut (the client left, the upstream broke off)."""
    if ctx.usage is None:
        whole = reader.finished or reader.final_usage
        ctx.usage = stream_usage(reader, request_body, whole=whole)


def stream_usage(reader: StreamReader, request_body: bytes, *, whole: bool) -> Usage:
    """What a stream is billed for. A whole one: the upstream's own count (an estimate
    from the delivered text when it sent none). A cut one (the client left, the upstream
    broke off, the gateway stopped it at its hold): the larger of the upstream's count so
    far and the estimate of the text delivered, in every dialect (docs/billing.md)."""
    reported, delivered = reader.usage, reader.delivered
    if reported is None:
        prompt = estimate_prompt_tokens(request_body)
        return Usage(prompt_tokens=prompt, completion_tokens=delivered, estimated=True)
    if whole or reported.completion_tokens >= delivered:
        return reported
    return dataclasses.replace(reported, completion_tokens=delivered, estimated=True)
