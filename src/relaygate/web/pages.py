"""The landing page at ``/``: where things are, until the console lands."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

__all__ = ["router"]

router = APIRouter(include_in_schema=False)

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Relaygate</title>
<style>body{{font:16px/1.5 system-ui,sans-serif;max-width:44rem;margin:3rem auto;padding:0 1rem}}
code{{background:#f3f3f3;padding:.1rem .3rem;border-radius:3px}}</style></head>
<body><main><h1>Relaygate</h1>
<p>OpenAI-compatible API base URL: <code>{base}/v1</code></p>
<p>API reference: <a href="/docs">/docs</a> (Swagger UI) &middot; <a href="/redoc">/redoc</a>
(ReDoc) &middot; OpenAPI document: <a href="/openapi.json">/openapi.json</a></p>
<p>Try it with the built-in echo model:</p>
<pre><code>curl {base}/v1/chat/completions -H "Authorization: Bearer $KEY" \\
  -H "Content-Type: application/json" \\
  -d '{{"model":"relaygate-echo","messages":[{{"role":"user","content":"hello"}}]}}'</code></pre>
</main></body></html>"""


@router.get("/", response_class=HTMLResponse)
async def landing(request: Request) -> HTMLResponse:
    base = f"{request.url.scheme}://{request.url.netloc}"
    return HTMLResponse(_PAGE.format(base=base))


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}
