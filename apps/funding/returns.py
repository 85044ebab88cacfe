"""Investors' returns in plain Python, with no Django import: XIRR of dated cash flows.

XIRR is the annual rate x with sum(amount / (1 + x) ** (days / 365)) = 0 over the flows (the
spreadsheet definition, lending.md §d2), computed by pyxirr. A position still open counts what
it still holds as a last inflow on the day of the calculation (the Mintos NAR method), so an
open position has a return too. The rate is a ratio, not money: it is computed in binary floating
point and handed out as a Decimal rounded to a hundredth of a percent.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from decimal import Decimal

import pyxirr

RATE_PLACES = Decimal("0.0001")


def xirr(flows: Iterable[tuple[date, Decimal]]) -> Decimal | None:
    """The annual effective rate of FLOWS (money in is negative, money out positive), e.g.
    Decimal("0.2674") for 26.74 %; None when it is not defined (no money in, or none out) or
    no rate solves it."""
    by_day: dict[date, Decimal] = {}
    for day, amount in flows:
        by_day[day] = by_day.get(day, Decimal(0)) + amount
    days = sorted(by_day)
    amounts = [by_day[day] for day in days]
    if not any(a < 0 for a in amounts) or not any(a > 0 for a in amounts):
        return None
    try:
        rate = pyxirr.xirr(days, [float(a) for a in amounts])
    except (pyxirr.InvalidPaymentsError, ValueError):
        return None
    if rate is None or rate != rate or rate in (float("inf"), float("-inf")):
        return None
    return Decimal(repr(rate)).quantize(RATE_PLACES)
