"""The dashboard's bar charts: each currency on its own scale, nothing drawn for nothing."""

from __future__ import annotations

from decimal import Decimal

from apps.applications import charts


def _bar(label, value):
    return charts.BarInput(label, Decimal(value), f"{value} X", label.lower())


def test_each_group_is_scaled_to_its_own_largest_bar():
    chart = charts.bar_chart(
        [
            ("KES", [_bar("Disbursed", "12000"), _bar("Repaid", "3000")]),
            ("UGX", [_bar("Disbursed", "500000"), _bar("Repaid", "0")]),
        ]
    )
    span = charts.WIDTH - charts.LABEL_WIDTH - charts.VALUE_WIDTH
    kes, ugx = chart.groups
    assert [bar.width for bar in kes.bars] == [span, span / 4]
    assert [bar.width for bar in ugx.bars] == [span, 0]
    # Laid out top to bottom without overlap, and the picture is as tall as its content.
    tops = [bar.y for group in chart.groups for bar in group.bars]
    assert tops == sorted(tops) and len(set(tops)) == 4
    assert chart.height == tops[-1] + charts.BAR_HEIGHT
    assert kes.title_y < kes.bars[0].y and ugx.title_y > kes.bars[-1].y


def test_nothing_to_draw():
    assert charts.bar_chart([]).empty and charts.bar_chart([]).height == 0
    only_zeros = charts.bar_chart([("KES", [_bar("Current", "0")])])
    assert only_zeros.groups[0].bars[0].width == 0
