"""How a refused rule names its bad field: ``actions[2].path``, ``rules[0].match.models``.

pydantic locates an error as a tuple (``("actions", 2, "set", "path")``: the action's
index, then the tag of the union member it was read as); a client wants the path it can
find in what it sent. The tag is dropped, indexes become ``[n]``, and a message that
starts with a field's name (a check across fields, "value: the 'gt' condition compares
with a number") moves that name into the path.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from relaygate.core.errors import InvalidRequest

__all__ = ["field_path", "invalid_rule"]

_FIELD_FIRST = re.compile(r"([a-z_]+): (.+)", re.DOTALL)
_PLACES = frozenset({"body", "query", "path"})


def field_path(loc: Sequence[str | int], tags: Iterable[str] = ()) -> str:
    """``("body", "actions", 2, "set", "path")`` -> ``"actions[2].path"``."""
    known = frozenset(tags)
    parts = list(loc[1:] if loc and loc[0] in _PLACES and len(loc) > 1 else loc)
    out = ""
    previous: str | int | None = None
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        elif isinstance(previous, int) and part in known:
            pass  # the union member's tag: not a field the client sent
        else:
            out += f".{part}" if out else part
        previous = part
    return out


def invalid_rule(
    errors: Sequence[Mapping[str, Any]], tags: Iterable[str] = (), prefix: str = ""
) -> InvalidRequest:
    """The 400 of the first error: its field's path, then pydantic's message."""
    first = errors[0] if errors else {}
    where = field_path(tuple(first.get("loc", ())), tags)
    message = str(first.get("msg", "invalid value")).removeprefix("Value error, ")
    named = _FIELD_FIRST.fullmatch(message)
    if named:
        where = f"{where}.{named.group(1)}" if where else named.group(1)
        message = named.group(2)
    if prefix:
        where = f"{prefix}.{where}" if where and not where.startswith("[") else prefix + where
    return InvalidRequest(f"{where}: {message}" if where else message, param=where or None)
