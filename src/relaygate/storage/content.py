"""How a stored file is described and served safely: its content type, its
``Content-Disposition``, its ETag and the ``Range`` and ``If-None-Match`` it is asked with.

Pure functions, so each rule is unit-tested on its own. The security rule: a file is a
user's bytes served from the gateway's origin, so a browser must never run it there. Only
types no browser executes (:data:`INLINE_TYPES`: raster images and plain text) are shown
inline; everything else (HTML, SVG, XML, JavaScript, PDF, unknown) is an attachment. Every
download also carries ``X-Content-Type-Options: nosniff`` (the declared type is final) and
a ``Content-Security-Policy`` with ``sandbox`` (a document that is rendered anyway gets an
opaque origin and no scripts).
"""

from __future__ import annotations

import mimetypes
import re
from urllib.parse import quote

from relaygate.storage.blobstore import ByteRange

__all__ = [
    "DOWNLOAD_CSP",
    "INLINE_TYPES",
    "Unsatisfiable",
    "content_disposition",
    "etag",
    "is_inline",
    "none_match",
    "pick_mime_type",
    "parse_range",
]

INLINE_TYPES = frozenset(
    {"image/png", "image/jpeg", "image/gif", "image/webp", "image/avif", "text/plain"}
)
DOWNLOAD_CSP = "sandbox; default-src 'none'; img-src 'self'; style-src 'unsafe-inline'"
_TOKEN = r"[a-z0-9][a-z0-9!#$&^_.+-]{0,62}"
_MIME = re.compile(f"{_TOKEN}/{_TOKEN}")
_GENERIC = "application/octet-stream"
_RANGE = re.compile(r"bytes=(\d*)-(\d*)")


def pick_mime_type(declared: str, filename: str) -> str:
    """The type the uploader declared for the part if it is a well-formed ``type/subtype``
    (parameters dropped) and not the generic octet stream; else a guess from the file
    name's extension; else ``application/octet-stream``. Trusting the declaration is safe
    because serving never depends on it being honest (module doc)."""
    essence = declared.partition(";")[0].strip().lower()
    if _MIME.fullmatch(essence) and essence != _GENERIC:
        return essence
    guessed, _ = mimetypes.guess_type(filename, strict=False)
    return guessed if guessed and _MIME.fullmatch(guessed) else _GENERIC


def is_inline(mime_type: str) -> bool:
    return mime_type in INLINE_TYPES


def content_disposition(filename: str, inline: bool) -> str:
    """``attachment`` (or ``inline``) with the display name twice: an ASCII fallback with
    every risky character replaced, and the exact name in RFC 5987 form."""
    kind = "inline" if inline else "attachment"
    fallback = "".join(c if 32 <= ord(c) < 127 and c not in '"\\;%' else "_" for c in filename)
    fallback = fallback.strip() or "file"
    return f"{kind}; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


def etag(sha256: str) -> str:
    """A strong validator: the content's SHA-256 (the bytes of a file never change)."""
    return f'"{sha256}"'


def none_match(header: str | None, tag: str) -> bool:
    """Whether ``If-None-Match`` names ``tag`` (weak or strong, or ``*``): a 304."""
    if not header:
        return False
    candidates = [part.strip() for part in header.split(",")]
    return any(c == "*" or c.removeprefix("W/") == tag for c in candidates)


class Unsatisfiable(ValueError):
    """A single range that starts past the end: a 416."""


def parse_range(header: str | None, size: int) -> ByteRange | None:
    """The one range of a ``Range: bytes=a-b`` header within ``size`` bytes, or ``None``
    for the whole file (no header, a malformed one, or several ranges: RFC 9110 lets a
    server ignore those and answer 200). Raises :class:`Unsatisfiable` for a range that
    starts at or past the end (or a suffix of an empty file)."""
    if not header:
        return None
    match = _RANGE.fullmatch(header.strip().replace(" ", ""))
    if match is None:
        return None
    first, last = match[1], match[2]
    if not first:
        if not last:
            return None
        suffix = int(last)
        if suffix == 0 or size == 0:
            raise Unsatisfiable
        return ByteRange(max(0, size - suffix), size - 1)
    start = int(first)
    end = int(last) if last else size - 1
    if last and end < start:
        return None  # invalid: ignored
    if start >= size:
        raise Unsatisfiable
    return ByteRange(start, min(end, size - 1))
