"""Column charts drawn on the server: the geometry of an inline SVG, no chart library.

A page passes one or more series of non-negative integers (calls, micro-units) and gets
rectangles in a fixed coordinate box (``WIDTH`` x ``HEIGHT``, the SVG's viewBox); the
template (templates/macros/charts.html) draws them with CSS classes for colour, since
the console's CSP forbids inline style. Series are stacked (parts of one whole: calls
that succeeded and failed) or side by side (two things to compare: spend and top-ups).
Heights are display geometry only: the exact figures are in each column's title and in
the table under the chart.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["HEIGHT", "WIDTH", "Bar", "Chart", "Series", "column_chart"]

WIDTH = 600
HEIGHT = 120
GAP = 0.2  # the share of a column's slot left empty between columns


@dataclass(frozen=True, slots=True)
class Series:
    css: str  # the class that colours its bars (console.css: .series-*)
    values: Sequence[int]  # one per column; a negative value draws as zero


@dataclass(frozen=True, slots=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    css: str


@dataclass(frozen=True, slots=True)
class Column:
    index: int  # the column's position in the series (for its title)
    x: float  # the slot's left edge and width: a hover target covering the slot
    width: float
    bars: tuple[Bar, ...]


@dataclass(frozen=True, slots=True)
class Chart:
    width: int
    height: int
    peak: int  # the largest column total (stacked) or value (side by side)
    columns: tuple[Column, ...]


def _round(value: float) -> float:
    return round(value, 2)


def column_chart(series: Sequence[Series], *, stacked: bool) -> Chart:
    """Columns for ``series`` (all the same length), scaled so the peak fills the box."""
    count = max((len(s.values) for s in series), default=0)
    values = [
        [max(0, s.values[i]) if i < len(s.values) else 0 for s in series] for i in range(count)
    ]
    peak = max((sum(v) if stacked else max(v, default=0) for v in values), default=0)
    slot = WIDTH / count if count else WIDTH
    columns = []
    for index, column in enumerate(values):
        left = index * slot + slot * GAP / 2
        inner = slot * (1 - GAP)
        bars = _bars(series, column, left, inner, peak, stacked)
        columns.append(Column(index, _round(index * slot), _round(slot), bars))
    return Chart(WIDTH, HEIGHT, peak, tuple(columns))


def _bars(
    series: Sequence[Series],
    column: Sequence[int],
    left: float,
    inner: float,
    peak: int,
    stacked: bool,
) -> tuple[Bar, ...]:
    bars: list[Bar] = []
    base = float(HEIGHT)
    width = inner if stacked else inner / max(len(series), 1)
    for position, (one, value) in enumerate(zip(series, column, strict=True)):
        if not value or not peak:
            continue
        height = HEIGHT * value / peak
        x = left if stacked else left + position * width
        y = base - height if stacked else HEIGHT - height
        bars.append(Bar(_round(x), _round(y), _round(width), _round(height), one.css))
        if stacked:
            base -= height
    return tuple(bars)
