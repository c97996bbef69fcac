"""Where the consent page sends the browser: the code appended, the seed's template
filled in, and no template able to move the host."""

from __future__ import annotations

import base64

import pytest

from relaygate.core.errors import InvalidRequest
from relaygate.web.oauth_redirect import approved_target, check_template, denied_target

DOMAINS = ("app.example.test",)


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def test_code_and_state_are_appended() -> None:
    got = approved_target("https://app.example.test/cb?x=1", "", "C0de", "s t", DOMAINS)
    assert got == "https://app.example.test/cb?x=1&code=C0de&state=s+t"
    denied = denied_target("https://app.example.test/cb", "s", DOMAINS)
    assert denied == "https://app.example.test/cb?error=access_denied&state=s"


def test_the_template_is_filled_in() -> None:
    template = check_template(_b64("?code={code}&state={state}&tgid=114514"))
    got = approved_target("https://app.example.test/bot", template, "abc", "&x", DOMAINS)
    assert got == "https://app.example.test/bot?code=abc&state=%26x&tgid=114514"


@pytest.mark.parametrize(
    "text", ["@evil.test/?c={code}", ".evil.test/?c={code}", ":x@evil.test/{code}"]
)
def test_a_template_cannot_move_the_host(text: str) -> None:
    with pytest.raises(InvalidRequest):
        approved_target("https://app.example.test", check_template(_b64(text)), "c", "", DOMAINS)


@pytest.mark.parametrize("bad", ["***", _b64("no code here"), _b64("x" * 1001 + "{code}")])
def test_unusable_templates_are_400(bad: str) -> None:
    with pytest.raises(InvalidRequest):
        check_template(bad)
