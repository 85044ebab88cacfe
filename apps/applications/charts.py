"""Geometry of the dashboard's bar charts, in plain Python: templates draw the SVG from it, so
the charts need no JavaScript and no library.

A chart is a list of groups (one per currency), each with its own bars scaled to its own largest
value: amounts in different currencies cannot be compared, so each group has its own scale.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

WIDTH = 520
LABEL_WIDTH = 150
VALUE_WIDTH = 130
BAR_HEIGHT = 18
BAR_GAP = 6
GROUP_TITLE_HEIGHT = 22
GROUP_GAP = 14


@dataclass(frozen=True)
class BarInput:
    label: str
    value: Decimal
    text: str  # the value as the chart writes it, e.g. "12,000.00 KES"
    kind: str  # names the bar's colour in the stylesheet


@dataclass(frozen=True)
class Bar:
    label: str
    text: str
    kind: str
    y: int
    width: float
    text_y: int

    @property
    def value_x(self) -> float:
        return LABEL_WIDTH + self.width + 6


@dataclass(frozen=True)
class Group:
    title: str
    title_y: int
    bars: tuple[Bar, ...]


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    label_width: int
    bar_height: int
    groups: tuple[Group, ...]

    @property
    def empty(self) -> bool:
        return not self.groups


def bar_chart(groups: Sequence[tuple[str, Sequence[BarInput]]]) -> Chart:
    """Lay out GROUPS of horizontal bars one under the other. A bar's length is its value over
    the group's largest (none drawn for zero or less)."""
    span = WIDTH - LABEL_WIDTH - VALUE_WIDTH
    y = bottom = 0
    laid_out = []
    for title, bars in groups:
        title_y = y + GROUP_TITLE_HEIGHT - 6
        y += GROUP_TITLE_HEIGHT
        largest = max((bar.value for bar in bars), default=Decimal(0))
        placed = []
        for bar in bars:
            share = bar.value / largest if largest > 0 and bar.value > 0 else Decimal(0)
            placed.append(
                Bar(
                    label=bar.label,
                    text=bar.text,
                    kind=bar.kind,
                    y=y,
                    width=round(float(share) * span, 1),
                    text_y=y + BAR_HEIGHT - 5,
                )
            )
            bottom = y + BAR_HEIGHT
            y += BAR_HEIGHT + BAR_GAP
        laid_out.append(Group(title=title, title_y=title_y, bars=tuple(placed)))
        y += GROUP_GAP
    return Chart(
        width=WIDTH,
        height=bottom,
        label_width=LABEL_WIDTH,
        bar_height=BAR_HEIGHT,
        groups=tuple(laid_out),
    )
