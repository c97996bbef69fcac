"""Which channels serve a model, in the order to try them.

The router holds an immutable index built from the channel snapshot, so a lookup is a
dict access (plus a weighted draw when several channels share a priority). The first
route is the preferred one; the rest are fallbacks for a call that fails before its first
byte reaches the client: the remaining channels of the same priority, then the next
priorities, each group in a weighted random order.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from relaygate.channels.spec import ChannelSpec

__all__ = ["Route", "Router"]


@dataclass(frozen=True, slots=True)
class Route:
    channel: ChannelSpec
    upstream_model: str


@dataclass(frozen=True, slots=True)
class _Group:
    routes: tuple[Route, ...]
    weights: tuple[int, ...]

    def ordered(self) -> list[Route]:
        """The routes in a weighted random order (a weighted shuffle)."""
        routes, weights = list(self.routes), list(self.weights)
        order: list[Route] = []
        while routes:
            index = random.choices(range(len(routes)), weights=weights)[0]
            order.append(routes.pop(index))
            weights.pop(index)
        return order


@dataclass(frozen=True, slots=True)
class _Choice:
    groups: tuple[_Group, ...]  # best priority first
    created: int
    tool: bool  # served by tool channels only (docs/tools.md): not a model of /v1/models


class Router:
    def __init__(self) -> None:
        self._index: dict[str, _Choice] = {}

    def load(self, channels: list[ChannelSpec]) -> None:
        grouped: dict[str, list[ChannelSpec]] = {}
        for channel in channels:
            if channel.enabled:
                for public in channel.models:
                    grouped.setdefault(public, []).append(channel)
        index: dict[str, _Choice] = {}
        for model, candidates in grouped.items():
            groups = []
            for priority in sorted({c.priority for c in candidates}):
                members = [c for c in candidates if c.priority == priority]
                routes = tuple(Route(c, c.models[model] or model) for c in members)
                groups.append(_Group(routes, tuple(c.weight for c in members)))
            created = min(c.created for c in candidates)
            index[model] = _Choice(tuple(groups), created, all(c.tool for c in candidates))
        self._index = index

    def routes(self, model: str) -> list[Route]:
        """Every route for ``model``, preferred first; empty when no channel serves it."""
        choice = self._index.get(model)
        if choice is None:
            return []
        if len(choice.groups) == 1 and len(choice.groups[0].routes) == 1:
            return [choice.groups[0].routes[0]]
        return [route for group in choice.groups for route in group.ordered()]

    def serves(self, model: str) -> bool:
        """Does an enabled channel serve ``model``? (The metrics' bound on model labels.)"""
        return model in self._index

    def pick(self, model: str) -> Route | None:
        """The preferred route for ``model``."""
        routes = self.routes(model)
        return routes[0] if routes else None

    def models(self) -> list[tuple[str, int]]:
        """Every public model some enabled channel serves, with its ``created`` time (the
        tools, which no dialect route calls, left out)."""
        return sorted((n, choice.created) for n, choice in self._index.items() if not choice.tool)

    def names(self) -> list[str]:
        """Every public name some enabled channel serves, tools included: what a key's
        permissions and the price list offer."""
        return sorted(self._index)
