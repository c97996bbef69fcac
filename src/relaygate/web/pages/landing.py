"""The landing page at ``/``: the API's base URL, the docs, and the way into the console."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from relaygate.web.render import render

__all__ = ["router"]

router = APIRouter(include_in_schema=False)


@router.get("/", response_class=HTMLResponse)
async def landing(request: Request) -> HTMLResponse:
    base = f"{request.url.scheme}://{request.url.netloc}"
    return render(request, "landing.html", {"base": base})


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}
