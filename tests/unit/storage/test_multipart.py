"""The streaming upload form (storage/multipart.py): the file's bytes come out as they are
parsed, fields before and after the file are kept, and malformed bodies are 400s."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from relaygate.core.errors import InvalidRequest
from relaygate.storage.multipart import MAX_FIELD_BYTES, UploadForm

CT = "multipart/form-data; boundary=XyZ"


def _body(*parts: tuple[str, str | None, bytes]) -> bytes:
    out = b""
    for name, filename, value in parts:
        disposition = f'form-data; name="{name}"' + (
            f'; filename="{filename}"' if filename is not None else ""
        )
        out += f"--XyZ\r\nContent-Disposition: {disposition}\r\n\r\n".encode() + value + b"\r\n"
    return out + b"--XyZ--\r\n"


async def _split(data: bytes, size: int) -> AsyncIterator[bytes]:
    for i in range(0, len(data), size):
        yield data[i : i + size]


async def _read(form: UploadForm) -> bytes:
    return b"".join([chunk async for chunk in form.file_chunks()])


@pytest.mark.parametrize("piece", [1, 7, 64, 100_000])
async def test_fields_around_the_file_in_any_chunking(piece: int) -> None:
    payload = bytes(range(256)) * 20 + b"\r\n--XyZ-not-a-boundary\r\n"
    body = _body(
        ("filename", None, "名前.txt".encode()),
        ("file", "orig.bin", payload),
        ("tags", None, b"a"),
        ("tags", None, b"b"),
        ("purpose", None, b"2"),
    )
    form = UploadForm(_split(body, piece), CT)
    assert await _read(form) == payload
    assert form.filename == "orig.bin"
    assert form.value("filename") == "名前.txt"
    assert form.values("tags") == ["a", "b"]
    assert form.value("purpose") == "2"
    assert form.value("missing") is None


async def test_the_file_streams_before_the_body_ends() -> None:
    """The first bytes of the file are handed on while the body is still arriving."""
    head = b'--XyZ\r\nContent-Disposition: form-data; name="file"; filename="f"\r\n\r\n'
    arrived: list[str] = []

    async def body() -> AsyncIterator[bytes]:
        yield head + b"A" * 1000
        arrived.append("second")
        yield b"B" * 1000 + b"\r\n--XyZ--\r\n"

    form = UploadForm(body(), CT)
    chunks = form.file_chunks()
    first = await anext(chunks)
    assert first.startswith(b"A") and arrived == []
    rest = b"".join([c async for c in chunks])
    assert (first + rest).count(b"B") == 1000


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("application/json", b"{}"),
        ("multipart/form-data", b""),
        (CT, b"garbage without a boundary"),
        (CT, b'--XyZ\r\nContent-Disposition: form-data; name="file"; filename="a"\r\n\r\nabc'),
        (CT, _body(("filename", None, b"x"))),  # no file
        (CT, _body(("file", "a", b"1"), ("file", "b", b"2"))),  # two files
        (CT, _body(("file", "a", b"1"), ("note", None, b"n" * (MAX_FIELD_BYTES + 1)))),
        (CT, _body(("file", "a", b"1"), *[(f"f{i}", None, b"v") for i in range(70)])),
    ],
)
async def test_malformed_bodies_are_400s(content_type: str, body: bytes) -> None:
    with pytest.raises(InvalidRequest):
        form = UploadForm(_split(body, 10), content_type)
        await _read(form)
