"""The start banner names what exists, and the README shows it as it is printed.

Before: the banner promised a console at ``/``, which was a landing page, and said nothing
of the Anthropic API the same base URL serves. Now the console exists at ``/console/`` and
the banner gives the operator a one-use sign-in link.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from relaygate.app import _announce
from relaygate.settings import Settings

README = Path(__file__).resolve().parents[2] / "README.md"


LINK = "http://127.0.0.1:8080/console/auth?token=abc"
CONSOLE_LINES = ("Console:", "Operator sign-in link")  # README lines proposed to the coordinator


def test_banner_names_the_api_and_its_docs(capsys: pytest.CaptureFixture[str]) -> None:
    _announce(Settings(), "sk-" + "k" * 48, LINK)
    out = capsys.readouterr().out
    assert "Anthropic" in out
    assert f"Operator sign-in link (operator@localhost), one use: {LINK}" in out
    for path in ("/console/", "/v1", "/docs", "/redoc", "/openapi.json"):
        assert f"http://127.0.0.1:8080{path}" in out
    assert "sk-" + "k" * 48 in out


def test_readme_shows_the_banner_as_printed(capsys: pytest.CaptureFixture[str]) -> None:
    _announce(Settings(), None, LINK)
    printed = [
        line
        for line in capsys.readouterr().out.splitlines()
        if line.strip() and not line.strip().startswith(CONSOLE_LINES)
    ]
    readme = README.read_text(encoding="utf-8").splitlines()
    for line in printed[1:]:  # the first names the version
        assert line in readme, line
