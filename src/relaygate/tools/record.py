"""The record every tool is: what its route reads, what it asks of which channels, and how
its answer is relayed and billed.

A tool is declared, not coded against the pipeline: the generic runner
(:mod:`relaygate.tools.handler`) does the call lifecycle (authenticate, the key's
permission for ``Tool.model``, the RPM tier, the hold, the slot, the failover over the
tool's channels, the bill) and asks the record only what differs. Adding a tool is a
:class:`Tool` (its module), its channel type's provider (:mod:`relaygate.tools.providers`)
and a line in the route table (:mod:`relaygate.tools.routes`); docs/tools.md walks
through it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from relaygate.core.units import Usage

__all__ = ["Answered", "ImageDelivery", "Incoming", "Tool", "ToolJob", "ToolRoute"]


@dataclass(frozen=True, slots=True)
class Incoming:
    """The request as a tool's ``parse`` sees it."""

    query: bytes  # the raw query string
    body: bytes
    content_type: str  # lower-case, parameters included
    headers: Mapping[bytes, bytes] = field(default_factory=dict)  # lower-case names


@dataclass(frozen=True, slots=True)
class ImageDelivery:
    """How an image tool's results reach the caller: Relaygate's own parameters, never
    sent upstream (docs/tools.md, "Image generation")."""

    b64: bool = False  # response_format=b64_json: each image's bytes too, besides its URL
    public: bool = True  # the stored images' links open without a key
    webhook: str | None = None  # ohmygpt_webhook_url: the outcome POSTed there once
    background: bool = False  # async=true: a task id at once, the images later


@dataclass(frozen=True, slots=True)
class ToolJob:
    """One checked tool call: what is sent upstream and what it is held for."""

    model: str  # the catalogue name it is priced, permitted and recorded as
    payload: dict[str, Any]  # what the channel type's provider sends (checked values)
    units: Usage  # held before the call and billed after it (a per-call price needs none)
    stream: bool = False  # the answer is relayed as it arrives (audio), never read whole
    # Not None: an identical call's answer may be served from, and this one's kept in, the
    # search cache (tools/cache.py)
    cache_key: str | None = None
    delivery: ImageDelivery | None = None  # an image task's (Tool.task)


@dataclass(frozen=True, slots=True)
class Answered:
    """A whole answer as the client gets it, and the units it is billed for."""

    body: bytes
    content_type: bytes
    units: Usage


@dataclass(frozen=True, slots=True)
class Tool:
    model: str  # the catalogue name (``google-search``): prices, permissions, bills
    endpoint: str  # the usage rows' ``endpoint``, and the operation its provider performs
    channel_types: frozenset[str]  # the channel types that serve it
    parse: Callable[[Incoming], ToolJob]  # raises InvalidRequest (a 400)
    # A whole upstream answer (its bytes) -> the client's; raises UpstreamBadResponse for
    # an answer that is not one. None: the answer is streamed as it comes (audio).
    answer: Callable[[bytes, ToolJob], Answered] | None = None
    # The caller's API key may come as the ``key`` query parameter when no header carries
    # one (Google's clients put their key there)
    query_key: bool = False
    # The upstream is a task API (submitted, polled until done; tools/tasks.py) whose
    # images are re-hosted in Relaygate's storage (tools/draw.py): ``answer`` is unused
    task: bool = False


@dataclass(frozen=True, slots=True)
class ToolRoute:
    """A path a tool is served at (a tool may have several, as Google's has)."""

    method: str  # "GET" or "POST"
    path: str
    tool: Tool
