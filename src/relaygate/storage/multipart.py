"""A ``multipart/form-data`` upload read as it arrives: one file part streamed, the text
fields kept.

Why not the media routes' parser (relay/media/forms.py): that one reads a body already in
memory, fine for the images of a relayed call but not for a 1 GB file. Here
``python-multipart``'s streaming parser is fed the body chunk by chunk; the bytes of the
file part are handed on (to the blob store) as soon as they are parsed, so memory holds
one network chunk at a time, whatever the file's size. The text fields (which may come
before or after the file) are small and capped, and are read once the body is done.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header

from relaygate.core.errors import InvalidRequest

__all__ = ["MAX_FIELD_BYTES", "MAX_FIELDS", "OVERHEAD_BYTES", "UploadForm"]

MAX_FIELDS = 64  # text parts (tags repeat: at most a few dozen)
MAX_FIELD_BYTES = 4096  # one text field's value
# What a body may hold besides the file's bytes: every text field at its cap plus the
# parts' headers and boundaries. A Content-Length above the room left plus this is
# refused before a byte of the file is read.
OVERHEAD_BYTES = MAX_FIELDS * (MAX_FIELD_BYTES + 1024) + 64 * 1024


@dataclass(slots=True)
class _Part:
    headers: dict[str, bytes] = field(default_factory=dict)
    name: str = ""
    filename: str | None = None
    content_type: str = ""
    value: bytearray = field(default_factory=bytearray)


class UploadForm:
    """The form of one upload. Iterate :meth:`file_chunks` to the end (that reads the whole
    body), then read :attr:`fields`, :attr:`filename` and :attr:`content_type`."""

    def __init__(
        self, body: AsyncIterator[bytes], content_type: str, file_field: str = "file"
    ) -> None:
        kind, params = parse_options_header(content_type)
        boundary = params.get(b"boundary", b"")
        if kind != b"multipart/form-data":
            raise InvalidRequest("The upload must be multipart/form-data.", param="file")
        if not boundary or len(boundary) > 200:
            raise InvalidRequest("The multipart body has no valid boundary.", param="file")
        self.body = body
        self.file_field = file_field
        self.fields: list[tuple[str, str]] = []
        self.has_file = False
        self.filename = ""  # the file part's own file name (a display name only)
        self.content_type = ""  # the file part's declared type (only a hint)
        self._part = _Part()
        self._header_name = bytearray()
        self._header_value = bytearray()
        self._out: list[bytes] = []
        self._done = False
        self._parser = MultipartParser(
            boundary,
            {
                "on_part_begin": self._begin,
                "on_header_field": self._header_field,
                "on_header_value": self._header_value_data,
                "on_header_end": self._header_end,
                "on_headers_finished": self._headers_finished,
                "on_part_data": self._data,
                "on_part_end": self._end,
                "on_end": self._finished,
            },
            max_header_count=16,
            max_header_size=4096,
        )

    def value(self, name: str) -> str | None:
        """The last value of a text field, or ``None`` when it was not sent."""
        found = [v for k, v in self.fields if k == name]
        return found[-1] if found else None

    def values(self, name: str) -> list[str]:
        return [v for k, v in self.fields if k == name]

    async def file_chunks(self) -> AsyncIterator[bytes]:
        """The file part's bytes as they arrive; reads the body to its end."""
        async for chunk in self.body:
            try:
                self._parser.write(chunk)
            except FormParserError:
                raise InvalidRequest("The multipart body is malformed.", param="file") from None
            while self._out:
                yield self._out.pop(0)
        if not self._done:
            raise InvalidRequest("The multipart body ended early.", param="file")
        if not self.has_file:
            raise InvalidRequest("The upload has no 'file' part.", param="file")

    # ------------------------------------------------------------ parser callbacks
    def _begin(self) -> None:
        self._part = _Part()

    def _header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_name += data[start:end]

    def _header_value_data(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def _header_end(self) -> None:
        name = self._header_name.decode("latin-1").strip().lower()
        self._part.headers[name] = bytes(self._header_value).strip()
        self._header_name.clear()
        self._header_value.clear()

    def _headers_finished(self) -> None:
        part = self._part
        _, params = parse_options_header(part.headers.get("content-disposition", b""))
        part.name = _text(params.get(b"name", b""))
        raw_filename = params.get(b"filename")
        part.filename = None if raw_filename is None else _text(raw_filename)
        part.content_type = _text(part.headers.get("content-type", b""))
        if part.name == self.file_field:
            if self.has_file:
                raise InvalidRequest("Send one 'file' part per upload.", param="file")
            self.has_file = True
            self.filename = part.filename or ""
            self.content_type = part.content_type
        elif len(self.fields) >= MAX_FIELDS:
            raise InvalidRequest(f"At most {MAX_FIELDS} form fields.", param="file")

    def _is_file(self) -> bool:
        return self._part.name == self.file_field

    def _data(self, data: bytes, start: int, end: int) -> None:
        if self._is_file():
            if end > start:
                self._out.append(data[start:end])
            return
        value = self._part.value
        value += data[start:end]
        if len(value) > MAX_FIELD_BYTES:
            name = self._part.name[:40]
            raise InvalidRequest(
                f"'{name}' is longer than {MAX_FIELD_BYTES} bytes.", param=name or "file"
            )

    def _end(self) -> None:
        if not self._is_file():
            self.fields.append((self._part.name, _text(bytes(self._part.value))))

    def _finished(self) -> None:
        self._done = True


def _text(raw: bytes) -> str:
    try:
        return raw.decode()
    except UnicodeDecodeError:
        return raw.decode("latin-1")
