"""Column charts drawn on the server: the geometry of an inline SVG, no chart library.

One layout serves every console chart. A page passes one or more series of non-negative
integers (calls, micro-units) and gets rectangles in a fixed coordinate box (the SVG's
viewBox); the one template macro (templates/macros/charts.html) draws them with CSS
classes for colour, since the console's CSP forbids inline style. Two shapes:

- ``column_chart``: the operator overview's compact strip, no scale, stretched to its box;
  series stacked (parts of one whole: calls that succeeded and failed) or side by side
  (two things of one size to compare); the peak fills the box. Amounts of very different
  sizes get a chart each, so each fills its own box (the overview's spend and top-ups).
- ``bar_chart``: the dashboard's single series with a value axis whose top is a "nice"
  value (1, 2 or 5 times a power of ten, in the values' own integer unit: micro-units for
  money) so the grid lines read as round amounts, and a category label every few bars.

Coordinates are floats: they place pixels, they never carry money. The exact figures are
in each column's title and in the table a page puts beside the chart.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

__all__ = [
    "Bar",
    "Chart",
    "Column",
    "Series",
    "Tick",
    "bar_chart",
    "column_chart",
    "nice_ceiling",
]


@dataclass(frozen=True, slots=True)
class _Frame:
    """A viewBox and the plot area inside it (margins hold the axis labels)."""

    width: float
    height: float
    left: float = 0.0
    right: float = 0.0
    top: float = 0.0
    bottom: float = 0.0
    gap: float = 0.2  # the share of a column's slot left empty between columns
    least: float = 0.0  # the height a non-zero value draws at the least (stays visible)


STRIP = _Frame(width=600, height=120)  # the operator overview
AXIS = _Frame(720, 220, left=64, right=8, top=12, bottom=28, gap=0.25, least=1.0)  # dashboard
TICKS = 4


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
    centre: float  # where the column's category label goes
    label: bool  # whether its category is written under the axis


@dataclass(frozen=True, slots=True)
class Tick:
    y: float
    value: int


@dataclass(frozen=True, slots=True)
class Chart:
    width: float
    height: float
    left: float  # the plot area: x from left to right, y from top to bottom (the baseline)
    right: float
    top: float
    bottom: float
    peak: int  # the largest column total (stacked) or value (side by side)
    columns: tuple[Column, ...]
    ticks: tuple[Tick, ...] = ()  # a value axis: the baseline (0) first; only it when empty
    empty: bool = False  # every value is 0


def _round(value: float) -> float:
    return round(value, 2)


def nice_ceiling(value: int) -> int:
    """The least of 1, 2, 5 × 10ⁿ (n ≥ 0) at or above ``value`` (1 for 0 or less)."""
    step = 1
    while True:
        for factor in (1, 2, 5):
            if step * factor >= value:
                return step * factor
        step *= 10


def column_chart(series: Sequence[Series], *, stacked: bool) -> Chart:
    """Columns for ``series`` (all the same length), scaled so the peak fills the box."""
    count = max((len(s.values) for s in series), default=0)
    values = [
        [max(0, s.values[i]) if i < len(s.values) else 0 for s in series] for i in range(count)
    ]
    peak = max((sum(v) if stacked else max(v, default=0) for v in values), default=0)
    columns = _columns(STRIP, series, values, peak, stacked=stacked, label_every=0)
    return _chart(STRIP, peak, columns)


def bar_chart(values: Sequence[int], label_every: int = 5) -> Chart:
    """Bars for ``values`` (non-negative integers, left to right) on a round scale, the
    last one always labelled (today, on the spend chart), then every ``label_every``-th
    counting back."""
    top_value = nice_ceiling(max(values, default=0))
    while top_value % TICKS:  # grid lines on whole units (20, 100, 200, 500, ...)
        top_value = nice_ceiling(top_value + 1)
    series = [Series("", values)]
    columns = _columns(AXIS, series, [[max(v, 0)] for v in values], top_value, True, label_every)
    empty = not any(v > 0 for v in values)
    baseline = AXIS.height - AXIS.bottom
    plot_h = baseline - AXIS.top
    ticks = tuple(  # an empty chart has only its baseline: no scale to read
        Tick(y=_round(baseline - plot_h * i / TICKS), value=top_value * i // TICKS)
        for i in range(1 if empty else TICKS + 1)
    )
    return _chart(AXIS, top_value, columns, ticks, empty)


def _chart(
    frame: _Frame,
    peak: int,
    columns: tuple[Column, ...],
    ticks: tuple[Tick, ...] = (),
    empty: bool = False,
) -> Chart:
    return Chart(
        width=frame.width,
        height=frame.height,
        left=frame.left,
        right=frame.width - frame.right,
        top=frame.top,
        bottom=frame.height - frame.bottom,
        peak=peak,
        columns=columns,
        ticks=ticks,
        empty=empty,
    )


def _columns(
    frame: _Frame,
    series: Sequence[Series],
    values: Sequence[Sequence[int]],
    peak: int,
    stacked: bool,
    label_every: int,
) -> tuple[Column, ...]:
    """Slots across the plot area, one a column, the last one at the right edge."""
    plot_w = frame.width - frame.left - frame.right
    slot = plot_w / len(values) if values else plot_w
    last = len(values) - 1
    columns = []
    for index, column in enumerate(values):
        start = frame.left + index * slot
        bars = _bars(frame, series, column, start + slot * frame.gap / 2, slot, peak, stacked)
        labelled = bool(label_every) and (last - index) % label_every == 0
        columns.append(
            Column(index, _round(start), _round(slot), bars, _round(start + slot / 2), labelled)
        )
    return tuple(columns)


def _bars(
    frame: _Frame,
    series: Sequence[Series],
    column: Sequence[int],
    left: float,
    slot: float,
    peak: int,
    stacked: bool,
) -> tuple[Bar, ...]:
    """A column's bars, stacked up from the baseline or side by side; a zero draws none."""
    bars: list[Bar] = []
    baseline = frame.height - frame.bottom
    plot_h = baseline - frame.top
    inner = slot * (1 - frame.gap)
    width = inner if stacked else inner / max(len(series), 1)
    base = baseline
    for position, (one, value) in enumerate(zip(series, column, strict=True)):
        if not value or not peak:
            continue
        height = max(plot_h * value / peak, frame.least)
        x = left if stacked else left + position * width
        y = base - height if stacked else baseline - height
        bars.append(Bar(_round(x), _round(y), _round(width), _round(height), one.css))
        if stacked:
            base -= height
    return tuple(bars)
