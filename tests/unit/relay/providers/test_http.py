"""The override rules' header edits on a provider's request lines (providers/http.py)."""

from __future__ import annotations

from relaygate.relay.providers.base import HeaderEdits
from relaygate.relay.providers.http import clean_header_line, edit_headers

LINES = b"".join(
    clean_header_line(name, value)
    for name, value in (
        ("Authorization", "Bearer sk-channel"),
        ("Content-Type", "application/json"),
        ("X-Team", "blue"),
        ("OpenAI-Beta", "assistants=v2"),
    )
)


def test_set_replaces_and_adds_remove_drops() -> None:
    edits = HeaderEdits((("x-team", "red"), ("x-new", "1")), frozenset({"openai-beta"}))
    assert edit_headers(LINES, edits) == (
        b"Authorization: Bearer sk-channel\r\nContent-Type: application/json\r\n"
        b"x-team: red\r\nx-new: 1\r\n"
    )


def test_protected_headers_are_never_touched() -> None:
    """The schema refuses these; the provider does not rely on it."""
    edits = HeaderEdits(
        (("authorization", "Bearer stolen"), ("content-length", "1")),
        frozenset({"authorization", "x-api-key", "content-type"}),
    )
    assert edit_headers(LINES, edits) == LINES


def test_values_cannot_inject_lines() -> None:
    edits = HeaderEdits((("x-a", "1\r\nx-api-key: k"),))
    assert edit_headers(b"", edits) == b"x-a: 1x-api-key: k\r\n"
