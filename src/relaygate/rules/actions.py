"""The actions of override rules, and the copy-on-write body they write to. Pure.

A compiled action is a small frozen record with one method, ``run(work)``: it reads the
call's current body through JSON pointers and writes through :class:`Work`, which copies
the body's top level on the first write and each container on a written path once, so
the caller's body is never mutated (rules/engine.py says why).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from relaygate.rules.schema import (
    BlockAction,
    ClampAction,
    DefaultAction,
    RemoveAction,
    RemoveHeaderAction,
    RenameModelAction,
    SetAction,
    SetHeaderAction,
    SystemPromptAction,
    parse_pointer,
)

__all__ = ["MISSING", "Action", "Work", "canon", "compile_action", "get", "is_number"]

MISSING: Final = object()
_BOOL: Final = object()  # tags a boolean's canonical form (JSON: true is not 1)
_SYSTEM_ROLES = frozenset({"system", "developer"})
_JOINER = "\n\n"


# ------------------------------------------------------------------ JSON values and pointers
def canon(value: Any) -> Any:
    """A hashable form in which two JSON values are equal exactly when JSON says so."""
    if isinstance(value, bool):
        return (_BOOL, value)
    if isinstance(value, dict):
        return frozenset((k, canon(v)) for k, v in value.items())
    if isinstance(value, list):
        return tuple(canon(v) for v in value)
    return value


def is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _index(token: str, size: int) -> int | None:
    if token.isdigit() and (token == "0" or token[0] != "0"):
        index = int(token)
        return index if index < size else None
    return None


def _child(node: Any, token: str) -> Any:
    if isinstance(node, dict):
        return node.get(token, MISSING)
    if isinstance(node, list):
        index = _index(token, len(node))
        return MISSING if index is None else node[index]
    return MISSING


def get(body: dict[str, Any], tokens: tuple[str, ...]) -> Any:
    if len(tokens) == 1:  # a top-level field: the common case
        return body.get(tokens[0], MISSING)
    node: Any = body
    for token in tokens:
        node = _child(node, token)
        if node is MISSING:
            break
    return node


# ------------------------------------------------------------------ the working call
class Work:
    """The call being rewritten: its body (copied on the first write), model and headers."""

    __slots__ = ("blocked", "body", "model", "owned", "removed", "set", "shape")

    def __init__(self, body: dict[str, Any], model: str, shape: str) -> None:
        self.body = body
        self.model = model
        self.shape = shape  # where a system prompt lives: "chat", "responses", "anthropic"
        self.owned: set[int] | None = None  # ids of the containers this run may write
        self.set: dict[str, str] | None = None
        self.removed: set[str] | None = None
        self.blocked: str | None = None

    def root(self) -> dict[str, Any]:
        """The body, writable (copied on the first call)."""
        if self.owned is None:
            self.body = dict(self.body)
            self.owned = {id(self.body)}
        return self.body

    def writable(self, node: Any, token: str, child: Any) -> Any:
        """``child`` (at ``token`` in the writable ``node``), writable: copied on first use."""
        owned = self.owned
        assert owned is not None
        if id(child) in owned:
            return child
        copy: Any = dict(child) if isinstance(child, dict) else list(child)
        if isinstance(node, dict):
            node[token] = copy
        else:
            node[int(token)] = copy
        owned.add(id(copy))
        return copy

    def parent(self, tokens: tuple[str, ...], create: bool) -> Any:
        """The writable container of the pointer's last token, or None when the path runs
        through something that is not a container (or is missing and ``create`` is off)."""
        node: Any = self.root()
        if len(tokens) == 1:
            return node
        for token in tokens[:-1]:
            child = _child(node, token)
            if child is MISSING:
                if not create or not isinstance(node, dict):
                    return None
                child = node[token] = {}
                assert self.owned is not None
                self.owned.add(id(child))
            elif isinstance(child, dict | list):
                child = self.writable(node, token, child)
            else:
                return None
            node = child
        return node


# ------------------------------------------------------------------ actions
@dataclass(frozen=True, slots=True)
class _Rename:
    to: str

    def run(self, work: Work) -> None:
        work.model = self.to
        if work.body.get("model") != self.to:
            work.root()["model"] = self.to


@dataclass(frozen=True, slots=True)
class _Set:
    tokens: tuple[str, ...]
    value: Any
    only_if_absent: bool

    def run(self, work: Work) -> None:
        current = get(work.body, self.tokens)
        if current is not MISSING and (self.only_if_absent or canon(current) == canon(self.value)):
            return
        node = work.parent(self.tokens, create=True)
        last = self.tokens[-1]
        if isinstance(node, dict):
            node[last] = _fresh(self.value)
        elif isinstance(node, list):
            index = len(node) if last == "-" else _index(last, len(node) + 1)
            if index == len(node):
                node.append(_fresh(self.value))
            elif index is not None:
                node[index] = _fresh(self.value)


def _fresh(value: Any) -> Any:
    """A rule's value, never shared between bodies (a later write may change it)."""
    if isinstance(value, dict):
        return {k: _fresh(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_fresh(v) for v in value]
    return value


@dataclass(frozen=True, slots=True)
class _Remove:
    tokens: tuple[str, ...]

    def run(self, work: Work) -> None:
        if get(work.body, self.tokens) is MISSING:
            return
        node = work.parent(self.tokens, create=False)
        if isinstance(node, dict):
            del node[self.tokens[-1]]
        elif isinstance(node, list):
            del node[int(self.tokens[-1])]


@dataclass(frozen=True, slots=True)
class _Clamp:
    tokens: tuple[str, ...]
    low: int | float | None
    high: int | float | None

    def run(self, work: Work) -> None:
        current = get(work.body, self.tokens)
        if not is_number(current):
            return
        value = current
        if self.low is not None and value < self.low:
            value = self.low
        if self.high is not None and value > self.high:
            value = self.high
        if value == current:
            return
        node = work.parent(self.tokens, create=False)
        last = self.tokens[-1]
        if isinstance(node, dict):
            node[last] = value
        elif isinstance(node, list):
            node[int(last)] = value


@dataclass(frozen=True, slots=True)
class _SystemPrompt:
    mode: str  # prepend | append | replace
    text: str

    def run(self, work: Work) -> None:
        shape = work.shape
        if shape == "chat":
            self._chat(work)
        elif shape == "anthropic":
            if isinstance(work.body.get("messages"), list):  # not the legacy Complete route
                root = work.root()
                root["system"] = self._joined(root.get("system"), "text")
        elif shape == "responses":
            root = work.root()
            current = root.get("instructions")
            root["instructions"] = self._joined(current if isinstance(current, str) else None, "")
            if self.mode == "replace" and isinstance(root.get("input"), list):
                root["input"] = [item for item in root["input"] if not _is_system(item)]

    def _joined(self, current: Any, block: str) -> Any:
        """``current`` (a string, a list of content blocks, or nothing) with the text put
        before, after or instead of it; ``block``: the content block type of a list."""
        text, mode = self.text, self.mode
        if mode == "replace" or current is None or current == "":
            return text
        if isinstance(current, str):
            return text + _JOINER + current if mode == "prepend" else current + _JOINER + text
        if isinstance(current, list) and block:
            part = {"type": block, "text": text}
            return [part, *current] if mode == "prepend" else [*current, part]
        return text

    def _chat(self, work: Work) -> None:
        if not isinstance(work.body.get("messages"), list):
            return
        root = work.root()
        messages: list[Any] = work.writable(root, "messages", root["messages"])
        if self.mode == "replace":
            role = next((m["role"] for m in messages if _is_system(m)), "system")
            others = [m for m in messages if not _is_system(m)]
            messages[:] = [{"role": role, "content": self.text}, *others]
            return
        lead = 0
        while lead < len(messages) and _is_system(messages[lead]):
            lead += 1
        if not lead:
            messages.insert(0, {"role": "system", "content": self.text})
            return
        at = 0 if self.mode == "prepend" else lead - 1
        message = messages[at] = dict(messages[at])
        message["content"] = self._joined(message.get("content"), "text")


def _is_system(item: Any) -> bool:
    return isinstance(item, dict) and item.get("role") in _SYSTEM_ROLES


@dataclass(frozen=True, slots=True)
class _SetHeader:
    name: str
    value: str

    def run(self, work: Work) -> None:
        if work.set is None:
            work.set = {}
        work.set[self.name] = self.value
        if work.removed:
            work.removed.discard(self.name)


@dataclass(frozen=True, slots=True)
class _RemoveHeader:
    name: str

    def run(self, work: Work) -> None:
        if work.removed is None:
            work.removed = set()
        work.removed.add(self.name)
        if work.set:
            work.set.pop(self.name, None)


@dataclass(frozen=True, slots=True)
class _Block:
    message: str

    def run(self, work: Work) -> None:
        work.blocked = self.message


Action = _Rename | _Set | _Remove | _Clamp | _SystemPrompt | _SetHeader | _RemoveHeader | _Block


def compile_action(action: Any) -> Action:
    if isinstance(action, RenameModelAction):
        return _Rename(action.to)
    if isinstance(action, SetAction | DefaultAction):
        return _Set(parse_pointer(action.path), action.value, isinstance(action, DefaultAction))
    if isinstance(action, RemoveAction):
        return _Remove(parse_pointer(action.path))
    if isinstance(action, ClampAction):
        return _Clamp(parse_pointer(action.path), action.min, action.max)
    if isinstance(action, SystemPromptAction):
        return _SystemPrompt(action.mode, action.text)
    if isinstance(action, SetHeaderAction):
        return _SetHeader(action.name, action.value)
    if isinstance(action, RemoveHeaderAction):
        return _RemoveHeader(action.name)
    assert isinstance(action, BlockAction)
    return _Block(action.message)
