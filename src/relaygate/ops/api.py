"""``GET /metrics``: the Prometheus scrape endpoint, on the gateway's own port.

Who may scrape (docs/observability.md): a caller on one of the ``metrics_allow`` networks
(loopback by default), or anyone sending ``Authorization: Bearer <metrics_token>``. A
request that came through a proxy (``X-Forwarded-For`` or ``Forwarded``) while the
gateway does not trust proxy headers is judged by its token only: its socket peer is the
proxy, so a reverse proxy on the same host would otherwise open the metrics to the
world. Metrics name models, channels and volumes: not secrets, but not for the public.
"""

from __future__ import annotations

import hmac
import ipaddress
from typing import Any

from fastapi import APIRouter, Request, Response

from relaygate.core.envelope import error_responses
from relaygate.core.errors import AuthenticationFailed, NotFound
from relaygate.ops.metrics import CONTENT_TYPE
from relaygate.services import ServicesDep
from relaygate.settings import Settings

__all__ = ["router"]

router = APIRouter(tags=["operations"])

_EXAMPLE = (
    "# HELP relaygate_requests_total Requests by route template, method, status and model.\n"
    "# TYPE relaygate_requests_total counter\n"
    'relaygate_requests_total{method="POST",model="gpt-4o-mini",route="/v1/chat/completions",'
    'status="200"} 42.0\n'
)
_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The gateway's metrics in the Prometheus text format "
        "(docs/observability.md lists them)",
        "content": {"text/plain": {"schema": {"type": "string"}, "example": _EXAMPLE}},
    },
    **error_responses(401, 404),
}
_PROXIED = (b"x-forwarded-for", b"forwarded")


def _token_ok(request: Request, settings: Settings) -> bool:
    token = settings.metrics_token
    sent = request.headers.get("authorization", "")
    if token is None or not sent:
        return False
    wanted = "Bearer " + token.get_secret_value()
    return hmac.compare_digest(sent.encode(), wanted.encode())


def _network_ok(request: Request, settings: Settings) -> bool:
    if not settings.trust_proxy_headers and any(
        name in _PROXIED for name, _ in request.scope.get("headers", ())
    ):
        return False  # the peer is a proxy: the real client is unknown
    client = request.client
    if client is None:
        return False
    try:
        address = ipaddress.ip_address(client.host)
    except ValueError:
        return False
    return any(address in ipaddress.ip_network(net, strict=False) for net in settings.metrics_allow)


@router.get(
    "/metrics",
    summary="Prometheus metrics (loopback, the allowed networks, or the metrics token)",
    response_class=Response,
    responses=_RESPONSES,
)
async def metrics(request: Request, svc: ServicesDep) -> Response:
    """Requests, latency, tokens, money, breakers, holds and the bill writer's batches.
    Off (404) when ``metrics_enabled`` is false; 401 for a caller outside
    ``metrics_allow`` without the ``metrics_token``."""
    settings = svc.settings
    if svc.metrics is None:
        raise NotFound("Metrics are turned off (metrics_enabled = false).")
    if not (_token_ok(request, settings) or _network_ok(request, settings)):
        raise AuthenticationFailed(
            "Metrics need 'Authorization: Bearer <metrics_token>' from this address."
        )
    return Response(svc.metrics.exposition(), media_type=CONTENT_TYPE)
