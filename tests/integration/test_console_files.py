"""The files page over real HTTP (both databases): the plain multipart upload form (its
CSRF field checked before a byte is stored), filters and pages, public links turned on
and off, deletion, the refusals shown on the page (413, 403 quota) and another user's
file id as the 404 page from every form."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.harness import Gateway
from tests.integration.console import csrf_token, signed_in

PAGE = "/console/files"
IDS = re.compile(r"<code>([A-Za-z0-9_-]{21})</code>")


def _upload(
    browser: httpx.Client,
    data: bytes,
    name: str = "notes.txt",
    *,
    token: str | None = None,
    token_last: bool = False,
    **fields: str,
) -> httpx.Response:
    """The form as a browser sends it: the CSRF field first, then the file, then the rest
    (``token_last``: the token after the file, which the page refuses)."""
    token = csrf_token(browser, PAGE) if token is None else token
    parts: list[tuple[str, Any]] = [] if token_last else [("csrf_token", (None, token))]
    parts.append(("file", (name, data, "text/plain")))
    parts += [(key, (None, value)) for key, value in fields.items()]
    if token_last:
        parts.append(("csrf_token", (None, token)))
    return browser.post(PAGE + "/upload", files=parts)


def _ids(browser: httpx.Client, query: str = "") -> list[str]:
    page = browser.get(PAGE + query)
    assert page.status_code == 200, page.text
    return IDS.findall(page.text)


def _post(browser: httpx.Client, path: str, token: str, **fields: str) -> httpx.Response:
    return browser.post(path, data={"csrf_token": token, **fields})


def test_upload_list_public_link_and_delete(gateway: Gateway) -> None:
    with signed_in(gateway) as browser:
        done = _upload(browser, b"hello files", "hello.txt", purpose="2", tags="work, 2026")
        assert done.status_code == 303 and done.headers["location"] == PAGE + "?done=uploaded"
        page = browser.get(done.headers["location"])
        assert "hello.txt" in page.text and "File uploaded." in page.text
        assert '<span class="badge">work</span>' in page.text
        (uid,) = IDS.findall(page.text)
        # the session downloads its own file through the files API
        own = browser.get(f"/api/v1/user/files/download/{uid}")
        assert own.status_code == 200 and own.content == b"hello files"
        public_url = f"/api/v1/files/public/{uid}"
        assert httpx.get(gateway.url + public_url).status_code == 404

        token = csrf_token(browser, PAGE)
        made = _post(browser, f"{PAGE}/{uid}/public", token, is_public="true", back="tag=work")
        assert made.status_code == 303
        assert made.headers["location"] == PAGE + "?tag=work&done=public"
        listed = browser.get(made.headers["location"]).text
        assert f'value="{gateway.settings.base_url}{public_url}"' in listed
        assert httpx.get(gateway.url + public_url).content == b"hello files"

        _post(browser, f"{PAGE}/{uid}/public", token, is_public="false")
        assert httpx.get(gateway.url + public_url).status_code == 404

        gone = _post(browser, f"{PAGE}/{uid}/delete", token)
        assert gone.status_code == 303 and gone.headers["location"] == PAGE + "?done=deleted"
        assert _ids(browser) == []
        assert browser.get(f"/api/v1/user/files/download/{uid}").status_code == 404


def test_the_upload_needs_its_csrf_field_before_the_file(gateway: Gateway) -> None:
    with signed_in(gateway) as browser:
        assert _upload(browser, b"x" * 5000, token="forged").status_code == 403
        assert _upload(browser, b"x" * 5000, token="").status_code == 403
        # a token after the file's bytes comes too late: they are never stored unchecked
        assert _upload(browser, b"x" * 2_000_000, token_last=True).status_code == 403
        empty = browser.post(PAGE + "/upload", files={"file": ("e.txt", b"", "text/plain")})
        assert empty.status_code == 403
        assert _ids(browser) == []  # nothing was stored
        # a header token (a script's fetch) works as the field does
        token = csrf_token(browser, PAGE)
        sent = browser.post(
            PAGE + "/upload",
            files={"file": ("h.txt", b"by header", "text/plain")},
            headers={"x-csrf-token": token},
        )
        assert sent.status_code == 303
        assert len(_ids(browser)) == 1


def test_refusals_are_shown_on_the_page(gateway_factory: Callable[..., Gateway]) -> None:
    gw = gateway_factory(files_max_bytes=1000, files_quota_bytes=1500)
    with signed_in(gw) as browser:
        big = _upload(browser, b"x" * 1200, "big.txt")
        assert big.status_code == 413
        assert "The file is larger than 1,000 B" in big.text
        assert _upload(browser, b"x" * 900, "first.txt").status_code == 303
        over = _upload(browser, b"x" * 900, "second.txt")
        assert over.status_code == 403
        assert "Not enough storage left for this file: 600 B of 1.5 KiB are free." in over.text
        past = _upload(browser, b"x", "old.txt", expires_on="2001-01-01")
        assert past.status_code == 400 and "The expiry must be a day in the future." in past.text
        assert len(_ids(browser)) == 1


def test_filters_and_pages(sqlite_gateway: Gateway) -> None:
    with signed_in(sqlite_gateway) as browser:
        token = csrf_token(browser, PAGE)
        for n in range(21):
            public = "true" if n % 7 == 0 else ""
            fields = {"purpose": "2" if n < 3 else "0", "tags": "red" if n % 2 else "blue"}
            if public:
                fields["is_public"] = public
            sent = _upload(browser, b"%d" % n, f"doc-{n:02d}.txt", token=token, **fields)
            assert sent.status_code == 303
        first = browser.get(PAGE).text
        assert "Page 1 of 2" in first and "21 files" in first
        assert len(IDS.findall(first)) == 20
        assert "doc-20.txt" in first and "doc-00.txt" not in first  # newest first
        second = browser.get(PAGE + "?page=2").text
        assert "doc-00.txt" in second and len(IDS.findall(second)) == 1
        assert len(_ids(browser, "?purpose=2")) == 3
        assert len(_ids(browser, "?tag=red")) == 10
        assert len(_ids(browser, "?public=yes")) == 3  # 0, 7, 14
        assert len(_ids(browser, "?public=no&tag=blue")) == 9  # even, not 0 or 14
        assert len(_ids(browser, "?name=DOC-1")) == 10
        assert _ids(browser, "?name=nothing") == []
        # bad values in the URL are ignored, never an error
        assert len(_ids(browser, "?purpose=9&page=x&public=maybe")) == 20


@pytest.mark.parametrize("form", ["public", "delete"])
def test_another_users_file_is_the_404_page_from_every_form(gateway: Gateway, form: str) -> None:
    with signed_in(gateway) as owner, signed_in(gateway) as stranger:
        assert _upload(owner, b"mine", "mine.txt").status_code == 303
        (uid,) = _ids(owner)
        token = csrf_token(stranger, PAGE)
        refused = _post(stranger, f"{PAGE}/{uid}/{form}", token, is_public="true")
        assert refused.status_code == 404
        assert "text/html" in refused.headers["content-type"]
        unknown = _post(stranger, f"{PAGE}/{'A' * 21}/{form}", token, is_public="true")
        assert unknown.status_code == 404
        # and the owner's own form without its token is refused before anything happens
        assert owner.post(f"{PAGE}/{uid}/{form}", data={"is_public": "true"}).status_code == 403
        assert _ids(owner) == [uid]
        assert httpx.get(f"{gateway.url}/api/v1/files/public/{uid}").status_code == 404
