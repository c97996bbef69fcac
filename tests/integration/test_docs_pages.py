"""``/docs`` and ``/redoc`` work without internet: everything they load is same-origin.

Before: FastAPI's default pages loaded Swagger UI, ReDoc, fonts and a favicon from CDNs,
so on a machine without internet both pages were blank.
"""

from __future__ import annotations

import base64
import hashlib
import re
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

import httpx
import pytest

from tests.harness import Gateway

TYPES = {".js": "text/javascript", ".css": "text/css", ".png": "image/png"}


class _Refs(HTMLParser):
    """Every URL a page makes the browser load, and its inline scripts."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.inline: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        for name in ("src", "href", "spec-url"):
            if found.get(name) and tag in {"script", "link", "img", "redoc", "iframe"}:
                self.urls.append(str(found[name]))
        self._in_script = tag == "script" and not found.get("src")

    def handle_data(self, data: str) -> None:
        if self._in_script:
            self.inline.append(data)

    def handle_endtag(self, tag: str) -> None:
        self._in_script = False


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_docs_page_loads_only_same_origin_assets(sqlite_gateway: Gateway, page: str) -> None:
    with httpx.Client(base_url=sqlite_gateway.url, timeout=30) as client:
        response = client.get(page)
        assert response.status_code == 200
        refs = _Refs()
        refs.feed(response.text)
        assert any(u.endswith(".js") for u in refs.urls), refs.urls
        origin = urlsplit(sqlite_gateway.url)
        for url in refs.urls:
            absolute = urlsplit(urljoin(sqlite_gateway.url + page, url))
            assert (absolute.scheme, absolute.netloc) == (origin.scheme, origin.netloc), url
            asset = client.get(absolute.path)
            assert asset.status_code == 200, url
            if url.endswith(".json"):
                assert asset.headers["content-type"] == "application/json"
                continue
            expected = TYPES[re.sub(r".*(\.[a-z]+)$", r"\1", absolute.path)]
            assert asset.headers["content-type"].startswith(expected), url
            assert len(asset.content) > 100
        # Every initialisation URL the inline script names is local too.
        for script in refs.inline:
            assert not re.search(r"https?://", script), script
            assert "validatorUrl" not in script or '"validatorUrl": null' in script


@pytest.mark.parametrize("page", ["/docs", "/redoc", "/docs/oauth2-redirect"])
def test_docs_pages_forbid_other_origins(sqlite_gateway: Gateway, page: str) -> None:
    """The policy makes the browser refuse what a bundled library would fetch elsewhere
    (ReDoc's sidebar asks cdn.redoc.ly for a logo), and allows the page's own scripts."""
    response = httpx.get(sqlite_gateway.url + page, timeout=30)
    policy = response.headers["content-security-policy"]
    directives = dict(d.strip().split(" ", 1) for d in policy.split(";"))
    for name in ("default-src", "img-src", "connect-src", "font-src", "style-src"):
        assert "http" not in directives[name] and "*" not in directives[name], policy
    assert directives["script-src"].startswith("'self'")
    assert "unsafe-inline" not in directives["script-src"]
    refs = _Refs()
    refs.feed(response.text)
    for script in refs.inline:
        digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
        assert f"'sha256-{digest}'" in directives["script-src"]


def test_unlisted_assets_are_not_served(sqlite_gateway: Gateway) -> None:
    with httpx.Client(base_url=sqlite_gateway.url, timeout=30) as client:
        assert client.get("/assets/swagger-ui-dist/package.json").status_code == 404
        assert client.get("/assets/../../pyproject.toml").status_code == 404
        assert client.get("/assets/redoc/redoc.standalone.js").status_code == 200
        icon = client.get("/favicon.ico")
        assert icon.status_code == 200 and icon.headers["content-type"] == "image/png"
