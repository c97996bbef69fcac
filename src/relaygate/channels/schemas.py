"""Wire models of the operator's channel routes."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from relaygate.channels.options import (
    ChannelOptions,
    ChannelType,
    join_keys,
    split_keys,
    with_tool_defaults,
)
from relaygate.core.bounds import Int32, PositiveCount
from relaygate.core.patch import omittable

__all__ = ["MASK", "ChannelCreate", "ChannelOut", "ChannelPatch", "mask_proxy_url"]

MASK = "***"  # what the operator API shows in place of a secret


def mask_proxy_url(url: str) -> str:
    """``http://user:secret@host:port`` → ``http://user:***@host:port`` (a URL without
    a password is shown as it is)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    credentials, _, host = parts.netloc.rpartition("@")
    user = credentials.partition(":")[0]
    return parts._replace(netloc=f"{user}:{MASK}@{host}").geturl()


def _no_masked_secret(options: ChannelOptions | None) -> None:
    """Refuse a proxy URL whose password is the mask: options are stored whole, so a
    channel read and sent back as it was shown would lose the real password."""
    if options is not None and options.proxy_url and urlsplit(options.proxy_url).password == MASK:
        raise ValueError(
            f"options.proxy_url carries the masked password '{MASK}' the API shows: send"
            " the real password (options are replaced whole)"
        )


def _as_mapping(value: Any) -> Any:
    if isinstance(value, list):
        return {str(name): str(name) for name in value}
    return value


# What _needs_base_url checks, in the schema: an echo channel, a search or Black Forest
# Labs channel (its upstream's public URL by default), an Azure Speech channel naming its
# region, or an http(s) base_url.
_BASE_URL_RULE: dict[str, Any] = {
    "anyOf": [
        {"required": ["type"], "properties": {"type": {"const": "echo"}}},
        {
            "required": ["type"],
            "properties": {"type": {"enum": ["google_search", "serper", "bfl"]}},
        },
        {
            "required": ["type", "options"],
            "properties": {
                "type": {"const": "azure_speech"},
                "options": {"required": ["region"], "properties": {"region": {"minLength": 1}}},
            },
        },
        {"required": ["base_url"], "properties": {"base_url": {"pattern": "^https?://"}}},
    ]
}


class ChannelCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra=_BASE_URL_RULE)

    name: str = Field(min_length=1, max_length=100)
    type: ChannelType = "openai"
    base_url: str = Field(default="", max_length=500)
    api_key: str = ""  # several keys, used in rotation: a list, or one per line
    models: dict[str, str] = Field(default_factory=dict)
    priority: Int32 = 0
    weight: PositiveCount = 1
    enabled: bool = True
    headers: dict[str, str] = Field(default_factory=dict)
    options: ChannelOptions = Field(default_factory=ChannelOptions)

    _models = field_validator("models", mode="before")(_as_mapping)
    _keys = field_validator("api_key", mode="before")(join_keys)

    @model_validator(mode="after")
    def _needs_base_url(self) -> ChannelCreate:
        self.base_url, self.models = with_tool_defaults(
            self.type, self.base_url, self.models, self.options.region
        )
        if self.type != "echo" and not self.base_url.startswith(("http://", "https://")):
            raise ValueError("base_url must be an http(s) URL for this channel type")
        _no_masked_secret(self.options)
        return self


class ChannelPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = omittable(min_length=1, max_length=100)
    base_url: str = omittable(max_length=500)
    api_key: str = omittable()
    models: dict[str, str] = omittable()
    priority: Int32 = omittable()
    weight: PositiveCount = omittable()
    enabled: bool = omittable()
    headers: dict[str, str] = omittable()
    options: ChannelOptions = omittable()

    _models = field_validator("models", mode="before")(_as_mapping)
    _keys = field_validator("api_key", mode="before")(join_keys)

    @model_validator(mode="after")
    def _options_are_real(self) -> ChannelPatch:
        _no_masked_secret(self.options)
        return self


class ChannelOut(BaseModel):
    """A channel as the operator sees it: the upstream keys are never returned, and the
    proxy's password is masked (``http://user:***@host:port``)."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    type: str
    base_url: str
    models: dict[str, str]
    priority: int
    weight: int
    enabled: bool
    headers: dict[str, str]
    options: ChannelOptions
    source: str
    has_api_key: bool
    key_count: int  # how many upstream keys the channel rotates through
    created_at: datetime
    updated_at: datetime

    @model_validator(mode="before")
    @classmethod
    def _redact(cls, value: Any) -> Any:
        if hasattr(value, "api_key"):
            fields = {
                name: getattr(value, name)
                for name in cls.model_fields
                if name not in ("has_api_key", "key_count")
            }
            keys = split_keys(value.api_key or "")
            fields["options"] = _masked_options(fields.get("options"))
            return {**fields, "has_api_key": bool(keys), "key_count": len(keys)}
        return value


def _masked_options(stored: Any) -> Any:
    """The stored options (a dict) with the proxy's password masked."""
    if isinstance(stored, dict) and isinstance(stored.get("proxy_url"), str):
        return {**stored, "proxy_url": mask_proxy_url(stored["proxy_url"])}
    return stored
