"""The rules page in a real browser, as a person uses it: build a rule with the form's
rows, dry-run it with a sample request beside the form and read the verdict and the
rewritten request, save it, and find it in the list (toggle and the JSON view too). The
pages are checked by axe, the editor also at 360 px.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from playwright.sync_api import Page, expect

from tests.browser.kit import assert_accessible, new_email, shot


def test_a_rule_is_built_dry_run_and_saved(page: Page, sign_in: Callable[..., None]) -> None:
    sign_in(page, new_email("rules"))
    page.goto("/console/rules")
    expect(page.get_by_text("You have no rules yet")).to_be_visible()
    page.get_by_role("link", name="Create a rule").first.click()
    page.wait_for_url(re.compile(r"/console/rules/new$"))
    page.get_by_label("Name", exact=True).fill("pin translations")
    page.get_by_label("Models (patterns such as gpt-4*, separated by commas)").fill("gpt-4*")
    page.get_by_label("New model").first.fill("gpt-4o-mini")
    page.get_by_label("Action 2").select_option("set")
    page.locator("#act-1-path").fill("/temperature")
    page.locator("#act-1-value").fill("0.2")
    page.get_by_label("Sample request body (JSON)").fill(
        '{"model": "gpt-4-turbo", "messages": [{"role": "user", "content": "Hallo"}]}'
    )
    page.get_by_role("button", name="Run test").click()
    result = page.locator("section.dry-run")
    expect(result).to_contain_text("1 rule applied.")
    expect(result).to_contain_text("gpt-4o-mini")
    expect(result.locator("pre")).to_contain_text('"temperature": 0.2')
    expect(result.get_by_role("row", name=re.compile("pin translations"))).to_contain_text("Yes")
    shot(page, "console-rules-dry-run")
    assert_accessible(page)

    page.get_by_role("button", name="Create rule").click()
    page.wait_for_url(re.compile(r"/console/rules\?done=saved$"))
    expect(page.get_by_role("status")).to_contain_text("Rule saved.")
    row = page.get_by_role("row", name=re.compile("pin translations"))
    expect(row).to_contain_text("gpt-4*")
    expect(row).to_contain_text("Enabled")
    assert_accessible(page)
    row.get_by_role("button", name="Disable rule pin translations").click()
    expect(page.get_by_role("status")).to_contain_text("Rule disabled.")

    page.get_by_role("link", name="pin translations", exact=True).click()
    page.get_by_role("link", name="JSON", exact=True).click()
    expect(page.get_by_label("The rule as JSON")).to_have_value(re.compile('"rename_model"'))
    page.set_viewport_size({"width": 360, "height": 740})
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    shot(page, "console-rules-json-phone")
