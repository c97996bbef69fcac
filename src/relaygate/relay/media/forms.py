"""The body codecs of the media routes: ``multipart/form-data`` both ways, and
``application/x-www-form-urlencoded`` in.

Why our own multipart code: an upload is relayed, not stored. The parts are read once
from the body already in memory (no temporary files, no copies of the file bytes beyond
one slice each), and written again for the channel with a fresh boundary, the model
replaced and the platform's extension field left out. Files keep their bytes, field
name, file name and content type exactly. Pure code: the echo provider reads uploads
with it too.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from urllib.parse import parse_qsl

from relaygate.core.errors import InvalidRequest

__all__ = [
    "MAX_FIELDS",
    "MAX_FILES",
    "MAX_PARTS",
    "Form",
    "Upload",
    "encode_multipart",
    "media_type",
    "parse_multipart",
    "parse_urlencoded",
]

_CRLF = b"\r\n"
# Caps on what one body may hold. OpenAI's media calls have a dozen fields and at most
# sixteen images; without a cap a body of nothing but separators (``x=&x=&...``) costs
# work per field in the event loop, which no legitimate call needs.
MAX_FIELDS = 1000  # form fields (urlencoded), or multipart parts of any kind
MAX_PARTS = MAX_FIELDS
MAX_FILES = 100  # file parts of a multipart body


@dataclass(frozen=True, slots=True)
class Upload:
    """One file part, as it came: its field name (``image[]``, ``file``, ``mask``)."""

    field: str
    filename: str
    content_type: str
    data: bytes


@dataclass(slots=True)
class Form:
    """A multipart body: its text fields in order (a name may repeat) and its files."""

    fields: list[tuple[str, str]]
    files: list[Upload]


def media_type(content_type: str) -> str:
    """``multipart/form-data; boundary=x`` → ``multipart/form-data`` (lower case)."""
    return content_type.partition(";")[0].strip().lower()


def _params(value: str) -> dict[str, str]:
    """The ``; name="value"`` parameters of a header value (quoted strings unescaped)."""
    out: dict[str, str] = {}
    pos, size = value.find(";"), len(value)
    while 0 <= pos < size:
        pos += 1
        eq = value.find("=", pos)
        if eq < 0:
            break
        name = value[pos:eq].strip().lower()
        pos = eq + 1
        while pos < size and value[pos] == " ":
            pos += 1
        if pos < size and value[pos] == '"':
            chars: list[str] = []
            pos += 1
            while pos < size and value[pos] != '"':
                if value[pos] == "\\" and pos + 1 < size:
                    pos += 1
                chars.append(value[pos])
                pos += 1
            out[name] = "".join(chars)
            pos = value.find(";", pos)
        else:
            end = value.find(";", pos)
            out[name] = value[pos : end if end >= 0 else size].strip()
            pos = end
    return out


def _boundary(content_type: str) -> bytes:
    if media_type(content_type) != "multipart/form-data":
        raise InvalidRequest("The body must be multipart/form-data.")
    boundary = _params(content_type).get("boundary", "")
    if not boundary or len(boundary) > 200:
        raise InvalidRequest("The multipart body has no valid boundary.")
    return boundary.encode("latin-1", errors="replace")


def _text(raw: bytes) -> str:
    try:
        return raw.decode()
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def _part_headers(raw: bytes) -> dict[str, str]:
    headers: dict[str, str] = {}
    for line in raw.split(_CRLF):
        name, colon, value = line.partition(b":")
        if colon:
            headers[name.strip().lower().decode("latin-1")] = _text(value.strip())
    return headers


def _malformed() -> InvalidRequest:
    return InvalidRequest("The multipart body is malformed.")


def _too_many(what: str, limit: int) -> InvalidRequest:
    return InvalidRequest(f"The request body has more than {limit} {what}.")


def parse_multipart(body: bytes, content_type: str) -> Form:
    """The fields and files of a ``multipart/form-data`` body (RFC 7578), at most
    :data:`MAX_PARTS` parts of which :data:`MAX_FILES` files (a 400 beyond)."""
    delimiter = b"--" + _boundary(content_type)
    start = body.find(delimiter)
    if start < 0:
        raise _malformed()
    form = Form([], [])
    pos = start + len(delimiter)
    while not body.startswith(b"--", pos):
        if len(form.fields) + len(form.files) >= MAX_PARTS:
            raise _too_many("multipart parts", MAX_PARTS)
        line_end = body.find(_CRLF, pos)
        if line_end < 0:
            raise _malformed()
        head_start = line_end + 2
        if body.startswith(_CRLF, head_start):  # a part without headers
            head_end, data_start = head_start, head_start + 2
        else:
            head_end = body.find(_CRLF + _CRLF, head_start)
            if head_end < 0:
                raise _malformed()
            data_start = head_end + 4
        data_end = body.find(_CRLF + delimiter, data_start)
        if data_end < 0:
            raise _malformed()
        _add_part(form, _part_headers(body[head_start:head_end]), body[data_start:data_end])
        pos = data_end + 2 + len(delimiter)
    return form


def _add_part(form: Form, headers: dict[str, str], data: bytes) -> None:
    disposition = headers.get("content-disposition", "")
    if not disposition.lower().startswith("form-data"):
        raise _malformed()
    params = _params(disposition)
    name = params.get("name")
    if name is None:
        raise _malformed()
    if "filename" in params:
        if len(form.files) >= MAX_FILES:
            raise _too_many("files", MAX_FILES)
        kind = headers.get("content-type", "application/octet-stream")
        form.files.append(Upload(name, params["filename"], kind, data))
    else:
        form.fields.append((name, _text(data)))


def _quote(value: str) -> bytes:
    """A name or file name for a quoted header parameter, as browsers write it."""
    escaped = value.replace('"', "%22").replace("\r", "%0D").replace("\n", "%0A")
    return escaped.encode()


def _clean(value: str) -> bytes:
    return value.replace("\r", "").replace("\n", "").encode("latin-1", errors="replace")


def encode_multipart(
    fields: list[tuple[str, str]], files: list[Upload], boundary: str | None = None
) -> tuple[bytes, str]:
    """A ``multipart/form-data`` body and its content type, with a fresh boundary."""
    if boundary is None:
        boundary = "relaygate-" + secrets.token_hex(16)
        while any(boundary.encode() in upload.data for upload in files):  # pragma: no cover
            boundary = "relaygate-" + secrets.token_hex(16)
    delimiter = b"--" + boundary.encode()
    parts: list[bytes] = []
    for name, value in fields:
        head = b'Content-Disposition: form-data; name="' + _quote(name) + b'"'
        parts += [delimiter, _CRLF, head, _CRLF, _CRLF, value.encode(), _CRLF]
    for upload in files:
        head = (
            b'Content-Disposition: form-data; name="'
            + _quote(upload.field)
            + b'"; filename="'
            + _quote(upload.filename)
            + b'"\r\nContent-Type: '
            + _clean(upload.content_type)
        )
        parts += [delimiter, _CRLF, head, _CRLF, _CRLF, upload.data, _CRLF]
    parts += [delimiter, b"--", _CRLF]
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


def parse_urlencoded(body: bytes) -> list[tuple[str, str]]:
    """The fields of an ``application/x-www-form-urlencoded`` body, in order: at most
    :data:`MAX_FIELDS` (``parse_qsl`` counts the separators before it splits, so a body
    of a hundred thousand empty fields is refused without being parsed)."""
    try:
        text = body.decode()
    except UnicodeDecodeError as exc:
        raise InvalidRequest("The form body is not valid UTF-8 form data.") from exc
    try:
        return parse_qsl(
            text, keep_blank_values=True, strict_parsing=False, max_num_fields=MAX_FIELDS
        )
    except ValueError as exc:  # its only error without strict parsing: too many fields
        raise _too_many("form fields", MAX_FIELDS) from exc
