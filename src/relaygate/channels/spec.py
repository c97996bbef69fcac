"""The relay's immutable view of a channel (no ORM, so pure code can use it)."""

from __future__ import annotations

from dataclasses import dataclass, field

from relaygate.channels.options import TOOL_CHANNEL_TYPES as _TOOL_TYPES

__all__ = ["ChannelSpec", "ModelOverride"]


@dataclass(frozen=True, slots=True)
class ModelOverride:
    """A channel's word on what the models matching ``pattern`` accept in a translated
    Chat Completions body (ChannelOptions.model_capabilities); None: as Relaygate knows
    the model's family."""

    pattern: str
    reasoning: bool | None = None
    reasoning_effort: bool | None = None
    sampling: bool | None = None
    stop: bool | None = None
    max_tokens_field: str | None = None
    max_output_tokens: int | None = None
    system_role: str | None = None
    mid_conversation_system: bool | None = None
    reasoning_content: bool | None = None
    parallel_tool_calls: bool | None = None
    tool_choice: bool | None = None


@dataclass(frozen=True, slots=True)
class ChannelSpec:
    id: int
    name: str
    type: str
    base_url: str
    api_key: str
    models: dict[str, str]  # public name -> upstream name
    priority: int = 0
    weight: int = 1
    enabled: bool = True
    headers: dict[str, str] = field(default_factory=dict)
    created: int = 0  # epoch seconds, shown as the model's ``created``
    responses_api: bool = False  # see ChannelOptions
    max_output_tokens: int | None = None
    # Every key of the channel, used in rotation (``api_key`` is the first of them).
    keys: tuple[str, ...] = ()
    api_version: str = ""  # azure_openai: the ``api-version`` query parameter
    # Seconds; None: the gateway-wide default (settings ``connect_timeout``/``read_timeout``).
    connect_timeout: float | None = None
    first_byte_timeout: float | None = None  # until the upstream's response headers
    idle_timeout: float | None = None  # the longest silence between two body chunks
    proxy_url: str = ""  # http://[user:pass@]host:port, for upstreams reached through a proxy
    model_overrides: tuple[ModelOverride, ...] = ()  # see ChannelOptions.model_capabilities
    cx: str = ""  # google_search: the search engine id calls use when the caller names none
    region: str = ""  # azure_speech: the Speech resource's region

    @property
    def tool(self) -> bool:
        """A tool channel (search, speech: docs/tools.md), never called by a dialect route."""
        return self.type in _TOOL_TYPES
