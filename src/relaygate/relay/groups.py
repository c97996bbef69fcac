"""The route groups: ``/v1`` again below a group's prefix, priced as the group. Pure.

The platform gives Claude Code and Codex their own base URLs (``…/cc-omg``, and
``…/codex-omg/v1`` for Codex, whose SDK appends the rest), and its clients call every
``/v1`` route through them: the relay's POSTs, the models list, the stored responses,
conversations and chat completions. So a group is not a list of routes of its own (two
lists drift apart: ``GET …/cc-omg/v1/chat/completions`` once answered "model not
found"); it is a prefix. The dispatcher (``RelayApp.route``) strips it here, once, and
the request goes on as the ``/v1`` request it names, to the relay's handlers or to the
control plane's state routes, with the group noted in the ASGI scope for the calls that
are billed (the group's multiplier and its resource packages).

``…/<group>/models[/{id}]`` is ``/v1/models[/{id}]`` too: Claude Code's setup wizard and
the platform's docs use that form.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "GROUPS_ROOT",
    "ROUTE_GROUPS",
    "SCOPE_KEY",
    "Grouped",
    "group_of",
    "sent_path",
    "ungroup",
]

GROUPS_ROOT = "/api/v1/ai/openai/"
# route group -> its mount point; the group's own paths are the /v1 paths below it
ROUTE_GROUPS = {
    "cc-omg": GROUPS_ROOT + "cc-omg",  # Claude Code
    "codex-omg": GROUPS_ROOT + "codex-omg",  # Codex
}
SCOPE_KEY = "relaygate.route_group"  # where the dispatcher leaves the Grouped record


@dataclass(frozen=True, slots=True)
class Grouped:
    """A request that came in through a route group."""

    group: str  # "cc-omg", "codex-omg"
    path: str  # the /v1 path it names, what the request is served as
    original: str  # the path as sent, for error messages


def ungroup(path: str) -> Grouped | None:
    """The ``/v1`` request a route-group path names, or None when it names none (a path
    below :data:`GROUPS_ROOT` that is no group's, or a group path outside ``/v1``)."""
    name, _, rest = path[len(GROUPS_ROOT) :].partition("/")
    if not path.startswith(GROUPS_ROOT) or name not in ROUTE_GROUPS:
        return None
    rest = rest.lstrip("/")  # a base URL configured with a trailing "/"
    if rest == "models" or rest.startswith("models/"):
        return Grouped(name, "/v1/" + rest, path)
    if rest.startswith("v1/"):
        return Grouped(name, "/" + rest, path)
    return None


def group_of(scope: Mapping[str, Any]) -> str:
    """The route group a request came in through ("" for ``/v1``)."""
    grouped = scope.get(SCOPE_KEY)
    return grouped.group if isinstance(grouped, Grouped) else ""


def sent_path(scope: Mapping[str, Any]) -> str:
    """The path as the client sent it (a route group's, before :func:`ungroup`)."""
    grouped = scope.get(SCOPE_KEY)
    return grouped.original if isinstance(grouped, Grouped) else str(scope["path"])
