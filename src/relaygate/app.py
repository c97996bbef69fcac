"""The composition root: ``create_app(settings)`` builds every service, and nothing else does.

The returned ASGI app sends the relay routes straight to their raw handlers and everything
else (operator API, docs, pages) to the FastAPI control plane, whose lifespan builds the one
``Services`` (build.py: a builder per capability on an exit stack, so the teardown is the
construction in reverse) and hands it to the routes (services.py: typed dependencies).
"""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, MutableMapping
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

from fastapi import FastAPI

from relaygate import __version__
from relaygate.accounts.api import router as accounts_router
from relaygate.accounts.passkey_api import router as passkeys_router
from relaygate.accounts.signup_api import router as signup_router
from relaygate.accounts.user_api import router as user_keys_router
from relaygate.billing.api import router as usage_router
from relaygate.billing.bills_api import router as bills_router
from relaygate.billing.package_api import router as packages_router
from relaygate.billing.redemption_api import router as redemption_router
from relaygate.billing.referral_api import router as referral_router
from relaygate.billing.tier_api import router as tiers_router
from relaygate.build import build
from relaygate.channels.api import router as channels_router
from relaygate.core.drain import Drain
from relaygate.core.ids import new_request_id
from relaygate.oauth.api import router as oauth_router
from relaygate.ops.api import router as metrics_router
from relaygate.ops.logs import REQUEST_ID
from relaygate.ops.metrics import Metrics
from relaygate.payments.api import router as payments_router
from relaygate.payments.invoice_api import router as invoices_router
from relaygate.relay.api import RelayApp
from relaygate.relay.asgi import Receive, Scope, Send
from relaygate.relay.transport import HTTPClient
from relaygate.rules.api import router as rules_router
from relaygate.services import SERVICES, Services
from relaygate.settings import Settings
from relaygate.state.api import router as state_router
from relaygate.storage.api import router as files_router
from relaygate.tools.cache import SearchCache
from relaygate.tools.draw import DrawRunner, DrawTimes, TaskBook
from relaygate.tools.images import ImageStore
from relaygate.tools.routes import ToolsApp
from relaygate.web.cors import Cors, request_origin
from relaygate.web.docs import OPENAPI_URL
from relaygate.web.docs import router as docs_router
from relaygate.web.headers import ConsoleHeaders
from relaygate.web.openapi import build_openapi
from relaygate.web.pages import ROUTERS as page_routers
from relaygate.web.platform import install_error_handlers
from relaygate.web.probes import router as probes_router
from relaygate.web.proxies import trusted_proxies
from relaygate.web.static import check_assets
from relaygate.web.static import router as assets_router

__all__ = ["Gateway", "create_app"]

log = logging.getLogger("relaygate")

RELAY = "relay"  # the key of the relay routes in the lifespan state (services.py: SERVICES)
TOOLS = "tools"  # the key of the tool routes (docs/tools.md)
_NO_STATE: Mapping[str, Any] = {}  # a server without lifespan state: no relay routes


class Gateway:
    """The ASGI entry point: relay routes first, the control plane for the rest.

    The control plane's lifespan builds the services and yields them, with the relay's
    routes, as the ASGI lifespan state, which the server copies into every request's scope:
    a request finds the relay routes there once they exist, and nothing is patched in later.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.drain = Drain()  # SIGTERM's flag and deadline (cli.py sets it; core/drain.py)
        self.control = _control_plane(settings, self.drain)
        self.outer = ConsoleHeaders(self.control)  # the console's security headers
        self.cors = Cors(settings.cors_origins, settings.cors_platform_origins)
        self.proxies = trusted_proxies(settings)  # the client behind a trusted proxy

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.proxies is not None and scope["type"] != "lifespan":
            self.proxies.apply(scope)  # before anything reads the client's address
        if scope["type"] == "http":
            origin = request_origin(scope)
            if origin is not None:  # a browser page's call: web/cors.py
                if scope["method"] == "OPTIONS" and await self.cors.preflight(scope, origin, send):
                    return
                send = self.cors.wrap(scope, origin, send)
            state = scope.get("state", _NO_STATE)
            relay: RelayApp | None = state.get(RELAY)
            if relay is not None:
                handler = relay.route(scope)
                tools: ToolsApp | None = state.get(TOOLS) if handler is None else None
                if tools is not None:
                    handler = tools.route(scope)
                if handler is not None:
                    await handler(scope, receive, send)
                    return
                send = _with_request_id(scope, send)
                metrics: Metrics | None = state[SERVICES].metrics
                if metrics is not None:
                    await _measured(self.outer, metrics, scope, receive, send)
                    return
        await self.outer(scope, receive, send)


_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


async def _measured(
    app: Callable[[Scope, Receive, Send], Awaitable[None]],
    metrics: Metrics,
    scope: Scope,
    receive: Receive,
    send: Send,
) -> None:
    """A control-plane request, counted by its route template once it is answered (the
    relay's calls are counted by their lifecycle: relay/observe.py). A path no route
    matches and a method no route knows count as ``other``: a client cannot add series."""
    started = time.perf_counter()
    status = 500  # an exception that escapes every handler

    async def send_status(message: MutableMapping[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
        await send(message)

    try:
        await app(scope, receive, send_status)
    finally:
        route = getattr(scope.get("route"), "path", None) or "other"
        method = scope["method"] if scope["method"] in _METHODS else "other"
        series = metrics.call_series(route, method, status, "", False)
        series.requests.inc()
        series.duration.observe(time.perf_counter() - started)


def _with_request_id(scope: Scope, send: Send) -> Send:
    """Give control-plane responses an ``x-request-id`` too, as relay responses have (the
    console's error page shows it: ``rg.request_id`` in the scope)."""
    scope["rg.request_id"] = request_id_text = new_request_id()
    REQUEST_ID.set(request_id_text)  # on every log line of the request (ops/logs.py)
    request_id = request_id_text.encode()

    async def send_with_id(message: MutableMapping[str, Any]) -> None:
        if message["type"] == "http.response.start":
            message["headers"] = [*message.get("headers", []), (b"x-request-id", request_id)]
        await send(message)

    return send_with_id


def _announce(settings: Settings, admin_key: str | None, operator_link: str) -> None:
    base = settings.base_url
    lines = [
        f"Relaygate {__version__} is listening on {base}",
        f"  Console: {base}/console/",
        f"  Operator sign-in link ({settings.operator_email}), one use: {operator_link}",
        f"  OpenAI- and Anthropic-compatible API: {base}/v1",
        f"  API docs: {base}/docs  {base}/redoc",
        f"  OpenAPI document: {base}/openapi.json",
    ]
    if admin_key:
        lines += ["", "  Operator (admin) key, shown once; keep it safe:", f"    {admin_key}", ""]
    print("\n".join(lines), flush=True)


@asynccontextmanager
async def _lifespan(settings: Settings, drain: Drain) -> AsyncIterator[dict[str, Any]]:
    """Build the services (build.py), serve with them and the relay routes (the lifespan
    state), and tear them down in the reverse order."""
    async with AsyncExitStack() as stack:
        drain.attach(asyncio.get_running_loop())
        stack.callback(drain.cancel)  # torn down last: the deadline has nothing left to end
        built = await build(settings, stack, drain)
        relay = _relay_routes(settings, built.services)
        tools = _tool_routes(settings, built.services, stack)
        # Everything built so far lives as long as the process: keep the collector from
        # scanning it again and again (full collections of a big heap stall every call).
        gc.collect()
        gc.freeze()
        _announce(settings, built.admin_key, built.operator_link)
        yield {SERVICES: built.services, RELAY: relay, TOOLS: tools}


def _relay_routes(settings: Settings, services: Services) -> RelayApp:
    """The raw ASGI handlers of the ``/v1`` routes (the hot path skips FastAPI)."""
    return RelayApp(
        services.relay,
        services.accounts,
        services.keepalive,
        services.state,
        services.background,
        services.webhooks,
        max_body_bytes=settings.max_body_bytes,
        max_header_bytes=settings.max_header_bytes,
    )


def _tool_routes(settings: Settings, services: Services, stack: AsyncExitStack) -> ToolsApp:
    """The raw ASGI handlers of the search, speech and image tools (docs/tools.md); their
    image tasks still running are stopped first at shutdown."""
    search_cache = SearchCache(
        services.kv.cache, settings.search_cache_seconds, settings.search_cache_hit_billing
    )
    downloads = HTTPClient(settings.upstream_connect_timeout, settings.upstream_read_timeout)
    stack.push_async_callback(downloads.close)
    images = ImageStore(
        services.files,
        downloads,
        settings.base_url,
        settings.tools_image_max_bytes,
        settings.tools_image_download_seconds,
    )
    times = DrawTimes(
        settings.tools_task_timeout_seconds,
        settings.tools_task_async_timeout_seconds,
        settings.tools_task_keep_seconds,
    )
    book = TaskBook(services.kv.cache, settings.tools_task_keep_seconds)
    tools = ToolsApp(
        services.relay,
        services.accounts,
        services.kv.cache,
        search_cache,
        voices_seconds=settings.tts_voices_cache_seconds,
        max_body_bytes=settings.max_body_bytes,
        max_header_bytes=settings.max_header_bytes,
        draw=DrawRunner(services.relay, images, services.webhooks, book, times),
    )
    stack.push_async_callback(tools.close)
    return tools


def _control_plane(settings: Settings, drain: Drain) -> FastAPI:
    check_assets()  # the docs pages' scripts: missing, the start fails and says what to run
    app = FastAPI(
        title="Relaygate",
        version=__version__,
        description=(
            "OpenAI-compatible relay and the operator's control API. The platform routes "
            "that take a user's management key (`/api/v1/user/...`) also take the user's "
            "signed-in console session: the `rg_session` cookie, with the session's "
            "`X-CSRF-Token` header on every state-changing request."
        ),
        lifespan=lambda _: _lifespan(settings, drain),
        openapi_url=OPENAPI_URL,
        docs_url=None,  # web/docs.py serves /docs and /redoc on local assets
        redoc_url=None,
    )
    install_error_handlers(app)
    routers = (
        *page_routers,
        docs_router,
        assets_router,
        accounts_router,
        user_keys_router,
        channels_router,
        usage_router,
        packages_router,
        tiers_router,
        redemption_router,
        bills_router,
        signup_router,
        passkeys_router,
        referral_router,
        state_router,
        oauth_router,
        payments_router,
        invoices_router,
        rules_router,
        files_router,
        metrics_router,
        probes_router,
    )
    for router in routers:
        app.include_router(router)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = build_openapi(app)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app


def create_app(settings: Settings) -> Gateway:
    return Gateway(settings)
