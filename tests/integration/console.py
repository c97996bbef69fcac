"""Signing in to the console over HTTP, as a person would, for the console's integration
tests: one cookie-keeping client per person, the magic link read back from the operator's
outbox (as an operator without SMTP reads it from the log), and the CSRF token a page's
forms carry."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import parse_qs, urlsplit

import httpx

from tests.harness import Gateway

__all__ = [
    "CSRF",
    "NEW_KEY",
    "csrf_token",
    "link_token",
    "new_browser",
    "new_email",
    "sign_in",
    "signed_in",
]

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
NEW_KEY = {"expired_at": "2099-01-01T00:00:00Z", "max_fee": "0"}  # a key API body


def new_email(prefix: str = "console") -> str:
    """An address no other test uses (the sign-in form limits links per address)."""
    return f"{prefix}-{uuid.uuid4().hex[:10]}@example.test"


def new_browser(gw: Gateway) -> httpx.Client:
    """A client that keeps cookies and shows redirects (303s are what the pages answer)."""
    return httpx.Client(base_url=gw.url, timeout=30, follow_redirects=False)


def link_token(gw: Gateway, email: str) -> str:
    links: list[str] = gw.op("GET", "/outbox", params={"email": email})
    assert links, f"no link was sent to {email}"
    link = urlsplit(links[-1])
    assert link.path == "/console/auth"
    return parse_qs(link.query)["token"][0]


def sign_in(gw: Gateway, client: httpx.Client, email: str, invite: str = "") -> httpx.Response:
    """Through the pages, as a person would: the form, the mailed link, the confirm POST."""
    sent = client.post("/console/login", data={"email": email, "invite": invite, "next": ""})
    assert sent.status_code == 303, sent.text
    assert sent.headers["location"].startswith("/console/login/sent")
    token = link_token(gw, email)
    confirm = client.get("/console/auth", params={"token": token})
    assert confirm.status_code == 200 and token in confirm.text
    done = client.post("/console/auth", data={"token": token})
    assert done.status_code == 303, done.text
    return done


@contextmanager
def signed_in(gw: Gateway, email: str = "", invite: str = "") -> Iterator[httpx.Client]:
    """A browser signed in as ``email`` (a new address if empty), closed afterwards."""
    with new_browser(gw) as client:
        sign_in(gw, client, email or new_email(), invite=invite)
        yield client


def csrf_token(client: httpx.Client, path: str = "/console/account") -> str:
    """The token the forms of the page at ``path`` carry (the session's)."""
    page = client.get(path)
    assert page.status_code == 200, page.text
    found = CSRF.search(page.text)
    assert found is not None, f"no CSRF field on {path}"
    return found.group(1)
