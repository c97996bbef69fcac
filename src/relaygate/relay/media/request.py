"""What a media call asks for: its body read in whichever form it came, checked only as
far as the gateway relies on it (model, the units it is held and billed by, streaming,
the webhook), with everything else passed upstream as sent.

Image generation and speech take JSON or ``application/x-www-form-urlencoded`` bodies
(platform-api.md §1.4: form values are strings, so the numbers and booleans OpenAI
expects are coerced, and a value that is not one is a 400 naming its ``param``); they go
upstream as JSON. Image edits, transcriptions and translations are ``multipart/form-data``
uploads and go upstream as multipart again (:meth:`MediaCall.encode`).
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from typing import Any

import orjson

from relaygate.core.errors import InvalidRequest
from relaygate.relay.media import (
    IMAGE_EDITS,
    IMAGES,
    MEDIA_ENDPOINTS,
    SPEECH,
    TRANSCRIPTIONS,
    TRANSLATIONS,
)
from relaygate.relay.media.audio import AudioLength
from relaygate.relay.media.forms import (
    Upload,
    encode_multipart,
    media_type,
    parse_multipart,
    parse_urlencoded,
)
from relaygate.relay.media.webhook import WEBHOOK_FIELD, check_webhook_url

__all__ = [
    "IMAGE_EDITS",
    "IMAGES",
    "MEDIA_ENDPOINTS",
    "SPEECH",
    "TRANSCRIPTIONS",
    "TRANSLATIONS",
    "UPLOADS",
    "MediaCall",
    "parse_call",
    "rewritten",
]

UPLOADS = frozenset({IMAGE_EDITS, TRANSCRIPTIONS, TRANSLATIONS})
_WEBHOOKS = frozenset({IMAGES, IMAGE_EDITS})  # the platform's extension (§3.6, §3.7)
# OpenAI's defaults when ``model`` is left out (the published spec's)
_DEFAULT_MODELS = {IMAGES: "dall-e-2", IMAGE_EDITS: "gpt-image-1.5"}
_MAX_SPEECH_INPUT = 4096
_MAX_IMAGES = 10

# form values (strings) -> the JSON types of OpenAI's schemas
_INTS = frozenset({"n", "output_compression", "partial_images"})
_BOOLS = frozenset({"stream"})
_NUMBERS = frozenset({"speed"})


@dataclass(slots=True)
class MediaCall:
    """A media call, read and checked.

    ``payload`` is the body the channel gets (its ``model`` is replaced by the channel's
    name for it): the JSON object, or an upload's text fields (a repeated field, such as
    ``timestamp_granularities[]``, as a list).
    """

    endpoint: str
    payload: dict[str, Any]
    body: bytes  # the JSON to send upstream (an upload's is written by ``encode``)
    stream: bool = False
    webhook: str | None = None
    files: list[Upload] = field(default_factory=list)
    measured: AudioLength | None = None  # the upload's audio, once read (units.py)

    @property
    def upload(self) -> bool:
        return self.endpoint in UPLOADS

    @property
    def images(self) -> int:
        """The images asked for (``n``, 1 when absent)."""
        value = self.payload.get("n", 1)
        return int(value) if value not in (None, "") else 1

    def file(self, *names: str) -> Upload | None:
        return next((f for f in self.files if f.field in names), None)

    def encode(self, payload: dict[str, Any]) -> tuple[bytes, str]:
        """The upload for a channel: the fields of ``payload`` (model mapped), the files
        as they came, under a fresh boundary."""
        fields: list[tuple[str, str]] = []
        for name, value in payload.items():
            for item in value if isinstance(value, list) else [value]:
                fields.append((name, item if isinstance(item, str) else _form_text(item)))
        return encode_multipart(fields, self.files)


def _form_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else orjson.dumps(value).decode()


def _grouped(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """Form fields as an object; a name given more than once becomes a list (built in
    one pass: appending to the list held, never copying it)."""
    grouped: dict[str, list[str]] = {}
    for name, value in pairs:
        grouped.setdefault(name, []).append(value)
    return {name: values[0] if len(values) == 1 else values for name, values in grouped.items()}


# Strict ASCII forms: ``int()`` and ``float()`` also take ``1_0`` (read as 10), ``٢``
# (an Arabic-Indic 2), ``1e3``, ``nan`` and surrounding whitespace; a caller's ``n`` must
# mean to the gateway what it means to everyone else. At most 18 digits a part, which
# ``int()`` reads in constant time (it refuses strings of over 4,300 digits anyway).
_INTEGER = re.compile(r"[0-9]{1,18}")
_NUMBER = re.compile(r"[0-9]{1,18}(\.[0-9]{0,18})?|\.[0-9]{1,18}")


def _coerce(name: str, value: Any) -> Any:
    """A form string as the JSON type OpenAI expects for ``name`` (a 400 naming it when
    it is not one, in plain ASCII digits)."""
    if not isinstance(value, str):
        raise InvalidRequest(f"'{name}' must be given once.", param=name)
    if name in _INTS:
        if not _INTEGER.fullmatch(value):
            raise InvalidRequest(f"'{name}' must be an integer.", param=name)
        return int(value)
    if name in _NUMBERS:
        if not _NUMBER.fullmatch(value):
            raise InvalidRequest(f"'{name}' must be a number.", param=name)
        return float(value) if "." in value else int(value)
    if value.lower() in ("true", "1"):
        return True
    if value.lower() in ("false", "0"):
        return False
    raise InvalidRequest(f"'{name}' must be true or false.", param=name)


def _from_form(body: bytes) -> dict[str, Any]:
    payload = _grouped(parse_urlencoded(body))
    for name in _INTS | _NUMBERS | _BOOLS:
        if name in payload:
            payload[name] = _coerce(name, payload[name])
    return payload


def _from_json(body: bytes) -> dict[str, Any]:
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise InvalidRequest(
            "We could not parse the JSON body of your request. The body must be valid JSON."
        ) from exc
    if not isinstance(payload, dict):
        raise InvalidRequest("The request body must be a JSON object.")
    return payload


def _check_types(payload: dict[str, Any], upload: bool) -> None:
    """The fields the gateway itself reads must have OpenAI's types (an upload's are
    strings, checked as their values)."""
    for name in _INTS | _NUMBERS | _BOOLS:
        value = payload.get(name)
        if value is None:
            continue
        if upload:
            _coerce(name, value)
        elif name in _BOOLS and not isinstance(value, bool):
            raise InvalidRequest(f"'{name}' must be a boolean.", param=name)
        elif name in _INTS and (isinstance(value, bool) or not isinstance(value, int)):
            raise InvalidRequest(f"'{name}' must be an integer.", param=name)
        elif name in _NUMBERS and (isinstance(value, bool) or not isinstance(value, int | float)):
            raise InvalidRequest(f"'{name}' must be a number.", param=name)


def _required_text(payload: dict[str, Any], name: str) -> str:
    value = payload.get(name)
    if value is None or value == "":
        raise InvalidRequest(f"Missing required parameter: '{name}'.", param=name)
    if not isinstance(value, str):
        raise InvalidRequest(f"Invalid type for '{name}': expected a string.", param=name)
    return value


def _check_fields(call: MediaCall) -> None:
    payload, endpoint = call.payload, call.endpoint
    _required_text(payload, "model")
    if endpoint in (IMAGES, IMAGE_EDITS):
        _required_text(payload, "prompt")
        if not 1 <= call.images <= _MAX_IMAGES:
            raise InvalidRequest(f"'n' must be between 1 and {_MAX_IMAGES}.", param="n")
    if endpoint == IMAGE_EDITS and call.file("image", "image[]") is None:
        raise InvalidRequest("Missing required parameter: 'image'.", param="image")
    if endpoint == SPEECH:
        text = _required_text(payload, "input")
        if len(text) > _MAX_SPEECH_INPUT:
            raise InvalidRequest(
                f"'input' is longer than {_MAX_SPEECH_INPUT} characters.", param="input"
            )
        if payload.get("voice") in (None, ""):
            raise InvalidRequest("Missing required parameter: 'voice'.", param="voice")
    if endpoint in (TRANSCRIPTIONS, TRANSLATIONS) and call.file("file") is None:
        raise InvalidRequest("Missing required parameter: 'file'.", param="file")


def _read(endpoint: str, body: bytes, content_type: str) -> tuple[dict[str, Any], list[Upload]]:
    kind = media_type(content_type)
    if endpoint in UPLOADS:
        if kind != "multipart/form-data":
            raise InvalidRequest(f"'{endpoint}' takes a multipart/form-data body.")
        form = parse_multipart(body, content_type)
        return _grouped(form.fields), form.files
    if kind == "application/x-www-form-urlencoded":
        return _from_form(body), []
    return _from_json(body), []


def parse_call(endpoint: str, body: bytes, content_type: str) -> MediaCall:
    """Read and check a media call's body (a 400 in OpenAI's format when it is wrong)."""
    payload, files = _read(endpoint, body, content_type)
    changed = media_type(content_type) != "application/json"
    webhook = None
    if endpoint in _WEBHOOKS and WEBHOOK_FIELD in payload:
        webhook, changed = check_webhook_url(payload.pop(WEBHOOK_FIELD)), True
    if endpoint in _DEFAULT_MODELS and payload.get("model") in (None, ""):
        payload["model"], changed = _DEFAULT_MODELS[endpoint], True
    upload = endpoint in UPLOADS
    _check_types(payload, upload)
    call = MediaCall(endpoint, payload, body, _streams(payload), webhook, files)
    _check_fields(call)
    if not upload and changed:
        call.body = orjson.dumps(payload)
    return call


def rewritten(call: MediaCall, payload: dict[str, Any], body: bytes) -> MediaCall:
    """The call as the user's override rules left it (``payload`` and its JSON ``body``),
    checked again: a rule may remove or retype a field the gateway reads (``prompt``,
    ``n``), and the hold and the bill must count what the upstream is asked for.

    An upload's fields stay form text (docs/rules.md "Media routes"): a value a rule
    wrote is sent as its text, a number or boolean as JSON writes it (``2``, ``true``).
    """
    upload = call.upload
    if upload:
        payload = {name: _as_form(value) for name, value in payload.items()}
    _check_types(payload, upload)
    changed = dataclasses.replace(
        call, payload=payload, body=call.body if upload else body, stream=_streams(payload)
    )
    _check_fields(changed)
    return changed


def _as_form(value: Any) -> Any:
    if isinstance(value, list):
        return [item if isinstance(item, str) else _form_text(item) for item in value]
    return value if isinstance(value, str) else _form_text(value)


def _streams(payload: dict[str, Any]) -> bool:
    stream = payload.get("stream", False)
    return bool(_coerce("stream", stream) if isinstance(stream, str) else stream)
