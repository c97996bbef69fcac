"""Per-channel options: what the relay should know about an upstream beyond its dialect.

Kept in one small typed model so the operator API, the TOML file and the relay's
:class:`~relaygate.channels.spec.ChannelSpec` agree on names and limits.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, StrictBool, field_validator

from relaygate.core.bounds import PositiveCount

__all__ = [
    "TOOL_CHANNEL_TYPES",
    "ChannelOptions",
    "ChannelType",
    "ModelCapabilityOptions",
    "ToolChannelDefaults",
    "azure_speech_url",
    "join_keys",
    "split_keys",
    "tool_defaults",
    "with_tool_defaults",
]

ChannelType = Literal[
    "openai",
    "azure_openai",
    "anthropic",
    "echo",
    "google_search",
    "serper",
    "azure_speech",
    "bfl",
    "nd",
]


@dataclass(frozen=True, slots=True)
class ToolChannelDefaults:
    """What a tool channel (docs/tools.md) is given when the operator leaves it out: the
    upstream's public base URL (none for Azure Speech, whose URL names the region, nor
    for ND's task API, which is the operator's own) and the tools it serves, each with
    the upstream's name for it (Black Forest Labs names its models its own way)."""

    base_url: str
    models: tuple[tuple[str, str], ...]


def _serves(*tools: str) -> tuple[tuple[str, str], ...]:
    return tuple((tool, tool) for tool in tools)


# Channel types that serve a tool (search, speech, images) rather than a model's
# dialect: the relay's dialect routes never call them, and the tool routes call nothing
# else. Black Forest Labs' own API serves no Schnell: a compatible host that does is
# given ``flux-schnell`` in its channel's models.
_TOOL_DEFAULTS: dict[str, ToolChannelDefaults] = {
    "google_search": ToolChannelDefaults("https://www.googleapis.com", _serves("google-search")),
    "serper": ToolChannelDefaults("https://google.serper.dev", _serves("serper-search")),
    "azure_speech": ToolChannelDefaults("", _serves("azure-tts")),
    "bfl": ToolChannelDefaults(
        "https://api.bfl.ai",
        (
            ("flux-dev", "flux-dev"),
            ("flux-pro", "flux-pro"),
            ("flux-1.1-pro", "flux-pro-1.1"),
            ("flux-1.1-pro-ultra", "flux-pro-1.1-ultra"),
        ),
    ),
    "nd": ToolChannelDefaults("", _serves("nd")),
}
TOOL_CHANNEL_TYPES = frozenset(_TOOL_DEFAULTS)


def tool_defaults(channel_type: str) -> ToolChannelDefaults | None:
    return _TOOL_DEFAULTS.get(channel_type)


def azure_speech_url(region: str) -> str:
    """The Speech service's text-to-speech host of an Azure region (``eastus``)."""
    return f"https://{region}.tts.speech.microsoft.com"


def with_tool_defaults(
    channel_type: str, base_url: str, models: dict[str, str], region: str
) -> tuple[str, dict[str, str]]:
    """A tool channel's base URL and models, the defaults filling what was left empty
    (the API and the TOML file agree on them); any other channel's as given."""
    defaults = _TOOL_DEFAULTS.get(channel_type)
    if defaults is None:
        return base_url, models
    if not base_url:
        base_url = defaults.base_url or (azure_speech_url(region) if region else "")
    return base_url, models or dict(defaults.models)


_KEY_SEPARATORS = re.compile(r"[\n,]")


def join_keys(value: Any) -> Any:
    """Several upstream keys may be given as a list; they are stored one per line."""
    if isinstance(value, list):
        return "\n".join(str(key).strip() for key in value if str(key).strip())
    return value


def split_keys(stored: str) -> tuple[str, ...]:
    """The channel's keys, in rotation order (one per line or comma-separated)."""
    return tuple(key.strip() for key in _KEY_SEPARATORS.split(stored) if key.strip())


_PROXY_PATTERN = (
    "^(http://([A-Za-z0-9._~-]{1,64}:[A-Za-z0-9._~-]{0,64}@)?"
    "[A-Za-z0-9-]{1,63}(\\.[A-Za-z0-9-]{1,63}){0,4}:[1-9][0-9]{0,3}/?)?$"
)


# at most this many model patterns per channel, each at most this long
MAX_MODEL_PATTERNS, MAX_PATTERN_LENGTH = 100, 200


class ModelCapabilityOptions(BaseModel):
    """What one model (or a glob of them) accepts in a translated Chat Completions body,
    overriding what Relaygate knows of its family (docs/channels.md, "Model
    capabilities"). Unset fields keep the known value."""

    model_config = ConfigDict(extra="forbid")

    # Shorthand: a reasoning model gets reasoning_effort and no temperature/top_p; a
    # model that does not reason never gets reasoning_effort.
    reasoning: StrictBool | None = None
    reasoning_effort: StrictBool | None = None  # send reasoning_effort when thinking is asked for
    sampling: StrictBool | None = None  # send temperature and top_p
    stop: StrictBool | None = None  # false: a call with stop sequences is refused (400)
    max_tokens_field: Literal["max_tokens", "max_completion_tokens"] | None = None
    max_output_tokens: PositiveCount | None = None  # a larger output limit is lowered to it
    system_role: Literal["system", "developer", "user"] | None = None
    # False: system messages the caller put mid-conversation join the leading one
    mid_conversation_system: StrictBool | None = None
    # send the model's earlier reasoning back as its assistant messages' reasoning_content
    reasoning_content: StrictBool | None = None
    parallel_tool_calls: StrictBool | None = None  # send parallel_tool_calls (with tools)
    tool_choice: StrictBool | None = None  # send tool_choice "auto" (a forced one always)


class ChannelOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # The upstream serves POST /v1/responses itself (OpenAI, recent vLLM): Responses
    # callers are relayed to it instead of being translated to Chat Completions.
    responses_api: bool = False
    # The most output tokens the upstream's models accept. A translated call asking for
    # more is capped (Claude Code asks for 32,000-128,000, which e.g. gpt-4o and DeepSeek
    # refuse); a same-dialect call is relayed as the caller sent it.
    max_output_tokens: PositiveCount | None = None
    # Per model (an upstream or public model name, or a glob such as "o3*"): what it
    # accepts in a translated Chat Completions body. The most specific pattern wins.
    model_capabilities: dict[str, ModelCapabilityOptions] = Field(
        default_factory=dict,
        max_length=MAX_MODEL_PATTERNS,
        # what _patterns checks, in the schema: not blank, at most MAX_PATTERN_LENGTH
        json_schema_extra={
            "propertyNames": {"minLength": 1, "maxLength": MAX_PATTERN_LENGTH, "pattern": "\\S"}
        },
    )
    # azure_openai channels: the api-version every call carries (Azure requires one).
    api_version: str = Field(default="", max_length=40)
    # Timeouts in seconds, overriding the gateway-wide ones for this channel: opening a
    # connection, waiting for the response headers, and the longest silence between two
    # chunks of the body (a stream that stalls longer is cut and reported as failed).
    connect_timeout: float | None = Field(default=None, gt=0, le=600)
    first_byte_timeout: float | None = Field(default=None, gt=0, le=3600)
    idle_timeout: float | None = Field(default=None, gt=0, le=3600)
    # google_search channels: the Programmable Search Engine id (``cx``) calls use when
    # the caller names none
    cx: str = Field(default="", max_length=200, pattern="^[A-Za-z0-9:_-]*$")
    # azure_speech channels: the Speech resource's region (``eastus``); with no base_url,
    # the channel calls https://{region}.tts.speech.microsoft.com
    region: str = Field(default="", max_length=64, pattern="^[a-z0-9-]*$")
    # An HTTP proxy the channel's calls go through (CONNECT for https upstreams).
    proxy_url: str = Field(
        default="",
        max_length=500,
        # what _proxy_url accepts, narrowly: empty, or http://[user:password@]host:port[/]
        json_schema_extra={"pattern": _PROXY_PATTERN},
    )

    @field_validator("model_capabilities")
    @classmethod
    def _patterns(
        cls, value: dict[str, ModelCapabilityOptions]
    ) -> dict[str, ModelCapabilityOptions]:
        for pattern in value:
            if not pattern.strip() or len(pattern) > MAX_PATTERN_LENGTH:
                raise ValueError(
                    f"model_capabilities: each key is a model name or glob of 1 to"
                    f" {MAX_PATTERN_LENGTH} characters"
                )
        return value

    @field_validator("proxy_url")
    @classmethod
    def _proxy_url(cls, value: str) -> str:
        """Refuse at configuration time a proxy the relay could not use: http://, a host, a
        port, nothing after them (the transport parses the same form)."""
        value = value.strip()
        if not value:
            return ""
        form = "must be http://[user:password@]host:port"
        try:
            parts = urlsplit(value)
            port = parts.port
        except ValueError:  # a port out of range, a broken [IPv6] literal
            raise ValueError(form) from None
        if parts.scheme != "http" or not parts.hostname or port is None:
            raise ValueError(form)
        if parts.path not in ("", "/") or parts.query or parts.fragment:
            raise ValueError(form + ", without a path")
        return value
