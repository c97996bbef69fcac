"""Responses ``tools`` and ``tool_choice`` to canonical tools, and the names back.

Three kinds of tool arrive here, and each gets one rule (docs/compatibility.md):

* ``function`` tools map one to one.
* ``namespace`` tools (Codex groups its sub-agent tools in one) are flattened: each
  nested function becomes a canonical tool named ``<namespace>__<name>``, the scheme
  Codex itself uses where a namespace cannot be kept (underscores around the ``__``
  are trimmed), shortened deterministically past 64 characters, the longest name
  OpenAI-compatible servers accept. On the way back :class:`ToolNames` turns a call
  of the flat name into a ``function_call`` with ``namespace`` and ``name`` again,
  which is what an OpenAI answer would carry. The namespace's description is put in
  front of each nested tool's, since the flat tools have nowhere else to hold it.
* Hosted tools (``web_search``, ``file_search``, ``code_interpreter``, …) run on
  OpenAI's servers, which no other upstream has: they are dropped, and the model
  answers without them. Codex sends ``web_search`` on every turn, so refusing it would
  make Codex unusable on any other channel. Client-side tools that need a model trained
  for their protocol (computer use, shell, apply_patch, custom grammar tools) are
  refused: the client relies on the model calling them, and a model that never could
  would fail it silently.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from relaygate.core.errors import InvalidRequest
from relaygate.relay.canonical.messages import Tool, ToolChoice
from relaygate.relay.dialects.content import with_cache
from relaygate.relay.dialects.fields import OPENAI_FIELDS as FIELDS

__all__ = ["HOSTED_TOOLS", "MAX_NAME", "ToolNames", "flat_name", "parse_tools"]

MAX_NAME = 64
HOSTED_TOOLS = frozenset(
    {
        "web_search",
        "web_search_2025_08_26",
        "web_search_preview",
        "web_search_preview_2025_03_11",
        "file_search",
        "code_interpreter",
        "image_generation",
        "mcp",
        "tool_search",
        "programmatic_tool_calling",
    }
)
_MODES: dict[str, Literal["auto", "none", "required"]] = {
    "auto": "auto",
    "none": "none",
    "required": "required",
}


def flat_name(namespace: str, name: str) -> str:
    """The one canonical name of ``name`` inside ``namespace``; deterministic, so a call
    replayed from history finds the tool it was made for."""
    flat = f"{namespace.rstrip('_')}__{name.lstrip('_')}"
    if len(flat) <= MAX_NAME:
        return flat
    digest = hashlib.sha256(flat.encode()).hexdigest()[:8]
    return f"{flat[: MAX_NAME - 9]}_{digest}"


@dataclass(frozen=True, slots=True)
class ToolNames:
    """Flat tool names of namespaced functions -> (namespace, name), read from the tools
    the client sent (the ``tools`` echoed in the Response), so answers name them the
    way the client declared them."""

    namespaced: Mapping[str, tuple[str, str]] = field(default_factory=dict)

    @classmethod
    def of(cls, tools: Any) -> ToolNames:
        """Never raises: the tools were validated by :func:`parse_tools` already."""
        names: dict[str, tuple[str, str]] = {}
        for tool in tools if isinstance(tools, list) else []:
            if not isinstance(tool, dict) or tool.get("type") != "namespace":
                continue
            namespace = tool.get("name")
            inner = tool.get("tools")
            if not isinstance(namespace, str) or not isinstance(inner, list):
                continue
            for function in inner:
                name = function.get("name") if isinstance(function, dict) else None
                if isinstance(name, str):
                    names[flat_name(namespace, name)] = (namespace, name)
        return cls(names)

    def split(self, name: str) -> tuple[str | None, str]:
        """(namespace or None, name) of the canonical tool name ``name``."""
        found = self.namespaced.get(name)
        return found if found is not None else (None, name)


def _name(value: Any, param: str) -> str:
    if not isinstance(value, str) or not value:
        raise InvalidRequest(f"'{param}' must be a non-empty string.", param=param)
    return value


def _function(entry: dict[str, Any], param: str, name: str, prefix: str = "") -> Tool:
    description = entry.get("description")
    description = description if isinstance(description, str) else None
    if prefix:
        description = f"{prefix}\n\n{description}" if description else prefix
    parameters = entry.get("parameters") or {"type": "object", "properties": {}}
    strict = entry.get("strict")
    tool = Tool(
        name=name,
        description=description,
        parameters=FIELDS.mapping(parameters, f"{param}.parameters"),
        strict=strict if isinstance(strict, bool) else None,
    )
    return with_cache(tool, entry, param)  # a prompt-cache mark, as on Chat Completions


def _refuse(kind: Any, param: str) -> InvalidRequest:
    return InvalidRequest(
        f"Tools of type {kind!r} cannot be used with this model; use function tools.",
        param=f"{param}.type",
    )


def _namespace(entry: dict[str, Any], param: str) -> list[Tool]:
    namespace = _name(entry.get("name"), f"{param}.name")
    inner = entry.get("tools")
    if not isinstance(inner, list) or not inner:
        raise InvalidRequest(f"'{param}.tools' must be a non-empty array.", param=f"{param}.tools")
    about = entry.get("description")
    prefix = about if isinstance(about, str) else ""
    tools = []
    for index, raw in enumerate(inner):
        where = f"{param}.tools[{index}]"
        function = FIELDS.mapping(raw, where)
        if function.get("type", "function") != "function":
            raise _refuse(function.get("type"), where)
        name = flat_name(namespace, _name(function.get("name"), f"{where}.name"))
        tools.append(_function(function, where, name, prefix))
    return tools


def _parse_tool_list(raw: Any) -> tuple[list[Tool], dict[str, list[str]]]:
    """The canonical tools, and the flat names of each namespace (for allowed_tools)."""
    if raw is None:
        return [], {}
    tools: list[Tool] = []
    namespaces: dict[str, list[str]] = {}
    for index, item in enumerate(FIELDS.array(raw, "tools")):
        param = f"tools[{index}]"
        entry = FIELDS.mapping(item, param)
        kind = entry.get("type")
        if kind == "function":
            tools.append(_function(entry, param, _name(entry.get("name"), f"{param}.name")))
        elif kind == "namespace":
            inner = _namespace(entry, param)
            namespaces.setdefault(str(entry["name"]), []).extend(t.name for t in inner)
            tools.extend(inner)
        elif kind not in HOSTED_TOOLS:
            raise _refuse(kind, param)
    seen: set[str] = set()
    for tool in tools:
        if tool.name in seen:
            raise InvalidRequest(f"Duplicate tool name {tool.name!r}.", param="tools")
        seen.add(tool.name)
    return tools, namespaces


def parse_tools(body: dict[str, Any]) -> tuple[list[Tool], ToolChoice | None]:
    """The canonical tools and tool choice of a Responses request; no choice without
    tools (every renderer would have to drop it)."""
    tools, namespaces = _parse_tool_list(body.get("tools"))
    choice = body.get("tool_choice")
    if choice is None or not tools:
        return tools, None
    if isinstance(choice, str):
        if choice not in _MODES:
            raise InvalidRequest(f"Unsupported tool_choice {choice!r}.", param="tool_choice")
        return tools, ToolChoice(_MODES[choice])
    entry = FIELDS.mapping(choice, "tool_choice")
    kind = entry.get("type")
    if kind == "function":
        return tools, ToolChoice("tool", _name(entry.get("name"), "tool_choice.name"))
    if kind == "allowed_tools":
        return _allowed(entry, tools, namespaces)
    raise InvalidRequest(
        f"A tool_choice of type {kind!r} cannot be used with this model.", param="tool_choice"
    )


def _allowed(
    entry: dict[str, Any], tools: list[Tool], namespaces: dict[str, list[str]]
) -> tuple[list[Tool], ToolChoice]:
    """``allowed_tools`` keeps OpenAI's prompt cache by naming a subset instead of
    changing ``tools``; elsewhere that subset is simply what is sent."""
    listed = FIELDS.array(entry.get("tools"), "tool_choice.tools")
    names: set[str] = set()
    for item in listed:
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            continue
        if item.get("type") == "namespace":
            names.update(namespaces.get(item["name"], []))
        else:
            names.add(item["name"])
    mode = _MODES["required" if entry.get("mode") == "required" else "auto"]
    return [tool for tool in tools if tool.name in names], ToolChoice(mode)
