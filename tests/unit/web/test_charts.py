"""The server-drawn column charts: bars scale to the peak, stack or stand side by side,
and odd input (no data, zeros, negative adjustments) draws nothing rather than failing."""

from __future__ import annotations

from relaygate.web.charts import HEIGHT, WIDTH, Series, column_chart


def test_stacked_columns_reach_the_peak_and_sit_on_each_other() -> None:
    chart = column_chart([Series("ok", [1, 3, 0]), Series("failed", [1, 1, 0])], stacked=True)
    assert chart.peak == 4
    assert [len(c.bars) for c in chart.columns] == [2, 2, 0]
    ok, failed = chart.columns[1].bars
    assert ok.height == HEIGHT * 3 / 4 and ok.y + ok.height == HEIGHT
    assert failed.y + failed.height == ok.y  # on top of the succeeded part
    assert failed.y == 0  # the peak column fills the box
    assert ok.x == failed.x and ok.width == failed.width


def test_side_by_side_columns_share_the_slot() -> None:
    chart = column_chart([Series("spend", [2, 5]), Series("topup", [10, 0])], stacked=False)
    assert chart.peak == 10
    spend, topup = chart.columns[0].bars
    assert topup.height == HEIGHT and spend.height == HEIGHT / 5
    assert spend.x + spend.width == topup.x  # next to each other
    assert [bar.css for bar in chart.columns[1].bars] == ["spend"]  # a zero draws no bar
    slots = chart.columns
    assert slots[0].x == 0 and slots[-1].x + slots[-1].width == WIDTH


def test_empty_zero_and_negative_series_draw_nothing() -> None:
    assert column_chart([], stacked=True).columns == ()
    flat = column_chart([Series("x", [0, 0, -5])], stacked=False)
    assert flat.peak == 0 and all(c.bars == () for c in flat.columns)
    assert len(flat.columns) == 3
