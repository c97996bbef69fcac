"""Fixtures for the browser tests: the system Chromium driven by Playwright, a real gateway.

* ``browser``: one headless Chromium (/usr/bin/chromium, never a downloaded browser) per
  test module (see ``playwright`` for why not per session). Missing Chromium FAILS the
  tests: CI installs it, nothing skips silently.
* ``gateway``: one SQLite gateway over real HTTP for the session (the echo model on; the
  operator is ``OPERATOR_EMAIL``). The root conftest's ``make_user_key``, ``add_channel``
  and ``fake`` (a fake OpenAI upstream) work with it unchanged.
* ``context`` / ``page``: a fresh context (no cookies, no cache) per test, its base URL the
  gateway, so ``page.goto("/console/")`` works. Every request it makes is recorded in
  ``network``; one to another host is aborted and fails the test at teardown (no CDN).
  An uncaught script error or a CSP refusal fails it too (``problems``; ``allow`` one).
* ``new_context(**options)``: more contexts in one test (a second user, a phone viewport).
* ``sign_in(page, email)``: the magic-link sign-in, ending on /console/.

Helpers (``shot``, ``assert_accessible``, ``page_weight``) are in tests/browser/kit.py.
Every test here carries the ``browser`` marker. A failed test leaves a screenshot of its
page as test-artifacts/screenshots/FAILED-<test>.png.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import (
    Browser,
    BrowserContext,
    Page,
    Playwright,
    ViewportSize,
    sync_playwright,
)

from tests.browser.kit import (  # OPERATOR_EMAIL: tests import it from here too
    CHROMIUM,
    CHROMIUM_ARGS,
    OPERATOR_EMAIL,  # noqa: F401
    PageProblems,
    RequestLog,
    shot,
    sign_in_by_link,
    start_browser_gateway,
)
from tests.harness import Gateway

HERE = Path(__file__).resolve().parent
VIEWPORT: ViewportSize = {"width": 1280, "height": 800}
GROUPS = {"partner": "0.5"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.path.is_relative_to(HERE):
            item.add_marker(pytest.mark.browser)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    page = getattr(item, "funcargs", {}).get("page")
    if report.when == "call" and report.failed and isinstance(page, Page):
        try:
            shot(page, "FAILED-" + re.sub(r"[^A-Za-z0-9._-]+", "_", item.name))
        except Exception:  # noqa: BLE001 - a screenshot must not hide the real failure
            pass
    return report


# Module scope, not session: Playwright's sync API keeps its own asyncio loop running
# while it lives, and the async tests collected after this folder then fail with "Cannot
# run the event loop while another loop is running". Module fixtures end with the module.
@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as pw:
        yield pw


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    if not CHROMIUM.is_file():
        pytest.fail(
            f"the browser tests need Chromium at {CHROMIUM} (Debian: apt-get install chromium); "
            "they never download a browser and never skip",
            pytrace=False,
        )
    browser = playwright.chromium.launch(
        executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
    )
    yield browser
    browser.close()


@pytest.fixture(scope="session")
def browser_gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    # a configured pricing group, for the operator's "set group" form (test_admin_users.py)
    gw = start_browser_gateway(tmp_path_factory.mktemp("browser-gw"), group_multipliers=GROUPS)
    yield gw
    gw.stop()


@pytest.fixture
def gateway(browser_gateway: Gateway) -> Gateway:
    """Overrides the root conftest's (SQLite and PostgreSQL) gateway: one is enough here."""
    return browser_gateway


@pytest.fixture
def new_context(browser: Browser, gateway: Gateway) -> Iterator[Callable[..., BrowserContext]]:
    """Open extra contexts (Playwright ``new_context`` options), each guarded against
    requests to other hosts; closed after the test."""
    opened: list[tuple[BrowserContext, RequestLog, PageProblems]] = []

    def factory(**options: Any) -> BrowserContext:
        options.setdefault("base_url", gateway.url)
        options.setdefault("viewport", VIEWPORT)
        options.setdefault("locale", "en-US")
        context = browser.new_context(**options)
        log, problems = RequestLog(), PageProblems()
        log.attach(context)
        problems.attach(context)
        opened.append((context, log, problems))
        return context

    yield factory
    for context, _, _ in opened:
        context.close()
    for _, log, problems in opened:
        log.assert_local_only()
        problems.assert_clean()


@pytest.fixture
def network() -> RequestLog:
    """What the test's ``context`` asked the network for (see RequestLog)."""
    return RequestLog()


@pytest.fixture
def context(browser: Browser, gateway: Gateway, network: RequestLog) -> Iterator[BrowserContext]:
    context = browser.new_context(base_url=gateway.url, viewport=VIEWPORT, locale="en-US")
    network.attach(context)
    yield context
    context.close()
    network.assert_local_only()


@pytest.fixture
def page(context: BrowserContext) -> Page:
    return context.new_page()


@pytest.fixture
def sign_in(gateway: Gateway) -> Callable[..., None]:
    """``sign_in(page, email)``: the magic-link flow, ending on /console/."""

    def run(page: Page, email: str, **kwargs: Any) -> None:
        sign_in_by_link(page, gateway, email, **kwargs)

    return run
