"""Every console page, user's and operator's, under the same checks: axe (no serious or
critical violation), under 150 KB on first load, nothing asked of another host, no script
error or CSP refusal, no sideways scroll at 360 px; at desktop width and 360 px, in English
and in Chinese (the ``rg_lang`` cookie the language switch sets).

On a demo gateway (tests/browser/demo.py: two weeks of calls, keys, a package, channels),
so the pages show data, not only their empty states. A new page is one line in
:data:`PAGES`; ``{bill}``, ``{key}``… are filled with the demo's ids.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, StorageState

from tests.browser.demo import CUSTOMER, OPERATOR, Demo, start_demo
from tests.browser.kit import assert_accessible, page_weight, sign_in_by_link
from tests.harness import Gateway

PHONE = {"width": 360, "height": 740}
DESKTOP = {"width": 1280, "height": 800}
PAGES = (
    "/console/",
    "/console/?chart=calls",
    "/console/keys",
    "/console/keys/new",
    "/console/keys/{key}",
    "/console/rules",
    "/console/rules/new",
    "/console/files",
    "/console/bills",
    "/console/bills/{bill}",
    "/console/packages",
    "/console/packages/{package}",
    "/console/invite",
    "/console/prices",
    "/console/playground",
    "/console/account",
    "/console/billing",
    "/console/invoices",
    "/console/admin/",
    "/console/admin/users",
    "/console/admin/users/{user}",
    "/console/admin/channels",
    "/console/admin/channels/new",
    "/console/admin/channels/{channel}",
    "/console/admin/models",
    "/console/admin/packages",
    "/console/admin/tiers",
    "/console/admin/orders",
    "/console/admin/invoices",
    "/console/admin/codes",
    "/console/admin/settings",
)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    found = start_demo(Path(tmp_path_factory.mktemp("sweep-demo")))
    yield found
    found.stop()


@pytest.fixture
def gateway(demo: Demo) -> Gateway:
    return demo.gateway


@pytest.fixture(scope="module")
def signed_in(browser: Browser, demo: Demo) -> dict[str, StorageState]:
    """The customer's and the operator's cookies, signed in once for the module."""
    states: dict[str, StorageState] = {}
    for email in (CUSTOMER, OPERATOR):
        context = browser.new_context(base_url=demo.gateway.url)
        sign_in_by_link(context.new_page(), demo.gateway, email)
        states[email] = context.storage_state()
        context.close()
    return states


def _context(
    new_context: Callable[..., BrowserContext],
    state: StorageState,
    url: str,
    lang: str,
    **options: Any,
) -> BrowserContext:
    context = new_context(storage_state=state, **options)
    context.add_cookies([{"name": "rg_lang", "value": lang, "url": url}])
    return context


@pytest.mark.parametrize("path", PAGES)
def test_every_console_page(
    path: str,
    demo: Demo,
    signed_in: dict[str, StorageState],
    new_context: Callable[..., BrowserContext],
) -> None:
    url = demo.fill(path)
    state = signed_in[OPERATOR if path.startswith("/console/admin/") else CUSTOMER]
    for lang in ("en", "zh"):
        for viewport in (DESKTOP, PHONE):
            context = _context(new_context, state, demo.gateway.url, lang, viewport=viewport)
            page = context.new_page()
            answer = page.goto(url)
            where = f"{url} ({lang}, {viewport['width']} px)"
            assert answer is not None and answer.status == 200, where
            assert page.url.endswith(url), f"{where} went to {page.url}"
            html_lang = page.evaluate("document.documentElement.lang")
            assert html_lang.startswith(lang), f"{where}: <html lang={html_lang}>"
            assert_accessible(page, context=where)
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= viewport["width"], f"{where} scrolls sideways: {width} px"
            if viewport is DESKTOP:
                page_weight(context.new_page(), url).assert_under()
