"""The ``sign_in`` helper against the real magic-link back end, before the console exists.

The console's login pages are being built elsewhere; until they land, this test stands in
for them with pages served by ``page.route`` that follow the contract (an email form on
/console/login, /console/login/sent, a "Sign in" confirm button on the link, then
/console/) and call the gateway's real sign-in API. The link comes from the real outbox.
Once the console serves these pages, a test of the real flow replaces this one.
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import parse_qs, urlsplit

import httpx
from playwright.sync_api import Page, Route, expect

from tests.browser.kit import new_email
from tests.harness import Gateway

LOGIN = """<!doctype html><html lang="en"><head><title>Sign in</title></head><body><main>
<form method="post" action="/console/login"><label>Email <input type="email" name="email">
</label><button>Send me a link</button></form></main></body></html>"""
CONFIRM = """<!doctype html><html lang="en"><head><title>Confirm</title></head><body><main>
<form method="post"><button>Sign in</button></form></main></body></html>"""
CONSOLE = """<!doctype html><html lang="en"><head><title>Console</title></head><body><main>
<h1>Signed in</h1></main></body></html>"""


def stand_in_console(page: Page, api: httpx.Client) -> None:

    def html(route: Route, body: str) -> None:
        route.fulfill(body=body, content_type="text/html")

    def see_other(route: Route, location: str) -> None:
        # Chromium does not route the request that follows a fulfilled 303, so the stand-in
        # moves on the way a page can: a refresh to the next URL.
        html(route, f'<meta http-equiv="refresh" content="0;url={location}">')

    def login(route: Route) -> None:
        if route.request.method == "GET":
            html(route, LOGIN)
            return
        email = parse_qs(route.request.post_data or "")["email"][0]
        assert api.post("/api/v1/auth/login", json={"email": email}).status_code == 200
        see_other(route, "/console/login/sent")

    def link(route: Route) -> None:
        if route.request.method == "GET":  # a prefetching scanner must not burn the link
            html(route, CONFIRM)
            return
        token = parse_qs(urlsplit(route.request.url).query)["token"][0]
        response = api.post("/api/v1/auth/verify", json={"token": token})
        assert response.status_code == 200, response.text
        see_other(route, "/console/")

    page.route("**/console/login", login)
    page.route("**/console/login/sent", lambda route: html(route, "<p>Sent</p>"))
    page.route("**/api/v1/auth/verify?token=*", link)
    page.route("**/console/", lambda route: html(route, CONSOLE))


def test_sign_in_follows_the_mailed_link_to_the_console(
    page: Page, gateway: Gateway, sign_in: Callable[..., None]
) -> None:
    with httpx.Client(base_url=gateway.url, timeout=30) as api:
        stand_in_console(page, api)
        email = new_email("ada")
        sign_in(page, email)
        expect(page.get_by_role("heading", level=1)).to_have_text("Signed in")
        # a second sign-in uses the new link, not the spent one
        sign_in(page, email)
        expect(page.get_by_role("heading", level=1)).to_have_text("Signed in")
