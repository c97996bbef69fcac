"""The bar chart's layout: a round scale, bars in proportion on one baseline, the last
bar labelled, and an empty chart that draws no scale."""

from __future__ import annotations

import pytest

from relaygate.web.bar_chart import bar_chart, nice_ceiling


@pytest.mark.parametrize(
    ("value", "ceiling"),
    [(0, 1), (1, 1), (3, 5), (7, 10), (11, 20), (555, 1000), (1_000_001, 2_000_000)],
)
def test_the_scale_tops_at_one_two_or_five_times_a_power_of_ten(value: int, ceiling: int) -> None:
    assert nice_ceiling(value) == ceiling


def test_bars_share_a_baseline_and_are_in_proportion() -> None:
    chart = bar_chart([0, 250, 1000, 500])
    assert [t.value for t in chart.ticks] == [0, 250, 500, 750, 1000]
    baseline = chart.bottom
    heights = [bar.height for bar in chart.bars]
    assert heights[0] == 0
    assert heights[2] == pytest.approx(baseline - chart.top)  # the top of the scale
    assert heights[1] * 4 == pytest.approx(heights[2])
    assert all(bar.y + bar.height == pytest.approx(baseline) for bar in chart.bars)
    assert [bar.x for bar in chart.bars] == sorted(bar.x for bar in chart.bars)
    assert not chart.empty


def test_grid_values_are_whole_units_and_a_tiny_value_stays_visible() -> None:
    chart = bar_chart([3, 0])  # a 3 micro-unit day: the scale is 0..20, in steps of 5
    assert [t.value for t in chart.ticks] == [0, 5, 10, 15, 20]
    big = bar_chart([1_000_000, 1])
    assert big.bars[1].height == 1.0


def test_the_last_bar_and_every_fifth_before_it_are_labelled() -> None:
    chart = bar_chart([1] * 30)
    labelled = [i for i, bar in enumerate(chart.bars) if bar.label]
    assert labelled == [4, 9, 14, 19, 24, 29]


def test_an_empty_chart_has_only_its_baseline() -> None:
    chart = bar_chart([0] * 30)
    assert chart.empty
    assert [t.value for t in chart.ticks] == [0]
    assert all(bar.height == 0 for bar in chart.bars)
