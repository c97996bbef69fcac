"""The README's pictures of the console: a demo gateway (tests/browser/demo.py), the
system Chromium at 1280x800, one PNG per main page under docs/screenshots/.

    make screenshots            # or: .venv/bin/python -m tests.browser.console_shots

The pictures are our own pages and are committed; run this again after a visible change
and look at them before committing (each should stay under 200 KB).
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from playwright.sync_api import Browser, Page, sync_playwright

from tests.browser.demo import CUSTOMER, OPERATOR, Demo, start_demo
from tests.browser.kit import CHROMIUM, CHROMIUM_ARGS, sign_in_by_link
from tests.harness import ROOT

OUT = ROOT / "docs" / "screenshots"
LIMIT = 200 * 1024
# (file name, path, who looks at it)
SHOTS = (
    ("dashboard", "/console/", CUSTOMER),
    ("keys", "/console/keys", CUSTOMER),
    ("bills", "/console/bills", CUSTOMER),
    ("bill-line", "/console/bills/{bill}", CUSTOMER),
    ("packages", "/console/packages", CUSTOMER),
    ("prices", "/console/prices", CUSTOMER),
    ("playground", "/console/playground", CUSTOMER),
    ("rules", "/console/rules", CUSTOMER),
    ("files", "/console/files", CUSTOMER),
    ("invoices", "/console/invoices", CUSTOMER),
    ("admin-overview", "/console/admin/", OPERATOR),
    ("admin-users", "/console/admin/users", OPERATOR),
    ("admin-user", "/console/admin/users/{user}", OPERATOR),
    ("admin-channels", "/console/admin/channels", OPERATOR),
    ("admin-models", "/console/admin/models", OPERATOR),
    ("admin-tiers", "/console/admin/tiers", OPERATOR),
    ("admin-invoices", "/console/admin/invoices", OPERATOR),
)


def _converse(page: Page) -> None:
    """One exchange, so the picture shows an answer with its tokens and charge."""
    page.get_by_label("Model").select_option("gpt-4o-mini")
    page.get_by_label("System prompt").fill("Answer in one paragraph.")
    page.get_by_label("Message", exact=True).fill("What does a relay gateway do?")
    page.get_by_role("button", name="Send").click()
    page.locator(".msg-assistant[data-state=done]").wait_for()
    page.locator(".msg-assistant .call-facts").wait_for()


def take(browser: Browser, demo: Demo, out: Path) -> list[Path]:
    saved: list[Path] = []
    for who in (CUSTOMER, OPERATOR):
        context = browser.new_context(
            base_url=demo.gateway.url, viewport={"width": 1280, "height": 800}, locale="en-US"
        )
        page = context.new_page()
        sign_in_by_link(page, demo.gateway, who)
        for name, path, owner in SHOTS:
            if owner != who:
                continue
            answer = page.goto(demo.fill(path), wait_until="networkidle")
            assert answer is not None and answer.status == 200, (path, answer)
            if name == "playground":
                _converse(page)
            target = out / f"{name}.png"
            page.screenshot(path=str(target), full_page=False)
            saved.append(target)
        context.close()
    return saved


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as directory:
        demo = start_demo(Path(directory))
        try:
            with sync_playwright() as pw:
                browser = pw.chromium.launch(
                    executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
                )
                saved = take(browser, demo, args.out)
                browser.close()
        finally:
            demo.stop()
    for path in saved:
        size = path.stat().st_size
        print(f"{size:>8}  {path.relative_to(ROOT)}")
        if size > LIMIT:
            print(f"          over {LIMIT} bytes: simplify the page's demo data or the page")


if __name__ == "__main__":
    main()
