"""How downloads are described (storage/content.py): ranges, validators, dispositions and
the content type a file is recorded with."""

from __future__ import annotations

import pytest

from relaygate.storage.blobstore import ByteRange
from relaygate.storage.content import (
    Unsatisfiable,
    content_disposition,
    etag,
    is_inline,
    none_match,
    parse_range,
    pick_mime_type,
)


@pytest.mark.parametrize(
    ("header", "size", "expected"),
    [
        (None, 10, None),
        ("bytes=0-0", 10, ByteRange(0, 0)),
        ("bytes=2-5", 10, ByteRange(2, 5)),
        ("bytes=2-", 10, ByteRange(2, 9)),
        ("bytes=5-100", 10, ByteRange(5, 9)),
        ("bytes=-3", 10, ByteRange(7, 9)),
        ("bytes=-30", 10, ByteRange(0, 9)),
        ("bytes = 1 - 2", 10, ByteRange(1, 2)),
        ("bytes=5-2", 10, None),  # invalid: ignored
        ("bytes=0-1,4-5", 10, None),  # several: the whole file
        ("items=0-1", 10, None),
        ("bytes=-", 10, None),
        ("bytes=abc", 10, None),
    ],
)
def test_ranges(header: str | None, size: int, expected: ByteRange | None) -> None:
    assert parse_range(header, size) == expected


@pytest.mark.parametrize(
    ("header", "size"),
    [("bytes=10-", 10), ("bytes=10-20", 10), ("bytes=-0", 10), ("bytes=0-", 0), ("bytes=-5", 0)],
)
def test_unsatisfiable_ranges(header: str, size: int) -> None:
    with pytest.raises(Unsatisfiable):
        parse_range(header, size)


def test_etag_and_if_none_match() -> None:
    tag = etag("ab" * 32)
    assert tag == f'"{"ab" * 32}"'
    assert none_match(tag, tag)
    assert none_match(f'"x", W/{tag}', tag)
    assert none_match("*", tag)
    assert not none_match('"other"', tag)
    assert not none_match(None, tag)


def test_dispositions_never_break_the_header() -> None:
    value = content_disposition('evil";\r\n name=x%.html', inline=False)
    assert value.startswith('attachment; filename="evil__')
    fallback = value.split('filename="', 1)[1].split('"', 1)[0]
    assert all(32 <= ord(c) < 127 and c not in '"\\;%' for c in fallback)
    assert "\r" not in value and "\n" not in value
    assert value.endswith("filename*=UTF-8''evil%22%3B%0D%0A%20name%3Dx%25.html")
    assert content_disposition("报告.txt", inline=True) == (
        "inline; filename=\"__.txt\"; filename*=UTF-8''%E6%8A%A5%E5%91%8A.txt"
    )
    assert 'filename="file"' in content_disposition("   ", inline=False)


def test_only_inert_types_are_inline() -> None:
    for inert in ("image/png", "image/jpeg", "image/gif", "image/webp", "text/plain"):
        assert is_inline(inert)
    for active in (
        "text/html",
        "image/svg+xml",
        "application/xml",
        "text/javascript",
        "application/pdf",
        "application/octet-stream",
    ):
        assert not is_inline(active)


def test_mime_types() -> None:
    assert pick_mime_type("image/PNG", "x.bin") == "image/png"
    assert pick_mime_type("text/html; charset=utf-8", "x") == "text/html"
    assert pick_mime_type("application/octet-stream", "photo.jpg") == "image/jpeg"
    assert pick_mime_type("", "notes.txt") == "text/plain"
    assert pick_mime_type("not a type", "unknown") == "application/octet-stream"
    assert pick_mime_type("text/html\r\nx: y", "a") == "application/octet-stream"
