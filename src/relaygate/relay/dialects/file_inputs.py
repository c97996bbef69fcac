"""Stored files named in a call's content parts, and how a part is filled with one.

A user's files (docs/storage.md) can be a model call's inputs by id, so a client need
not send the same image or PDF again with every call. Each dialect's record finds the
parts that name one (``Dialect.file_inputs``: its own part shapes, the ones its official
SDK types allow) and says how each part is rewritten into the inline form that dialect
already sends upstream (a base64 data URL, Anthropic's ``base64`` source); the relay
(relay/file_inputs.py) reads the files, one database read per call, and fills the
parts. From there the call is an ordinary inline call: translated to another dialect
like any other, or sent as it is.

What names one of our files, never an upstream's own:

* ``relaygate-file://<id>`` in a URL slot (an image URL, a file URL) or an id slot;
* a bare id in an id slot (``file_id``) when it has our ids' shape: 21 characters of
  ``[A-Za-z0-9_-]``. OpenAI's file ids (``file-`` and 22 or more characters) and
  Anthropic's (``file_011C…``, 29) never have it, so theirs pass through untouched to
  an upstream that knows them.

The cheap test :func:`mentions_files` runs on the body's bytes first: a call that names
no file costs two substring searches, and no parse of its parts and no database read.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from relaygate.core.errors import InvalidRequest

__all__ = [
    "DOCUMENT_TYPES",
    "IMAGE_TYPES",
    "SCHEME",
    "FileBytes",
    "FileInput",
    "mentions_files",
    "no_file_inputs",
    "replace_part",
    "stored_id",
    "url_id",
]

SCHEME = "relaygate-file://"
# bytes any reference contains; "relaygate-file:" without the slashes, which a JSON
# writer may escape as "\/"
_MARKERS = (b"file_id", b"relaygate-file:")
_ID = re.compile(r"[A-Za-z0-9_-]{21}")
# what the upstreams take inline: images as images, PDFs and plain text as documents
IMAGE_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})
DOCUMENT_TYPES = frozenset({"application/pdf", "text/plain", "text/markdown"})


def mentions_files(body: bytes) -> bool:
    """Whether the body may name a stored file (false positives are fine: the parts are
    then read to be sure)."""
    return any(marker in body for marker in _MARKERS)


@dataclass(frozen=True, slots=True)
class FileBytes:
    """One stored file as a part is filled with it."""

    uid: str
    name: str
    media_type: str  # without parameters: "image/png", "application/pdf", "text/plain"
    data: bytes

    @property
    def is_image(self) -> bool:
        return self.media_type in IMAGE_TYPES

    @property
    def is_text(self) -> bool:
        return self.media_type.startswith("text/")

    def base64(self) -> str:
        return base64.b64encode(self.data).decode("ascii")

    def data_url(self) -> str:
        return f"data:{self.media_type};base64,{self.base64()}"

    def text(self, param: str) -> str:
        """A text file's content; one that is not UTF-8 is the caller's 400."""
        try:
            return self.data.decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidRequest(
                f"File {self.uid!r} is not UTF-8 text.", param=param, code="invalid_file"
            ) from None

    def must_be_image(self, param: str) -> None:
        if not self.is_image:
            raise InvalidRequest(
                f"File {self.uid!r} is {self.media_type}, not an image (PNG, JPEG, GIF or "
                "WebP); send it as a file part instead.",
                param=param,
                code="invalid_file",
            )


@dataclass(frozen=True, slots=True)
class FileInput:
    """A part naming stored file ``uid``; ``fill`` rewrites the part, in place, into the
    inline form (raising the caller's 400 when the file cannot go there)."""

    uid: str
    param: str  # where the id is, as an error names it ("messages[0].content[1].file.file_id")
    fill: Callable[[FileBytes], None]


def no_file_inputs(endpoint: str, payload: dict[str, Any]) -> list[FileInput]:
    """For a dialect or endpoint whose calls take no files."""
    return []


def url_id(value: Any) -> str | None:
    """The id a URL slot names: ``relaygate-file://<id>`` only (any other URL is the
    upstream's to fetch)."""
    if isinstance(value, str) and value.startswith(SCHEME):
        return value[len(SCHEME) :]
    return None


def stored_id(value: Any) -> str | None:
    """The id an id slot names when it is one of ours (see the module docstring)."""
    if not isinstance(value, str):
        return None
    if value.startswith(SCHEME):
        return value[len(SCHEME) :]
    return value if _ID.fullmatch(value) else None


def replace_part(part: dict[str, Any], new: dict[str, Any]) -> None:
    """Make ``part`` (an object inside the payload) into ``new``, where it stands."""
    part.clear()
    part.update(new)
