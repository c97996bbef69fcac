"""The geometry of the console's server-rendered bar charts (inline SVG, no chart library).

Pure layout: given the values, where each bar and grid line goes in a fixed viewBox; the
template draws them (``templates/charts.html``) and scales the SVG to its box. The scale's
top is a "nice" value (1, 2 or 5 times a power of ten, in the values' own integer unit:
micro-units for money) so the grid lines read as round amounts. Coordinates are floats:
they place pixels, they never carry money.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["Bar", "BarChart", "Tick", "bar_chart", "nice_ceiling"]

WIDTH = 720.0
HEIGHT = 220.0
LEFT = 64.0  # room for the value axis' labels
RIGHT = 8.0
TOP = 12.0
BOTTOM = 28.0  # room for the category labels
GAP = 0.25  # the share of each slot left empty between bars
TICKS = 4


@dataclass(frozen=True, slots=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    centre: float  # where the bar's label goes
    value: int
    label: bool  # whether its category is written under the axis (every few bars)


@dataclass(frozen=True, slots=True)
class Tick:
    y: float
    value: int


@dataclass(frozen=True, slots=True)
class BarChart:
    width: float
    height: float
    left: float  # the plot area: x from left to right, y from top to bottom (the baseline)
    right: float
    top: float
    bottom: float
    bars: tuple[Bar, ...]
    ticks: tuple[Tick, ...]  # the baseline (0) first; only it when empty
    empty: bool  # every value is 0


def nice_ceiling(value: int) -> int:
    """The least of 1, 2, 5 × 10ⁿ (n ≥ 0) at or above ``value`` (1 for 0 or less)."""
    step = 1
    while True:
        for factor in (1, 2, 5):
            if step * factor >= value:
                return step * factor
        step *= 10


def bar_chart(values: Sequence[int], label_every: int = 5) -> BarChart:
    """Bars for ``values`` (non-negative integers, left to right), the last one always
    labelled (today, on the spend chart), then every ``label_every``-th counting back."""
    top_value = nice_ceiling(max(values, default=0))
    while top_value % TICKS:  # grid lines on whole units (20, 100, 200, 500, ...)
        top_value = nice_ceiling(top_value + 1)
    plot_h = HEIGHT - TOP - BOTTOM
    slot = (WIDTH - LEFT - RIGHT) / max(len(values), 1)
    bars = []
    last = len(values) - 1
    for index, value in enumerate(values):
        height = plot_h * max(value, 0) / top_value
        if 0 < height < 1:
            height = 1.0  # a small spend stays visible
        x = LEFT + index * slot + slot * GAP / 2
        bars.append(
            Bar(
                x=round(x, 2),
                y=round(HEIGHT - BOTTOM - height, 2),
                width=round(slot * (1 - GAP), 2),
                height=round(height, 2),
                centre=round(LEFT + (index + 0.5) * slot, 2),
                value=value,
                label=(last - index) % label_every == 0,
            )
        )
    empty = not any(v > 0 for v in values)
    ticks = tuple(  # an empty chart has only its baseline: no scale to read
        Tick(y=round(HEIGHT - BOTTOM - plot_h * i / TICKS, 2), value=top_value * i // TICKS)
        for i in range(1 if empty else TICKS + 1)
    )
    return BarChart(
        width=WIDTH,
        height=HEIGHT,
        left=LEFT,
        right=WIDTH - RIGHT,
        top=TOP,
        bottom=HEIGHT - BOTTOM,
        bars=tuple(bars),
        ticks=ticks,
        empty=empty,
    )
