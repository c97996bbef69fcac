"""The pages that exist without signing in: the landing page and the API reference.

They also prove the browser kit: screenshots, the axe check, the page weight budget and
the rule that no page asks any host but the gateway for anything.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from tests.browser.kit import (
    EVERY_IMPACT,
    PageProblems,
    RequestLog,
    assert_accessible,
    page_weight,
    shot,
)
from tests.harness import Gateway

# A page breaking the rules the kit enforces, served under the console's own policy.
CONSOLE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
BAD_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>probe</title>
<script src="http://cdn.example.test/lib.js"></script></head>
<body><main><h1>Probe</h1><img src="data:image/gif;base64,R0lGODlhAQABAAAAACw=">
<form><input type="text" name="q"></form></main></body></html>"""


def test_landing_page_renders_and_passes_axe(page: Page, network: RequestLog) -> None:
    page.goto("/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Relaygate")
    expect(page.get_by_role("link", name="/docs")).to_be_visible()
    shot(page, "landing")
    assert_accessible(page, fail_on=EVERY_IMPACT)  # not even a moderate one (it has <main>)
    assert network.urls, "the request log saw nothing: is the route guard attached?"


def test_landing_page_first_load_is_under_150_kb(page: Page) -> None:
    weight = page_weight(page, "/")
    assert weight.by_url, "nothing was measured"
    weight.assert_under(150 * 1024)


# ReDoc's page is one very long column (a full-page shot is over 10 MB): its top is enough.
@pytest.mark.parametrize(
    ("path", "title", "full_page"),
    [("/docs", ".swagger-ui .info .title", True), ("/redoc", "h1", False)],
)
def test_api_reference_renders_from_the_gateway_alone(
    page: Page, network: RequestLog, gateway: Gateway, path: str, title: str, full_page: bool
) -> None:
    # ReDoc parses the whole OpenAPI document in the page: on a loaded 2-core CI machine
    # that has taken over 20 s, so the wait is generous (a budget, not a speed check)
    page.goto(path, timeout=90_000)
    expect(page.locator(title).first).to_contain_text("Relaygate", timeout=90_000)
    page.wait_for_load_state("networkidle", timeout=90_000)
    shot(page, path.strip("/"), full_page=full_page)
    assert any(url.startswith(gateway.url + "/assets/") for url in network.urls), network.urls
    network.assert_local_only()


def test_request_guard_aborts_and_reports_other_hosts(browser: Browser, gateway: Gateway) -> None:
    context = browser.new_context(base_url=gateway.url)
    log = RequestLog()
    log.attach(context)
    try:
        page = context.new_page()
        page.route("**/probe", lambda route: route.fulfill(body=BAD_PAGE, content_type="text/html"))
        page.goto("/probe")
    finally:
        context.close()
    assert log.foreign == ["http://cdn.example.test/lib.js"]
    with pytest.raises(AssertionError, match="cdn.example.test"):
        log.assert_local_only()


def test_axe_check_runs_under_the_console_policy_and_names_violations(
    new_context: Callable[..., BrowserContext],
) -> None:
    page = new_context().new_page()
    page.route(
        "**/probe",
        lambda route: route.fulfill(
            body=BAD_PAGE.replace('<script src="http://cdn.example.test/lib.js"></script>', ""),
            content_type="text/html",
            headers={"Content-Security-Policy": CONSOLE_CSP},
        ),
    )
    page.goto("/probe")
    with pytest.raises(AssertionError) as failure:
        assert_accessible(page)
    message = str(failure.value)
    assert "[critical] image-alt" in message, message
    assert "[critical] label" in message, message


def test_problem_watch_reports_csp_refusals_and_script_errors(
    browser: Browser, gateway: Gateway
) -> None:
    context = browser.new_context(base_url=gateway.url)
    problems = PageProblems()
    problems.attach(context)
    body = (
        '<!doctype html><html lang="en"><body><p style="color:red">styled inline</p>'
        '<script src="/probe.js"></script></body></html>'
    )
    try:
        page = context.new_page()
        page.route(
            "**/probe",
            lambda route: route.fulfill(
                body=body,
                content_type="text/html",
                headers={"Content-Security-Policy": CONSOLE_CSP},
            ),
        )
        page.route(
            "**/probe.js",
            lambda route: route.fulfill(
                body="window.setTimeout(() => { throw new Error('boom') })",
                content_type="text/javascript",
            ),
        )
        with page.expect_event("pageerror"):
            page.goto("/probe")
    finally:
        context.close()
    with pytest.raises(AssertionError) as failure:
        problems.assert_clean()
    assert "CSP refusal: Applying inline style violates" in str(failure.value)
    assert "uncaught error: boom" in str(failure.value)
    problems.allow("inline style")
    problems.allow("boom")
    problems.assert_clean()
