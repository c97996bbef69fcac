"""The canonical chat request and response that every dialect converts to and from.

A translation is always *dialect → canonical → dialect*, so each dialect needs one parser
and one renderer per direction instead of one converter per pair of dialects. The shapes
hold what has a meaning in more than one dialect (a tool call, a thinking block, a stop
reason); anything only one dialect understands (``logprobs``, Anthropic server tools)
stays out, and its renderer documents what it drops (docs/compatibility.md). Prompt-cache
breakpoints (:class:`CacheMark`) are the exception: OpenAI-format clients send Anthropic's
``cache_control`` on their content parts and tools (as OpenRouter documents), and a
caller whose marks were dropped pays full price for every repeated prompt.

Content is a list of typed blocks, Anthropic-style, because that is the richer of the two
shapes: an OpenAI ``role:"tool"`` message becomes a user message with one
:class:`ToolResult` block, and the OpenAI renderer splits such messages out again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, get_args

from relaygate.relay.canonical import STOP_REASONS, StopReason, Usage

__all__ = [
    "EFFORTS",
    "STOP_REASONS",
    "Base64Source",
    "Block",
    "CacheMark",
    "Document",
    "Effort",
    "Image",
    "Message",
    "Reasoning",
    "RedactedThinking",
    "Request",
    "Response",
    "ResponseSchema",
    "Role",
    "StopReason",
    "Text",
    "TextSource",
    "Thinking",
    "Tool",
    "ToolCall",
    "ToolChoice",
    "ToolResult",
    "UrlSource",
    "Usage",
    "known_effort",
]

Role = Literal["system", "user", "assistant"]

Effort = Literal["minimal", "low", "medium", "high", "xhigh", "max"]
EFFORTS: tuple[Effort, ...] = get_args(Effort)


def known_effort(value: object) -> Effort | None:
    """``value`` when it names a canonical effort level, else None; each dialect decides
    what an unknown one means (refused, or ignored)."""
    return next((known for known in EFFORTS if known == value), None)


@dataclass(frozen=True, slots=True)
class CacheMark:
    """A prompt-cache breakpoint after the block that carries it: everything up to and
    including that block may be cached. ``ttl`` is ``"5m"`` or ``"1h"``; None leaves the
    upstream's default (five minutes on Anthropic)."""

    ttl: Literal["5m", "1h"] | None = None


@dataclass(frozen=True, slots=True)
class Base64Source:
    """Inline bytes, base64-encoded, with their media type (``image/png``, ``application/pdf``)."""

    media_type: str
    data: str


@dataclass(frozen=True, slots=True)
class UrlSource:
    url: str


@dataclass(frozen=True, slots=True)
class TextSource:
    """A plain-text document, already decoded."""

    text: str


@dataclass(frozen=True, slots=True)
class Text:
    text: str
    cache: CacheMark | None = None


@dataclass(frozen=True, slots=True)
class Image:
    source: Base64Source | UrlSource
    cache: CacheMark | None = None


@dataclass(frozen=True, slots=True)
class Document:
    source: Base64Source | UrlSource | TextSource
    title: str | None = None
    cache: CacheMark | None = None


@dataclass(frozen=True, slots=True)
class ToolCall:
    """A call the assistant made; ``input`` is the parsed JSON object of the arguments."""

    id: str
    name: str
    input: dict[str, Any]
    cache: CacheMark | None = None


@dataclass(frozen=True, slots=True)
class ToolResult:
    tool_call_id: str
    content: tuple[Text | Image | Document, ...] = ()
    is_error: bool = False
    cache: CacheMark | None = None


@dataclass(frozen=True, slots=True)
class Thinking:
    """Reasoning text. ``signature`` is Anthropic's proof of origin; "" when there is none
    (reasoning from an OpenAI-compatible upstream), and Anthropic refuses those back."""

    text: str
    signature: str = ""


@dataclass(frozen=True, slots=True)
class RedactedThinking:
    data: str


Block = Text | Image | Document | ToolCall | ToolResult | Thinking | RedactedThinking


@dataclass(slots=True)
class Message:
    role: Role
    content: list[Block] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Tool:
    name: str
    description: str | None
    parameters: dict[str, Any]
    strict: bool | None = None
    cache: CacheMark | None = None


@dataclass(frozen=True, slots=True)
class ToolChoice:
    """``auto`` may call tools, ``required`` must call one, ``none`` must not, ``tool``
    must call ``name``."""

    mode: Literal["auto", "required", "none", "tool"]
    name: str | None = None


@dataclass(frozen=True, slots=True)
class Reasoning:
    """Reasoning was asked for. Either dialect expresses it its own way (an effort level or
    a token budget); ``None`` in both means "on, the model decides how much"."""

    effort: Effort | None = None
    budget_tokens: int | None = None


@dataclass(frozen=True, slots=True)
class ResponseSchema:
    """Structured output: the answer must be JSON matching ``schema``."""

    schema: dict[str, Any]
    name: str = "response"
    strict: bool | None = None


@dataclass(slots=True)
class Request:
    """A chat request. ``system`` is the leading system prompt; system messages met later
    in the conversation stay in ``messages`` at their position."""

    model: str
    messages: list[Message]
    system: list[Text] = field(default_factory=list)
    stream: bool = False
    max_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None
    stop: list[str] = field(default_factory=list)
    tools: list[Tool] = field(default_factory=list)
    tool_choice: ToolChoice | None = None
    parallel_tool_calls: bool | None = None
    reasoning: Reasoning | None = None
    response_schema: ResponseSchema | None = None
    # OpenAI's JSON mode (``response_format: {"type": "json_object"}``): any JSON object.
    json_object: bool = False
    user: str | None = None


@dataclass(slots=True)
class Response:
    """A complete (non-streamed) assistant answer."""

    id: str
    model: str
    content: list[Block]
    stop_reason: StopReason
    usage: Usage
    stop_sequence: str | None = None
