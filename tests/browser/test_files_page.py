"""The files page in a real browser, as a person uses it: upload a file with the form, see
it listed with the storage used, make it public and open its public link, make it
private again, delete it through the confirm; a file dropped on the form (files.js)
is uploaded too. Checked by axe, and at 360 px without sideways scroll.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from playwright.sync_api import Page, expect

from tests.browser.kit import assert_accessible, new_email, shot

DROP = """([name, text]) => {
  const data = new DataTransfer();
  data.items.add(new File([text], name, { type: "text/plain" }));
  const form = document.querySelector("form[data-upload]");
  for (const type of ["dragenter", "dragover", "drop"]) {
    const init = { bubbles: true, cancelable: true, dataTransfer: data };
    form.dispatchEvent(new DragEvent(type, init));
  }
}"""


def test_upload_share_and_delete_a_file(
    page: Page, sign_in: Callable[..., None], tmp_path: Path
) -> None:
    sign_in(page, new_email("files"))
    page.get_by_role("link", name="Files", exact=True).first.click()
    page.wait_for_url(re.compile(r"/console/files$"))
    expect(page.get_by_text("You have no files yet.")).to_be_visible()
    assert_accessible(page)

    notes = tmp_path / "meeting notes.txt"
    notes.write_text("Decisions: ship on Friday.\n")
    page.get_by_label("File", exact=True).set_input_files(notes)
    page.get_by_label("Tags (comma-separated)").fill("work, 2026")
    page.get_by_role("button", name="Upload", exact=True).click()
    page.wait_for_url(re.compile(r"/console/files\?done=uploaded$"))
    expect(page.get_by_role("status")).to_contain_text("File uploaded.")
    row = page.get_by_role("row", name=re.compile("meeting notes.txt"))
    expect(row).to_contain_text("Private")
    expect(row).to_contain_text("work")
    expect(page.locator(".files-quota")).to_contain_text("27 B of 1 GiB")

    row.get_by_role("button", name="Make public meeting notes.txt").click()
    expect(page.get_by_role("status")).to_contain_text("The file is public now")
    link = page.get_by_label("Public link of meeting notes.txt")
    url = link.input_value()
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+/api/v1/files/public/[A-Za-z0-9_-]{21}", url)
    expect(page.get_by_role("button", name="Copy link")).to_be_visible()
    shot(page, "console-files-public")
    assert_accessible(page)
    opened = page.context.new_page()  # a visitor without the session would see it too
    opened.goto(url)
    expect(opened.locator("body")).to_contain_text("Decisions: ship on Friday.")
    opened.close()

    row = page.get_by_role("row", name=re.compile("meeting notes.txt"))
    row.get_by_role("button", name="Make private meeting notes.txt").click()
    expect(page.get_by_role("status")).to_contain_text("The file is private now")
    assert page.request.get(url).status == 404

    row = page.get_by_role("row", name=re.compile("meeting notes.txt"))
    row.get_by_text("Delete…").click()
    row.get_by_role("button", name="Delete meeting notes.txt").click()
    page.wait_for_url(re.compile(r"/console/files\?done=deleted$"))
    expect(page.get_by_role("status")).to_contain_text("File deleted.")
    expect(page.get_by_text("You have no files yet.")).to_be_visible()


def test_a_dropped_file_is_uploaded_and_the_page_fits_a_phone(
    page: Page, sign_in: Callable[..., None]
) -> None:
    sign_in(page, new_email("files-drop"))
    page.set_viewport_size({"width": 360, "height": 740})
    page.goto("/console/files")
    expect(page.get_by_text("or drop a file here")).to_be_visible()  # shown by files.js
    page.evaluate(DROP, ["dropped.txt", "dropped bytes"])
    page.get_by_role("button", name="Upload", exact=True).click()
    page.wait_for_url(re.compile(r"/console/files\?done=uploaded$"))
    expect(page.get_by_role("row", name=re.compile("dropped.txt"))).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    shot(page, "console-files-phone")
    assert_accessible(page)
