"""The operator's configuration pages in a browser: channels (add one pointing at a fake
upstream, test it, edit it without the key ever shown back, its breaker), models and
prices (a price edited here is what the user's price list charges), package types, and
the read-only settings with their secrets masked. Every page: screenshot, axe, weight,
and 360 px."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from decimal import Decimal

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from relaygate.billing.catalogue import Catalogue, CatalogueService
from relaygate.billing.prices_view import PricesView
from relaygate.core.money import MICRO
from relaygate.db.engine import Database
from tests.browser.kit import (
    OPERATOR_EMAIL,
    assert_accessible,
    page_weight,
    shot,
    start_browser_gateway,
)
from tests.fakes.openai_upstream import FakeOpenAI
from tests.harness import ADMIN_KEY, Gateway, run_sync

SMTP_SECRET = "Smtp-Browser-Secret-5521"
COMPACTION_SECRET = "Compaction-Browser-Secret-8842"
UPSTREAM_KEY = "sk-browserUpstreamKey-4f1c2a9d7e"
NEW_KEY = "sk-replacedUpstreamKey-9b8a7c6d5e"
PAGES = (
    "/console/admin/channels",
    "/console/admin/channels/new",
    "/console/admin/models",
    "/console/admin/packages",
    "/console/admin/tiers",
    "/console/admin/settings",
)


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    """A gateway of its own: secret settings to look for, and prices no other test moves."""
    gw = start_browser_gateway(
        tmp_path_factory.mktemp("admin-config-gw"),
        smtp_password=SMTP_SECRET,
        compaction_secret=COMPACTION_SECRET,
        # every test signs the operator in: no per-address sign-in limit here
        login_per_address_per_minute=0,
    )
    yield gw
    gw.stop()


@pytest.fixture(scope="module")
def upstream() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as server:
        yield server


def _operator(page: Page, sign_in: Callable[..., None]) -> None:
    sign_in(page, OPERATOR_EMAIL)


def test_operator_adds_tests_and_edits_a_channel(
    page: Page, sign_in: Callable[..., None], upstream: FakeOpenAI
) -> None:
    _operator(page, sign_in)
    page.goto("/console/admin/channels")
    page.get_by_role("link", name="Add a channel").click()
    page.get_by_label("Name").fill("browser-upstream")
    page.get_by_label("Type").select_option("openai")
    page.get_by_label("Base URL").fill(upstream.base_url)
    page.get_by_label("Models").fill("browser-model\nbrowser-alias = browser-model")
    page.get_by_label("Upstream keys").fill(UPSTREAM_KEY)
    page.get_by_role("button", name="Create channel").click()
    expect(page.get_by_role("status").first).to_contain_text("Channel created.")
    assert UPSTREAM_KEY not in page.content()
    shot(page, "admin-channel")

    page.get_by_role("button", name="Test browser-upstream now").click()
    result = page.locator(".test-result")
    expect(result).to_contain_text("The channel answered.")
    expect(result).to_contain_text("HTTP status 200")
    expect(page.locator(".breaker").first).to_contain_text("Closed: healthy")
    shot(page, "admin-channel-tested")

    # edit: the keys box is empty, the page never carries the key
    page.reload()
    expect(page.get_by_label("Replace keys")).to_have_value("")
    assert UPSTREAM_KEY not in page.content()
    page.get_by_label("Priority").fill("5")
    page.get_by_label("Replace keys").fill(NEW_KEY)
    page.get_by_role("button", name="Save channel").click()
    expect(page.get_by_role("status").first).to_contain_text("Channel saved.")
    expect(page.get_by_label("Priority")).to_have_value("5")
    html = page.content()
    assert NEW_KEY not in html and UPSTREAM_KEY not in html
    assert NEW_KEY[:3] + "…" + NEW_KEY[-4:] in html  # the masked hint

    page.goto("/console/admin/channels")
    row = page.get_by_role("row").filter(has_text="browser-upstream")
    expect(row).to_contain_text("Closed: healthy")
    expect(row).to_contain_text("browser-alias")
    shot(page, "admin-channels")
    row.get_by_role("button", name="Disable browser-upstream").click()
    expect(page.get_by_role("status").first).to_contain_text("Channel disabled.")


def test_a_bad_channel_form_shows_its_errors(page: Page, sign_in: Callable[..., None]) -> None:
    _operator(page, sign_in)
    page.goto("/console/admin/channels/new")
    page.get_by_label("Name").fill("broken")
    page.get_by_label("Base URL").fill("ftp://nowhere")
    page.get_by_role("button", name="Create channel").click()
    expect(page.get_by_role("alert")).to_contain_text("The channel was not saved")
    expect(page.locator("#error-base_url")).to_contain_text("http(s) URL")
    expect(page.get_by_label("Base URL")).to_have_attribute("aria-invalid", "true")
    shot(page, "admin-channel-errors")


def _effective_input_price(gateway: Gateway, user_id: int, model: str) -> Decimal:
    """What the user's price list (the console's prices read model, over the gateway's
    database) says a million input tokens of ``model`` cost this user on /v1."""

    async def read() -> Decimal:
        db = Database(gateway.db_url)
        try:
            settings = gateway.settings
            catalogue = Catalogue(settings.route_multipliers, settings.flex_multiplier)
            await CatalogueService(db, catalogue).publish()
            lines = await PricesView(db, catalogue).for_user(user_id)
        finally:
            await db.dispose()
        [line] = [item for item in lines if item.model == model]
        return Decimal(line.prices.input) * line.effective[""] / MICRO

    return run_sync(read())


def test_operator_edits_a_price_and_the_user_pays_it(
    page: Page, sign_in: Callable[..., None], gateway: Gateway
) -> None:
    _operator(page, sign_in)
    gateway.op("PUT", "/models/browser-priced", json={"input": "1.5", "output": "3"})
    page.goto("/console/admin/models")
    row = page.get_by_role("row").filter(has_text="browser-priced")
    row.get_by_label("Input: browser-priced", exact=True).fill("2.125")
    row.get_by_label("Multiplier: browser-priced", exact=True).fill("1.2")
    row.get_by_role("button", name="Save browser-priced").click()
    expect(row.locator("[data-row-status]")).to_contain_text("Saved")
    page.reload()
    expect(row.get_by_label("Input: browser-priced", exact=True)).to_have_value("2.125")
    user_id = int(gateway.create_user()["id"])
    assert _effective_input_price(gateway, user_id, "browser-priced") == Decimal("2.55")
    # a bad value is an error on its row, nothing saved
    row.get_by_label("Output: browser-priced", exact=True).fill("1.1234567")
    row.get_by_role("button", name="Save browser-priced").click()
    expect(row.locator("[data-row-status]")).to_contain_text("Output")
    shot(page, "admin-models")
    # add a price without script: the page's own form
    page.get_by_label("Model", exact=True).fill("browser-added")
    page.locator("#add-input").fill("0.25")
    page.get_by_role("button", name="Add price").click()
    expect(page.get_by_role("status").first).to_contain_text("Model price added.")
    expect(page.get_by_role("row").filter(has_text="browser-added")).to_be_visible()


def test_operator_creates_a_package_type(page: Page, sign_in: Callable[..., None]) -> None:
    _operator(page, sign_in)
    page.goto("/console/admin/packages")
    page.get_by_label("Name").fill("Browser pack")
    page.get_by_label("Amount at official prices").fill("12.5")
    page.get_by_label("Valid for (days)").fill("14")
    page.get_by_label("Models", exact=True).fill("claude-*")
    page.get_by_role("button", name="Create package type").click()
    expect(page.get_by_role("status").first).to_contain_text("Package type created.")
    row = page.get_by_role("row").filter(has_text="Browser pack")
    expect(row).to_contain_text("12.5")
    expect(row).to_contain_text("14 days")
    row.get_by_role("link", name="Edit Browser pack").click()
    page.get_by_label("Valid for (days)").fill("21")
    page.get_by_role("button", name="Save package type").click()
    row = page.get_by_role("row").filter(has_text="Browser pack")
    expect(row).to_contain_text("21 days")
    row.get_by_role("button", name="Disable Browser pack").click()
    expect(page.get_by_role("status").first).to_contain_text("Package type disabled")
    expect(page.get_by_role("row").filter(has_text="Browser pack")).to_contain_text("Disabled")
    expect(
        page.get_by_role("link", name="Referral rewards, membership and RPM tiers")
    ).to_be_visible()
    shot(page, "admin-packages")


def test_operator_edits_the_rpm_tiers_and_resets_them(
    page: Page, sign_in: Callable[..., None], gateway: Gateway
) -> None:
    _operator(page, sign_in)
    page.goto("/console/admin/tiers")
    rpm = page.locator("section", has=page.get_by_role("heading", name="RPM tiers"))
    expect(rpm).to_contain_text("Default")
    rpm.get_by_label("Cumulative top-up (row 4)").fill("500")
    rpm.get_by_label("Requests per minute (row 4)").fill("20000")
    rpm.get_by_label("Remove (row 2)").check()
    rpm.get_by_role("button", name="Save RPM tiers").click()
    expect(page.get_by_role("status").first).to_contain_text("RPM tiers saved")
    rpm = page.locator("section", has=page.get_by_role("heading", name="RPM tiers"))
    expect(rpm).to_contain_text("Saved here")
    stored = gateway.op("GET", "/tiers")["rate_limit_tiers"]
    assert [t["rpm"] for t in stored] == [60, 10000, 20000]
    # a threshold below the row before it: refused on its row, nothing stored
    rpm.get_by_label("Cumulative top-up (row 3)").fill("100")
    rpm.get_by_role("button", name="Save RPM tiers").click()
    expect(page.get_by_role("alert").first).to_contain_text("Not saved")
    expect(page.get_by_label("Cumulative top-up (row 3)").last).to_have_attribute(
        "aria-invalid", "true"
    )
    assert [t["rpm"] for t in gateway.op("GET", "/tiers")["rate_limit_tiers"]] == [60, 10000, 20000]
    shot(page, "admin-tiers-error")
    page.goto("/console/admin/settings")
    row = page.get_by_role("row").filter(has_text="rate_limit_tiers")
    expect(row).to_contain_text("from the database")
    page.goto("/console/admin/tiers")
    page.get_by_role("button", name="Reset to the configuration file (RPM tiers)").click()
    expect(page.get_by_role("status").first).to_contain_text("Reset")
    assert gateway.op("GET", "/tiers")["sources"]["rate_limit_tiers"]["source"] == "settings"
    shot(page, "admin-tiers")


def test_settings_page_masks_secrets(page: Page, sign_in: Callable[..., None]) -> None:
    _operator(page, sign_in)
    page.goto("/console/admin/settings")
    expect(page.get_by_role("heading", name="Mail")).to_be_visible()
    html = page.content()
    for secret in (SMTP_SECRET, COMPACTION_SECRET, ADMIN_KEY):
        assert secret not in html
    row = page.get_by_role("row").filter(has_text="smtp_password")
    expect(row).to_contain_text("***")
    shot(page, "admin-settings")


def test_every_operator_page_is_accessible_light_and_narrow(
    page: Page, sign_in: Callable[..., None], new_context: Callable[..., BrowserContext]
) -> None:
    _operator(page, sign_in)
    for path in PAGES:
        page.goto(path)
        assert_accessible(page)
        weight = page_weight(page, path)
        weight.assert_under()
    phone = new_context(viewport={"width": 360, "height": 740})
    narrow = phone.new_page()
    sign_in(narrow, OPERATOR_EMAIL)
    for path in PAGES:
        narrow.goto(path)
        name = re.sub(r"[^a-z]+", "-", path.removeprefix("/console/")).strip("-")
        shot(narrow, f"{name}-360")
        scroll = narrow.evaluate("document.documentElement.scrollWidth")
        assert scroll <= 360, (path, scroll)
