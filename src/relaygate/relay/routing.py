"""Which channel serves a model.

The router holds an immutable index built from the channel snapshot, so a pick is a dict
lookup (plus a weighted draw when several channels share the best priority).
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
class _Choice:
    routes: tuple[Route, ...]
    weights: tuple[int, ...]
    created: int


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
            best = min(c.priority for c in candidates)
            top = [c for c in candidates if c.priority == best]
            index[model] = _Choice(
                routes=tuple(Route(c, c.models[model] or model) for c in top),
                weights=tuple(c.weight for c in top),
                created=min(c.created for c in candidates),
            )
        self._index = index

    def pick(self, model: str) -> Route | None:
        choice = self._index.get(model)
        if choice is None:
            return None
        if len(choice.routes) == 1:
            return choice.routes[0]
        return random.choices(choice.routes, weights=choice.weights)[0]

    def models(self) -> list[tuple[str, int]]:
        """Every public model some enabled channel serves, with its ``created`` time."""
        return sorted((name, choice.created) for name, choice in self._index.items())
