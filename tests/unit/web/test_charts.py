"""The server-drawn charts: bars scale to the peak, stack or stand side by side, sit on
a round value axis where the page wants one, and odd input (no data, zeros, negative
adjustments) draws nothing rather than failing."""

from __future__ import annotations

import pytest

from relaygate.web.charts import Series, bar_chart, column_chart, nice_ceiling


def test_stacked_columns_reach_the_peak_and_sit_on_each_other() -> None:
    chart = column_chart([Series("ok", [1, 3, 0]), Series("failed", [1, 1, 0])], stacked=True)
    assert chart.peak == 4
    assert [len(c.bars) for c in chart.columns] == [2, 2, 0]
    ok, failed = chart.columns[1].bars
    assert ok.height == chart.height * 3 / 4 and ok.y + ok.height == chart.height
    assert failed.y + failed.height == ok.y  # on top of the succeeded part
    assert failed.y == 0  # the peak column fills the box
    assert ok.x == failed.x and ok.width == failed.width
    assert chart.ticks == () and not any(c.label for c in chart.columns)


def test_side_by_side_columns_share_the_slot() -> None:
    chart = column_chart([Series("spend", [2, 5]), Series("topup", [10, 0])], stacked=False)
    assert chart.peak == 10
    spend, topup = chart.columns[0].bars
    assert topup.height == chart.height and spend.height == chart.height / 5
    assert spend.x + spend.width == topup.x  # next to each other
    assert [bar.css for bar in chart.columns[1].bars] == ["spend"]  # a zero draws no bar
    slots = chart.columns
    assert slots[0].x == 0 and slots[-1].x + slots[-1].width == chart.width


def test_empty_zero_and_negative_series_draw_nothing() -> None:
    assert column_chart([], stacked=True).columns == ()
    flat = column_chart([Series("x", [0, 0, -5])], stacked=False)
    assert flat.peak == 0 and all(c.bars == () for c in flat.columns)
    assert len(flat.columns) == 3


@pytest.mark.parametrize(
    ("value", "ceiling"),
    [(0, 1), (1, 1), (3, 5), (7, 10), (11, 20), (555, 1000), (1_000_001, 2_000_000)],
)
def test_the_scale_tops_at_one_two_or_five_times_a_power_of_ten(value: int, ceiling: int) -> None:
    assert nice_ceiling(value) == ceiling


def test_axis_bars_share_a_baseline_and_are_in_proportion() -> None:
    chart = bar_chart([0, 250, 1000, 500])
    assert [t.value for t in chart.ticks] == [0, 250, 500, 750, 1000]
    assert chart.peak == 1000
    assert chart.columns[0].bars == ()  # a zero day draws no bar, only its hover slot
    bars = [c.bars[0] for c in chart.columns[1:]]
    assert bars[1].height == pytest.approx(chart.bottom - chart.top)  # the top of the scale
    assert bars[0].height * 4 == pytest.approx(bars[1].height)
    assert all(bar.y + bar.height == pytest.approx(chart.bottom) for bar in bars)
    assert [bar.x for bar in bars] == sorted(bar.x for bar in bars)
    assert chart.columns[-1].x + chart.columns[-1].width == pytest.approx(chart.right)
    assert not chart.empty


def test_grid_values_are_whole_units_and_a_tiny_value_stays_visible() -> None:
    chart = bar_chart([3, 0])  # a 3 micro-unit day: the scale is 0..20, in steps of 5
    assert [t.value for t in chart.ticks] == [0, 5, 10, 15, 20]
    big = bar_chart([1_000_000, 1])
    assert big.columns[1].bars[0].height == 1.0


def test_the_last_bar_and_every_fifth_before_it_are_labelled() -> None:
    chart = bar_chart([1] * 30)
    labelled = [c.index for c in chart.columns if c.label]
    assert labelled == [4, 9, 14, 19, 24, 29]


def test_an_empty_axis_chart_has_only_its_baseline() -> None:
    chart = bar_chart([0] * 30)
    assert chart.empty
    assert [t.value for t in chart.ticks] == [0]
    assert all(c.bars == () for c in chart.columns)
