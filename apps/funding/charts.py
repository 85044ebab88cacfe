"""Geometry of the portfolio's line charts, in plain Python: the template draws the SVG from
it, so the chart needs no JavaScript and no library (as applications/charts.py for bars).

A chart shows series of values over the same months, on one scale from zero to the largest
value: one chart per currency, since amounts in different currencies cannot be compared.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

WIDTH = 520
HEIGHT = 220
LEFT = 96  # room for the amounts on the left
RIGHT = 12
TOP = 12
BOTTOM = 28  # room for the months below
MAX_MONTH_LABELS = 6
MIN_LABEL_GAP = 60  # between the centres of two month labels, as wide as "Sep 2026"


@dataclass(frozen=True)
class SeriesInput:
    label: str
    kind: str  # names the line's colour in the stylesheet
    values: Sequence[Decimal]  # one per month
    text: str  # the last value as the chart writes it, e.g. "12,000.00 KES"


@dataclass(frozen=True)
class Line:
    label: str
    kind: str
    text: str
    points: str  # "x,y x,y ..." for an SVG polyline
    end_x: float
    end_y: float


@dataclass(frozen=True)
class Tick:
    at: float  # x of a month label, or y of an amount's grid line
    text: str
    anchor: str = "middle"  # of a month label: the last one ends at the plot's end


@dataclass(frozen=True)
class LineChart:
    title: str
    width: int
    height: int
    left: int
    right: float  # x where the plot ends
    top: int
    bottom: float  # y of the zero line
    lines: tuple[Line, ...]
    months: tuple[Tick, ...]
    amounts: tuple[Tick, ...]


def line_chart(
    *, title: str, months: Sequence[date], series: Sequence[SeriesInput], amount_text
) -> LineChart:
    """Lay out SERIES over MONTHS (at least one). AMOUNT_TEXT writes an amount for the scale."""
    plot_width = WIDTH - LEFT - RIGHT
    plot_height = HEIGHT - TOP - BOTTOM
    bottom = TOP + plot_height
    largest = max((v for s in series for v in s.values), default=Decimal(0))
    steps = max(len(months) - 1, 1)

    def x(index: int) -> float:
        return round(LEFT + plot_width * index / steps, 1)

    def y(value: Decimal) -> float:
        share = value / largest if largest > 0 else Decimal(0)
        return round(bottom - float(share) * plot_height, 1)

    lines = []
    for s in series:
        coordinates = [(x(i), y(v)) for i, v in enumerate(s.values)]
        if len(coordinates) == 1:  # a single month: a flat line across the plot
            coordinates.append((x(1), coordinates[0][1]))
        lines.append(
            Line(
                label=s.label,
                kind=s.kind,
                text=s.text,
                points=" ".join(f"{px:.1f},{py:.1f}" for px, py in coordinates),
                end_x=coordinates[-1][0],
                end_y=coordinates[-1][1],
            )
        )
    last = len(months) - 1
    every = max(-(-len(months) // MAX_MONTH_LABELS), 1)
    month_ticks = [
        Tick(x(i), f"{month:%b %Y}", "end" if i == last and last else "middle")
        for i, month in enumerate(months)
        # Every few months, and the last one, never crowded by the one before it.
        if i == last or (i % every == 0 and x(last) - x(i) >= MIN_LABEL_GAP)
    ]
    amounts = [Tick(bottom, amount_text(Decimal(0)))]
    if largest > 0:
        amounts += [Tick(y(largest / 2), amount_text(largest / 2)), Tick(TOP, amount_text(largest))]
    return LineChart(
        title=title,
        width=WIDTH,
        height=HEIGHT,
        left=LEFT,
        right=LEFT + plot_width,
        top=TOP,
        bottom=bottom,
        lines=tuple(lines),
        months=tuple(month_ticks),
        amounts=tuple(amounts),
    )
