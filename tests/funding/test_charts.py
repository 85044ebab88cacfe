"""The portfolio's line chart laid out in plain Python: one scale from zero to the largest
value, months spread across the plot, labels never crowded."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from apps.funding import charts

D = Decimal


def _months(count: int) -> list[date]:
    return [date(2026 + (m // 12), m % 12 + 1, 1) for m in range(count)]


def test_values_run_from_the_zero_line_to_the_top_of_the_plot():
    chart = charts.line_chart(
        title="KES",
        months=_months(3),
        series=[
            charts.SeriesInput("Invested", "invested", [D(0), D(1000), D(1000)], "1,000.00 KES"),
            charts.SeriesInput("Received", "received", [D(0), D(0), D(250)], "250.00 KES"),
        ],
        amount_text=lambda value: f"{value:.2f}",
    )
    invested, received = chart.lines
    points = [tuple(map(float, p.split(","))) for p in invested.points.split()]
    assert points[0] == (charts.LEFT, chart.bottom)
    assert points[1][1] == points[2][1] == chart.top
    assert points[-1][0] == chart.right == invested.end_x
    assert received.end_y == chart.bottom - (chart.bottom - chart.top) / 4
    assert [t.text for t in chart.amounts] == ["0.00", "500.00", "1000.00"]
    assert [t.text for t in chart.months] == ["Jan 2026", "Feb 2026", "Mar 2026"]
    assert chart.months[-1].anchor == "end"


def test_many_months_get_a_few_labels_and_always_the_last():
    chart = charts.line_chart(
        title="KES",
        months=_months(25),
        series=[charts.SeriesInput("Invested", "invested", [D(5)] * 25, "5.00 KES")],
        amount_text=str,
    )
    labels = [t.text for t in chart.months]
    assert len(labels) <= charts.MAX_MONTH_LABELS + 1
    assert labels[0] == "Jan 2026" and labels[-1] == "Jan 2028"
    gaps = [b.at - a.at for a, b in zip(chart.months, chart.months[1:], strict=False)]
    assert min(gaps) >= charts.MIN_LABEL_GAP


def test_nothing_yet_is_a_flat_line_on_zero():
    chart = charts.line_chart(
        title="KES",
        months=_months(1),
        series=[charts.SeriesInput("Received", "received", [D(0)], "0.00 KES")],
        amount_text=str,
    )
    [line] = chart.lines
    assert {float(p.split(",")[1]) for p in line.points.split()} == {chart.bottom}
    assert len(chart.amounts) == 1
