"""The API reference pages, ``/docs`` (Swagger UI) and ``/redoc``, on local assets only.

FastAPI's own pages load Swagger UI and ReDoc from a CDN (and a favicon and fonts from
other hosts), so they are blank on a machine without internet. These are the same pages
pointed at ``/assets/`` (web/static.py). Each page also carries a Content-Security-Policy
that lets the browser load nothing from another origin: ReDoc's sidebar, for one, asks a
CDN for a logo, and the policy keeps that request from leaving the browser. Inline
scripts are allowed by their hash, not wholesale.
"""

from __future__ import annotations

import base64
import hashlib
import re

from fastapi import APIRouter, Request
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from fastapi.responses import HTMLResponse

from relaygate.web.static import asset_url

__all__ = ["OPENAPI_URL", "router"]

OPENAPI_URL = "/openapi.json"
_OAUTH2_REDIRECT = "/docs/oauth2-redirect"
_INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.DOTALL)
# Styles may be inline: both UIs set them at run time (styled-components, React).
_POLICY = (
    "default-src 'self'; script-src 'self'{hashes}; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; "
    "worker-src 'self' blob:; base-uri 'self'; form-action 'self'; frame-ancestors 'self'"
)

router = APIRouter(include_in_schema=False)


def _same_origin_only(page: HTMLResponse) -> HTMLResponse:
    """Add the policy, allowing exactly the page's own inline scripts."""
    html = bytes(page.body).decode()
    hashes = "".join(
        f" 'sha256-{base64.b64encode(hashlib.sha256(s.encode()).digest()).decode()}'"
        for s in _INLINE_SCRIPT.findall(html)
    )
    page.headers["content-security-policy"] = _POLICY.format(hashes=hashes)
    return page


def _root(request: Request) -> str:
    return str(request.scope.get("root_path", "")).rstrip("/")


@router.get("/docs")
async def swagger_ui(request: Request) -> HTMLResponse:
    root = _root(request)
    page = get_swagger_ui_html(
        openapi_url=root + OPENAPI_URL,
        title="Relaygate - API reference",
        swagger_js_url=asset_url("swagger-ui/swagger-ui-bundle.js", root),
        swagger_css_url=asset_url("swagger-ui/swagger-ui.css", root),
        swagger_favicon_url=asset_url("favicon.png", root),
        oauth2_redirect_url=root + _OAUTH2_REDIRECT,
        # Swagger UI otherwise shows a badge image fetched from validator.swagger.io.
        swagger_ui_parameters={"validatorUrl": None},
    )
    return _same_origin_only(page)


@router.get(_OAUTH2_REDIRECT)
async def swagger_ui_redirect() -> HTMLResponse:
    return _same_origin_only(get_swagger_ui_oauth2_redirect_html())


@router.get("/redoc")
async def redoc(request: Request) -> HTMLResponse:
    root = _root(request)
    page = get_redoc_html(
        openapi_url=root + OPENAPI_URL,
        title="Relaygate - API reference",
        redoc_js_url=asset_url("redoc/redoc.standalone.js", root),
        redoc_favicon_url=asset_url("favicon.png", root),
        with_google_fonts=False,
    )
    return _same_origin_only(page)
