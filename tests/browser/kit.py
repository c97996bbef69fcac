"""Helpers the browser tests share: screenshots, the axe check, page weight, off-host requests.

Plain functions over a Playwright ``Page`` so a page test reads as what a person does and
what must hold; the fixtures that provide the browser and the gateway are in conftest.py.
"""

from __future__ import annotations

import re
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from playwright.sync_api import BrowserContext, ConsoleMessage, Page, Route, WebError

from tests.harness import ROOT, Gateway, start_gateway

__all__ = [
    "AXE_JS",
    "BLOCKING_IMPACTS",
    "EVERY_IMPACT",
    "OPERATOR_EMAIL",
    "CHROMIUM",
    "CHROMIUM_ARGS",
    "SCREENSHOTS",
    "PageProblems",
    "PageWeight",
    "RequestLog",
    "assert_accessible",
    "new_email",
    "page_weight",
    "shot",
    "sign_in_by_link",
    "start_browser_gateway",
]

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
AXE_JS = Path(__file__).resolve().parent / "node_modules" / "axe-core" / "axe.min.js"
# The hosts a page may talk to: the gateway under test, nothing else (no CDN, no fonts).
# ``localhost`` is the same gateway: passkeys need it (browsers refuse an IP address as
# the relying party), so the passkey tests open the console there.
LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost"})
# What fails the accessibility check: axe's two worst impact levels.
BLOCKING_IMPACTS = frozenset({"serious", "critical"})
EVERY_IMPACT = frozenset({"minor", "moderate", "serious", "critical"})
PAGE_BUDGET = 150 * 1024


# ---------------------------------------------------------------- screenshots
def shot(page: Page, name: str, *, full_page: bool = True) -> Path:
    """Save a PNG (the whole page by default) under test-artifacts/screenshots/: the
    README's pictures and a reviewer's way to see every page without running anything."""
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", name):
        raise ValueError(f"screenshot name {name!r}: letters, digits, '.', '_', '-' only")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    return path


# ---------------------------------------------------------------- no request leaves the host
@dataclass
class RequestLog:
    """Every URL a context asked the network for. Requests to another host are aborted
    (they never leave the machine) and kept in ``foreign`` for the assertion."""

    urls: list[str] = field(default_factory=list)
    foreign: list[str] = field(default_factory=list)

    def attach(self, context: BrowserContext) -> None:
        context.route("**/*", self._handle)

    def _handle(self, route: Route) -> None:
        url = route.request.url
        self.urls.append(url)
        if urlsplit(url).hostname in LOCAL_HOSTS:
            route.fallback()
        else:
            self.foreign.append(url)
            route.abort("blockedbyclient")

    def assert_local_only(self) -> None:
        """The no-CDN proof: a page that needs anything from another host fails here."""
        assert not self.foreign, (
            "the page asked hosts other than the gateway for:\n  " + "\n  ".join(self.foreign)
        )


# ---------------------------------------------------------------- script errors, CSP refusals
@dataclass
class PageProblems:
    """Uncaught script errors and Content-Security-Policy refusals in a context's pages.

    Both mean a page is broken for its user even when it looks right in a test: an
    exception stops the enhancement that was to run, and a refused inline style or script
    (the console's policy forbids them) silently changes the page. Other console errors
    (a 404 the test asked for, say) are kept in ``console`` for the message only.
    """

    failures: list[str] = field(default_factory=list)
    console: list[str] = field(default_factory=list)
    allowed: list[re.Pattern[str]] = field(default_factory=list)

    def attach(self, context: BrowserContext) -> None:
        context.on("weberror", self._on_error)
        context.on("console", self._on_console)

    def allow(self, pattern: str) -> None:
        """Let failures matching ``pattern`` (a regex) pass, for a test that expects them."""
        self.allowed.append(re.compile(pattern))

    def _on_error(self, error: WebError) -> None:
        self.failures.append(f"uncaught error: {error.error}")

    def _on_console(self, message: ConsoleMessage) -> None:
        if message.type != "error":
            return
        self.console.append(message.text)
        if "Content Security Policy" in message.text:
            self.failures.append(f"CSP refusal: {message.text}")

    def assert_clean(self) -> None:
        left = [f for f in self.failures if not any(p.search(f) for p in self.allowed)]
        assert not left, "the page broke:\n  " + "\n  ".join(left)


# ---------------------------------------------------------------- accessibility
def assert_accessible(
    page: Page, *, context: str = "", fail_on: frozenset[str] = BLOCKING_IMPACTS
) -> None:
    """Run axe-core on the page as it is now; fail on serious or critical violations
    (``fail_on=EVERY_IMPACT`` for a page that must be clean).

    axe is evaluated through the DevTools protocol (``page.evaluate``), which the page's
    Content-Security-Policy does not govern, so console pages need no exception in their
    policy and the check sees the page exactly as a user gets it.
    """
    if not AXE_JS.is_file():
        raise AssertionError(f"{AXE_JS} is missing: run `make install` (npm ci in tests/browser)")
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.evaluate(AXE_JS.read_text(encoding="utf-8"))
    result: dict[str, Any] = page.evaluate(
        """async () => {
            const r = await window.axe.run(document, {resultTypes: ['violations']});
            return {violations: r.violations.map(v => ({
                id: v.id, impact: v.impact, help: v.help, helpUrl: v.helpUrl,
                targets: v.nodes.slice(0, 5).map(n => n.target.join(' ')),
                count: v.nodes.length}))};
        }"""
    )
    blocking = [v for v in result["violations"] if v["impact"] in fail_on]
    if blocking:
        where = context or page.url
        lines = [f"{len(blocking)} accessibility violation(s) on {where}:"]
        for v in blocking:
            lines.append(f"- [{v['impact']}] {v['id']}: {v['help']} ({v['count']} element(s))")
            lines.extend(f"    at {target}" for target in v["targets"])
            lines.append(f"    see {v['helpUrl']}")
        raise AssertionError("\n".join(lines))


# ---------------------------------------------------------------- page weight
@dataclass
class PageWeight:
    """Bytes a first visit transferred (headers and bodies as sent, compressed), per URL."""

    total: int
    by_url: dict[str, int]

    def describe(self) -> str:
        rows = sorted(self.by_url.items(), key=lambda item: -item[1])
        return f"{self.total} bytes in {len(rows)} responses:\n" + "\n".join(
            f"  {size:>9}  {url}" for url, size in rows
        )

    def assert_under(self, budget: int = PAGE_BUDGET) -> None:
        assert self.total < budget, f"over the {budget}-byte budget: {self.describe()}"


def page_weight(page: Page, url: str) -> PageWeight:
    """Load ``url`` in ``page`` (a fresh context: nothing cached) and count what came over
    the wire, from Chromium's own accounting (Network.loadingFinished.encodedDataLength)."""
    cdp = page.context.new_cdp_session(page)
    urls: dict[str, str] = {}
    sizes: dict[str, int] = {}

    def on_response(params: dict[str, Any]) -> None:
        if params["response"]["url"].startswith(("http:", "https:")):  # data: moves nothing
            urls[params["requestId"]] = params["response"]["url"]

    def on_finished(params: dict[str, Any]) -> None:
        sizes[params["requestId"]] = int(params["encodedDataLength"])

    cdp.on("Network.responseReceived", on_response)
    cdp.on("Network.loadingFinished", on_finished)
    cdp.send("Network.enable")
    cdp.send("Network.setCacheDisabled", {"cacheDisabled": True})
    page.goto(url, wait_until="networkidle")
    cdp.detach()
    by_url: dict[str, int] = {}
    for request_id, size in sizes.items():
        if request_id in urls:
            by_url[urls[request_id]] = by_url.get(urls[request_id], 0) + size
    return PageWeight(total=sum(by_url.values()), by_url=by_url)


# ---------------------------------------------------------------- gateways
OPERATOR_EMAIL = "operator@example.test"


def start_browser_gateway(folder: Path, **settings: Any) -> Gateway:
    """A gateway on its own SQLite file in ``folder``, for pages in a browser: the operator
    is OPERATOR_EMAIL, and the per-IP sign-in limit is off, since every browser test signs
    in from 127.0.0.1 (the limit is tested over HTTP in tests/integration/test_sign_in_mail.py).
    The caller stops it."""
    return start_gateway(
        f"sqlite:///{folder}/gw.db",
        operator_email=OPERATOR_EMAIL,
        login_per_ip_per_minute=0,
        login_per_ip_per_hour=0,
        **settings,
    )


# ---------------------------------------------------------------- sign-in
def new_email(label: str = "user") -> str:
    """An address no other test uses: the session's gateway is shared and sign-in links are
    rate-limited per address."""
    return f"{label}-{uuid.uuid4().hex[:10]}@example.test"


def latest_link(gateway: Gateway, email: str, after: str | None, timeout: float = 10.0) -> str:
    """The newest sign-in link mailed to ``email`` that is not ``after`` (the dev outbox the
    log mailer keeps: GET /api/v1/operator/outbox)."""
    deadline = time.monotonic() + timeout
    while True:
        links: list[str] = gateway.op("GET", "/outbox", params={"email": email})
        if links and links[-1] != after:
            return links[-1]
        if time.monotonic() > deadline:
            raise AssertionError(f"no new sign-in link for {email} after {timeout}s: {links}")
        time.sleep(0.05)


def sign_in_by_link(
    page: Page, gateway: Gateway, email: str, lands: str = r"/console/(\?.*)?$"
) -> None:
    """Sign in as a person does: ask for a link on /console/login, open it, confirm.

    The link is read from the gateway's outbox (no SMTP configured) and opened on the
    gateway's own origin, path and query kept. Waits until the URL matches ``lands`` (the
    dashboard by default). Tests use the ``sign_in`` fixture, which binds the gateway.
    """
    before = (gateway.op("GET", "/outbox", params={"email": email}) or [None])[-1]
    page.goto(gateway.url + "/console/login")
    address = page.locator("input[type=email], input[name=email]").first
    address.fill(email)
    form = page.locator("form", has=address)
    form.locator("button:not([type=button]), input[type=submit]").first.click()
    page.wait_for_url(re.compile(r"/console/login/sent"))
    link = urlsplit(latest_link(gateway, email, before))
    page.goto(f"{gateway.url}{link.path}?{link.query}")
    page.get_by_role("button", name=re.compile(r"sign in|登录", re.IGNORECASE)).click()
    page.wait_for_url(re.compile(lands))
