"""The session list names browsers the way people know them."""

from __future__ import annotations

from relaygate.web.agents import Browser, browser_summary

CHROME_MAC = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36"
)
EDGE_WINDOWS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36 Edg/120.0.0.0"
)
SAFARI_IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1"
)


def test_known_browsers_and_systems() -> None:
    assert browser_summary(CHROME_MAC) == Browser("Chrome", "macOS")
    assert browser_summary(EDGE_WINDOWS) == Browser("Edge", "Windows")
    assert browser_summary(SAFARI_IPHONE) == Browser("Safari", "iPhone")
    firefox = "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0"
    assert browser_summary(firefox) == Browser("Firefox", "Linux")


def test_other_clients_show_their_product_token() -> None:
    assert browser_summary("curl/8.5.0") == Browser("curl/8.5.0", "")
    assert browser_summary("") == Browser("", "")
