"""The tool routes (raw ASGI, like the relay's): the route table, the voice list and the
image tasks.

The gateway sends a request here when its method and path are in :data:`ROUTES` (or it
is the voice list); every tool call then runs :class:`~relaygate.tools.handler.ToolRelay`.
A new tool is one more :class:`~relaygate.tools.record.ToolRoute` line here (its
OpenAPI description: tools/openapi.py).

The voice list is not a billed call: it is the key's to read when the key may use
``azure-tts``, it is served from the kv cache for ``tts_voices_cache_seconds`` (one
upstream call per period whoever asks), and it leaves no usage record. It is fetched
from the ``azure_speech`` channels with the same failover as a synthesis.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qsl

import orjson

from relaygate.accounts.service import AccountService
from relaygate.core.envelope import envelope
from relaygate.core.error_formats import render_error
from relaygate.core.errors import (
    ModelNotPermitted,
    NotFound,
    RelaygateError,
    UpstreamBadResponse,
)
from relaygate.core.ids import RequestIds
from relaygate.kv.protocols import Cache
from relaygate.relay.asgi import Receive, Scope, Send, read_headers, respond, respond_error
from relaygate.relay.context import CallContext
from relaygate.relay.dialects.openai_chat.request import RequestFacts
from relaygate.relay.service import RelayService
from relaygate.tools.cache import SearchCache
from relaygate.tools.draw import TASKS_PATH, DrawRunner
from relaygate.tools.flux import FLUX_DEV, FLUX_PRO, FLUX_PRO_11, FLUX_PRO_ULTRA, FLUX_SCHNELL
from relaygate.tools.handler import JSON, ToolRelay, upstream_refusal
from relaygate.tools.nd import ND
from relaygate.tools.params import Param, read_params
from relaygate.tools.record import ToolRoute
from relaygate.tools.search import GOOGLE, SERPER
from relaygate.tools.tts import AZURE_TTS, VOICES_ENDPOINT

__all__ = ["ROUTES", "TASKS_PATH", "VOICE_PARAMS", "VOICES_PATH", "ToolsApp"]

Handler = Callable[[Scope, Receive, Send], Awaitable[None]]

ROUTES = (
    ToolRoute("GET", "/api/v1/openapi/search/google/v1", GOOGLE),
    # the path a Custom Search client reaches by appending ``customsearch/v1`` to a prefix
    ToolRoute("GET", "/api/v1/openapi/search/google/customsearch/v1", GOOGLE),
    ToolRoute("POST", "/api/v1/openapi/search/serper/v1", SERPER),
    ToolRoute("POST", "/api/v1/openapi/tts/azure/v1", AZURE_TTS),
    ToolRoute("POST", "/api/v1/ai/draw/flux/schnell", FLUX_SCHNELL),
    ToolRoute("POST", "/api/v1/ai/draw/flux/dev", FLUX_DEV),
    ToolRoute("POST", "/api/v1/ai/draw/flux/pro", FLUX_PRO),
    ToolRoute("POST", "/api/v1/ai/draw/flux/pro-11", FLUX_PRO_11),
    ToolRoute("POST", "/api/v1/ai/draw/flux/pro-ultra-11", FLUX_PRO_ULTRA),
    ToolRoute("POST", "/api/v1/ai/draw/nd", ND),
)
VOICES_PATH = "/api/v1/openapi/tts/azure/voices"
VOICE_PARAMS = (
    Param(
        "locale",
        max_length=35,
        pattern=r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$",
        description="zh-CN for that locale, or zh for every Chinese one",
    ),
    Param("gender", enum=("Female", "Male", "Neutral", "female", "male", "neutral")),
)
_VOICES_KEY = "tools:voices:" + AZURE_TTS.model


def _matches(voice: Any, locale: str | None, gender: str | None) -> bool:
    if not isinstance(voice, dict):
        return False
    if gender is not None and str(voice.get("Gender", "")).lower() != gender.lower():
        return False
    if locale is None:
        return True
    found, wanted = str(voice.get("Locale", "")).lower(), locale.lower()
    return found == wanted or found.startswith(wanted + "-")


class ToolsApp:
    def __init__(
        self,
        relay: RelayService,
        accounts: AccountService,
        cache: Cache,
        search_cache: SearchCache,
        *,
        voices_seconds: float,
        max_body_bytes: int,
        max_header_bytes: int,
        draw: DrawRunner | None = None,
    ) -> None:
        self.relay = relay
        self.accounts = accounts
        self.cache = cache
        self.voices_seconds = voices_seconds
        self.max_header_bytes = max_header_bytes
        self.draw = draw
        self.ids = RequestIds()
        self.tools = ToolRelay(
            relay, accounts, self.ids, search_cache,
            max_body_bytes=max_body_bytes, max_header_bytes=max_header_bytes, draw=draw,
        )  # fmt: skip
        self._routes: dict[tuple[str, str], Handler] = {
            (route.method, route.path): functools.partial(self.tools.call, tool=route.tool)
            for route in ROUTES
        }
        self._routes[("GET", VOICES_PATH)] = self.voices

    def route(self, scope: Scope) -> Handler | None:
        """The handler of a tool route, or None for any other request."""
        path: str = scope["path"]
        if scope["method"] == "GET" and path.startswith(TASKS_PATH):
            return self.task
        return self._routes.get((scope["method"], path))

    async def close(self) -> None:
        """Shutdown: the image tasks still running are stopped (tools/draw.py)."""
        if self.draw is not None:
            await self.draw.close()

    async def task(self, scope: Scope, receive: Receive, send: Send) -> None:
        """``GET`` an asynchronous image task: its status, and its images once made. Only
        its owner (any of their keys) may read it."""
        ids = [(b"x-request-id", self.ids.next().encode())]
        try:
            headers = read_headers(scope, self.max_header_bytes)
            principal = await self.accounts.authenticate(headers.api_key, time.time())
            task_id = scope["path"][len(TASKS_PATH) :]
            if self.draw is None:
                raise NotFound("This gateway runs no image tasks.", param="task_id")
            data = await self.draw.read(principal.user_id, task_id)
        except RelaygateError as err:
            await respond_error(send, render_error("platform", err, ids[0][1].decode()), ids)
            return
        await respond(send, 200, orjson.dumps(envelope(data, "Success")), JSON, ids)

    async def voices(self, scope: Scope, receive: Receive, send: Send) -> None:
        """``GET`` the Azure voice list, filtered by ``locale`` and ``gender``."""
        client = scope.get("client")
        ctx = CallContext(self.ids.next(), VOICES_ENDPOINT, client[0] if client else "")
        ids = [(b"x-request-id", ctx.request_id.encode())]
        try:
            headers = read_headers(scope, self.max_header_bytes)
            principal = await self.accounts.authenticate(headers.api_key, time.time())
            if not principal.may_use(AZURE_TTS.model):
                raise ModelNotPermitted(
                    f"This API key is not permitted to use the model '{AZURE_TTS.model}'.",
                    code="model_not_permitted",
                )
            query = scope.get("query_string", b"").decode("utf-8", "replace")
            wanted = read_params(VOICE_PARAMS, dict(parse_qsl(query, keep_blank_values=True)))
            listed = await self._voice_list(ctx)
        except RelaygateError as err:
            await respond_error(send, render_error("platform", err, ctx.request_id), ids)
            return
        locale, gender = wanted.get("locale"), wanted.get("gender")
        chosen = [voice for voice in listed if _matches(voice, locale, gender)]
        await respond(send, 200, orjson.dumps(chosen), JSON, ids)

    async def _voice_list(self, ctx: CallContext) -> list[Any]:
        kept = await self.cache.get(_VOICES_KEY)
        if kept is not None:
            listed: list[Any] = orjson.loads(kept)
            return listed
        model = AZURE_TTS.model
        if not self.relay.router.routes(model):
            raise NotFound(f"No channel serves the tool '{model}' yet.", param="model")
        facts = RequestFacts(model=model, stream=False, include_usage=True)
        types = AZURE_TTS.channel_types
        opened = await self.relay.open(
            ctx, facts, {}, b"", endpoint=VOICES_ENDPOINT, serves=lambda c: c.type in types
        )
        try:
            data = await opened.reply.read()
        finally:
            opened.reply.close()
        if ctx.error is not None:
            raise upstream_refusal(ctx.status, ctx.error)
        try:
            parsed = orjson.loads(data)
        except orjson.JSONDecodeError:
            parsed = None
        if not isinstance(parsed, list):
            raise UpstreamBadResponse("The upstream's voice list is not a JSON array.")
        await self.cache.set(_VOICES_KEY, data, ttl_s=self.voices_seconds)
        return parsed
