"""Front-end files Relaygate serves itself, under ``/assets/``, never from a CDN.

A gateway often runs where browsers cannot reach the internet (or should not tell a CDN
who reads its docs), so every script, style sheet and icon a served page uses comes from
this origin. The files come from npm packages pinned in ``web/assets/package.json`` and
``package-lock.json`` and installed by ``make install`` (``npm ci``) into
``web/assets/node_modules``: no third-party code is committed. ``ASSETS`` below is the one
list of what is served; a file not listed is a 404, so ``node_modules`` is never browsable.
``check_assets`` runs when the app is built, so a missing install fails at start with the
remedy, not later as a blank page.

The console's own files (written here, no third-party code) are in ``web/assets/console/``
and served under ``/static/console/``; ``CONSOLE_ASSETS`` lists them the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

from fastapi import APIRouter
from fastapi.responses import FileResponse, PlainTextResponse, Response

__all__ = [
    "ASSETS",
    "CONSOLE_ASSETS",
    "CONSOLE_PREFIX",
    "PREFIX",
    "Asset",
    "AssetsMissing",
    "asset_url",
    "check_assets",
    "router",
]

PREFIX = "/assets/"
PACKAGES = Path(__file__).parent / "assets" / "node_modules"
CONSOLE_PREFIX = "/static/console/"
CONSOLE_FILES = Path(__file__).parent / "assets" / "console"
_JS = "text/javascript; charset=utf-8"
_CSS = "text/css; charset=utf-8"
# The URLs carry no version: a day's caching is short enough that an upgrade shows up
# without a cache-busting scheme.
_CACHE = "public, max-age=86400"


@dataclass(frozen=True, slots=True)
class Asset:
    """A served file: where it is under ``node_modules`` and the type it is served as."""

    source: str
    content_type: str


ASSETS = MappingProxyType(
    {
        "swagger-ui/swagger-ui-bundle.js": Asset("swagger-ui-dist/swagger-ui-bundle.js", _JS),
        "swagger-ui/swagger-ui.css": Asset("swagger-ui-dist/swagger-ui.css", _CSS),
        "redoc/redoc.standalone.js": Asset("redoc/bundles/redoc.standalone.js", _JS),
        "favicon.png": Asset("swagger-ui-dist/favicon-32x32.png", "image/png"),
    }
)


CONSOLE_ASSETS = MappingProxyType(
    {
        "console.css": _CSS,
        "console.js": _JS,
        "files.js": _JS,  # the files page: drag and drop onto the upload form
        "passkeys.js": _JS,  # the login and account pages
        "playground.js": _JS,  # the playground page
    }
)


class AssetsMissing(RuntimeError):
    """The npm packages behind ``ASSETS`` are not installed."""


def asset_url(name: str, root_path: str = "") -> str:
    """The URL of a listed asset (a KeyError for an unlisted name catches typos early)."""
    if name not in ASSETS:
        raise KeyError(f"{name!r} is not in web/static.py's ASSETS")
    return f"{root_path}{PREFIX}{name}"


def check_assets(packages: Path = PACKAGES) -> None:
    """Raise ``AssetsMissing`` naming the missing files, and what to run."""
    missing = [a.source for a in ASSETS.values() if not (packages / a.source).is_file()]
    if missing:
        raise AssetsMissing(
            f"front-end assets are missing under {packages} ({', '.join(missing)}): "
            "run `make install` (it runs `npm ci` in src/relaygate/web/assets)"
        )


router = APIRouter(include_in_schema=False)


@router.get(PREFIX + "{name:path}")
async def asset(name: str) -> Response:
    listed = ASSETS.get(name)
    if listed is None:
        return PlainTextResponse("Not Found", status_code=404)
    return FileResponse(
        PACKAGES / listed.source, media_type=listed.content_type, headers={"cache-control": _CACHE}
    )


@router.get(CONSOLE_PREFIX + "{name}")
async def console_asset(name: str) -> Response:
    content_type = CONSOLE_ASSETS.get(name)
    if content_type is None:
        return PlainTextResponse("Not Found", status_code=404)
    return FileResponse(
        CONSOLE_FILES / name, media_type=content_type, headers={"cache-control": _CACHE}
    )


@router.get("/favicon.ico")
async def favicon() -> Response:
    """Browsers ask for it on every page; the docs' icon answers (a PNG: browsers accept)."""
    icon = ASSETS["favicon.png"]
    return FileResponse(PACKAGES / icon.source, media_type=icon.content_type)
