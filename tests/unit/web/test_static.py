"""The served front-end files: one list, checked at start, no CDN anywhere in src/."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from relaygate.web.static import ASSETS, PACKAGES, AssetsMissing, asset_url, check_assets

SRC = Path(__file__).resolve().parents[3] / "src"
# Hosts that serve front-end code; a page of ours must never point at them.
CDNS = re.compile(
    r"https?://(?:[\w.-]*\.)?(?:jsdelivr\.net|unpkg\.com|cdnjs\.cloudflare\.com|"
    r"googleapis\.com|gstatic\.com|bootstrapcdn\.com|cdn\.[\w.-]+|fastapi\.tiangolo\.com|"
    r"esm\.sh|skypack\.dev|jspm\.io)"
)
# Upstream APIs the gateway itself calls (never loaded by a page): a tool channel's
# default base URL (docs/tools.md).
UPSTREAMS = frozenset({"https://www.googleapis.com"})
# Any absolute URL inside an HTML attribute that loads something.
LOADED = re.compile(r"""(?:src|href|spec-url)\s*=\s*["']?https?://""", re.IGNORECASE)


def test_installed_assets_are_all_there() -> None:
    check_assets()
    for asset in ASSETS.values():
        assert (PACKAGES / asset.source).stat().st_size > 100


def test_missing_assets_fail_at_start_with_the_remedy(tmp_path: Path) -> None:
    with pytest.raises(AssetsMissing, match=r"run `make install`") as caught:
        check_assets(tmp_path)
    assert "swagger-ui-dist/swagger-ui-bundle.js" in str(caught.value)


def test_asset_urls_are_local_and_listed() -> None:
    assert asset_url("favicon.png") == "/assets/favicon.png"
    assert asset_url("favicon.png", "/gw") == "/gw/assets/favicon.png"
    with pytest.raises(KeyError):
        asset_url("swagger-ui/missing.js")


def _served_sources() -> list[Path]:
    files = [p for p in SRC.rglob("*") if p.suffix in {".py", ".html", ".css", ".js", ".jinja"}]
    return [p for p in files if "node_modules" not in p.parts]


def test_no_cdn_urls_in_src() -> None:
    found = []
    for path in _served_sources():
        text = path.read_text(encoding="utf-8")
        found += [
            f"{path}: {m.group(0)}" for m in CDNS.finditer(text) if m.group(0) not in UPSTREAMS
        ]
        found += [f"{path}: {m.group(0)}" for m in LOADED.finditer(text)]
    assert found == []
