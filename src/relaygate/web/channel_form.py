"""The channel form of the operator console: its fields as text, and the posted form read
back into the channel API's own models (channels/schemas.py), so the console and
``/api/v1/operator/channels`` validate alike.

Secrets are write-only: the keys and the header values are never put back into the form.
An empty "replace keys" (or "replace headers") box keeps what the channel has; the options
box shows the options with the proxy's password masked, and is applied only when the
operator changed it (sending the mask back is refused by the schema).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, get_args

import orjson
from pydantic import ValidationError

from relaygate.channels.models import Channel
from relaygate.channels.options import ChannelType, split_keys
from relaygate.channels.schemas import ChannelCreate, ChannelOut, ChannelPatch
from relaygate.web.forms import FormErrors, schema_errors

__all__ = [
    "ChannelForm",
    "form_of",
    "key_hints",
    "read_create",
    "read_patch",
]

NAMED = ("base_url", "options", "api_key")  # fields a whole-model check may be about
CHANNEL_TYPES: tuple[str, ...] = get_args(ChannelType)  # the models' types, then the tools'


@dataclass(slots=True)
class ChannelForm:
    """What the form's inputs show (never a key or a header value)."""

    name: str = ""
    type: str = "openai"
    base_url: str = ""
    models: str = ""  # one per line: ``public`` or ``public = upstream``
    priority: str = "0"
    weight: str = "1"
    enabled: bool = True
    header_names: tuple[str, ...] = ()
    options: str = "{}"


def key_hints(stored: str | None) -> tuple[str, ...]:
    """Each key as a hint the operator recognises, never the key: its first three and
    last four characters (only a run of dots for a short key)."""
    return tuple(
        f"{key[:3]}…{key[-4:]}" if len(key) >= 16 else "…" for key in split_keys(stored or "")
    )


def _models_text(models: dict[str, str]) -> str:
    return "\n".join(
        public if upstream in ("", public) else f"{public} = {upstream}"
        for public, upstream in models.items()
    )


def _options_text(options: Any) -> str:
    dumped = options.model_dump(exclude_defaults=True) if hasattr(options, "model_dump") else {}
    return orjson.dumps(dumped, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS).decode()


def form_of(row: Channel) -> ChannelForm:
    out = ChannelOut.model_validate(row)
    return ChannelForm(
        name=out.name,
        type=out.type,
        base_url=out.base_url,
        models=_models_text(out.models),
        priority=str(out.priority),
        weight=str(out.weight),
        enabled=out.enabled,
        header_names=tuple(sorted(out.headers)),
        options=_options_text(out.options),
    )


def _models(text: str, errors: dict[str, str]) -> dict[str, str]:
    models: dict[str, str] = {}
    for line in text.splitlines():
        public, sep, upstream = (part.strip() for part in line.partition("="))
        if not public and not upstream:
            continue
        if not public or (sep and not upstream):
            errors["models"] = f"'{line.strip()}': write 'name' or 'public name = upstream name'"
            continue
        models[public] = upstream or public
    return models


def _headers(text: str, errors: dict[str, str]) -> dict[str, str]:
    headers: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip():
            continue
        name, sep, value = line.partition(":")
        if not sep or not name.strip():
            errors["headers"] = "one header per line: 'Name: value'"
            continue
        headers[name.strip()] = value.strip()
    return headers


def _options(text: str, errors: dict[str, str]) -> Any:
    try:
        value = orjson.loads(text or "{}")
    except orjson.JSONDecodeError:
        errors["options"] = "options must be a JSON object"
        return {}
    if not isinstance(value, dict):
        errors["options"] = "options must be a JSON object"
        return {}
    return value


def _fields(form: dict[str, Any], errors: dict[str, str]) -> dict[str, Any]:
    """The posted form as the API's JSON body (before the schema checks it)."""
    text = {name: str(form.get(name, "")) for name in form}
    fields: dict[str, Any] = {
        "name": text.get("name", "").strip(),
        "base_url": text.get("base_url", "").strip(),
        "models": _models(text.get("models", ""), errors),
        "priority": text.get("priority", "0").strip() or "0",
        "weight": text.get("weight", "1").strip() or "1",
        "enabled": text.get("enabled") == "on",
    }
    if text.get("api_key", "").strip():
        fields["api_key"] = text["api_key"]
    if text.get("headers", "").strip():
        fields["headers"] = _headers(text["headers"], errors)
    return fields


def read_create(form: dict[str, Any]) -> dict[str, Any]:
    """The new channel's fields, checked by ``ChannelCreate``; raises FormErrors."""
    errors: dict[str, str] = {}
    fields = _fields(form, errors)
    fields["type"] = str(form.get("type", ""))
    fields["options"] = _options(str(form.get("options", "")), errors)
    try:
        checked = ChannelCreate.model_validate(fields)
    except ValidationError as err:
        raise FormErrors({**schema_errors(err, NAMED), **errors}) from None
    if errors:
        raise FormErrors(errors)
    return checked.model_dump()


def read_patch(form: dict[str, Any], row: Channel) -> dict[str, Any]:
    """The changes to ``row``, checked by ``ChannelPatch`` (the type is fixed once the
    channel exists, as in the API); raises FormErrors."""
    errors: dict[str, str] = {}
    fields = _fields(form, errors)
    options = str(form.get("options", ""))
    if options.strip() != form_of(row).options.strip():
        fields["options"] = _options(options, errors)
    try:
        checked = ChannelPatch.model_validate(fields)
    except ValidationError as err:
        raise FormErrors({**schema_errors(err, NAMED), **errors}) from None
    if row.type != "echo" and not checked.base_url.startswith(("http://", "https://")):
        errors["base_url"] = "base_url must be an http(s) URL for this channel type"
    if errors:
        raise FormErrors(errors)
    return checked.model_dump(exclude_unset=True)
