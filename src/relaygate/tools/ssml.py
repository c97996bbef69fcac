"""SSML for Azure text-to-speech: read a caller's document safely, or write one from fields.

A caller's SSML is billed for its text only: the characters of the document's text
content (what is spoken), markup excluded, with each run of whitespace counted as one
character and none at either end (indentation between tags is layout, not speech).
The document is parsed by the standard library's ``xml.etree`` only after a DTD or an
entity declaration has been refused outright: they are how XML bombs (billion laughs)
and external entities get in, and SSML needs neither.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET  # noqa: N817 - the standard library's own short name
from dataclasses import dataclass
from xml.sax.saxutils import escape, quoteattr

from relaygate.core.errors import InvalidRequest

__all__ = ["MAX_SSML_BYTES", "Speech", "read_ssml", "write_ssml"]

MAX_SSML_BYTES = 64 * 1024  # Azure's own limit on a synthesis request's SSML
_DECLARATIONS = re.compile(r"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)
_NAMESPACE = "http://www.w3.org/2001/10/synthesis"


@dataclass(frozen=True, slots=True)
class Speech:
    """A synthesis request: the SSML to send and the characters it is billed for."""

    ssml: bytes
    characters: int


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]


def read_ssml(body: bytes) -> Speech:
    """A caller's SSML document, checked (400s name what is wrong) and counted."""
    if len(body) > MAX_SSML_BYTES:
        raise InvalidRequest(f"The SSML may be at most {MAX_SSML_BYTES} bytes.", param="ssml")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidRequest("The SSML must be UTF-8.", param="ssml") from exc
    if _DECLARATIONS.search(text):
        raise InvalidRequest("The SSML must not carry a DTD or entity declarations.", param="ssml")
    try:
        root = ET.fromstring(text)
    except ET.ParseError as exc:
        raise InvalidRequest(f"The SSML is not well-formed XML: {exc}.", param="ssml") from exc
    if _local(root.tag) != "speak":
        raise InvalidRequest("The SSML's root element must be <speak>.", param="ssml")
    if not any(_local(e.tag) == "voice" and e.get("name") for e in root.iter()):
        raise InvalidRequest('The SSML needs a <voice name="..."> element.', param="ssml")
    characters = len(" ".join("".join(root.itertext()).split()))
    if not characters:
        raise InvalidRequest("The SSML has no text to speak.", param="ssml")
    return Speech(body, characters)


def write_ssml(text: str, voice: str, rate: str | None, pitch: str | None) -> Speech:
    """The SSML for form fields; billed for ``text`` as sent, every character."""
    locale = "-".join(voice.split("-")[:2])
    spoken = escape(text)
    prosody = "".join(
        f" {name}={quoteattr(value)}" for name, value in (("rate", rate), ("pitch", pitch)) if value
    )
    if prosody:
        spoken = f"<prosody{prosody}>{spoken}</prosody>"
    document = (
        f'<speak version="1.0" xmlns="{_NAMESPACE}" xml:lang={quoteattr(locale)}>'
        f"<voice name={quoteattr(voice)}>{spoken}</voice></speak>"
    )
    return Speech(document.encode(), len(text))
