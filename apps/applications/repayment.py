"""Repayment allocation and arrears in plain Python, with no Django import.

A loan's schedule is a list of `Due` rows (row 0 the disbursement fee, rows 1… the
installments), each with what is due and what has been paid of it. `allocate` spreads one payment
over them the way Fineract's standard strategy does (lending.md §d1): the oldest row first, and
within a row fees, then interest, then principal. A payment larger than everything due pays the
future rows in order (early repayment, with their interest: there is no interest recalculation),
and what is left after the last row is the over-payment, owed back to the borrower.

Arrears are counted from the oldest row not fully paid whose due date has passed (days past due)
and classified in the usual delinquency buckets.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal

# The order a payment settles the parts of one row.
PARTS = ("fee", "interest", "principal")

CURRENT = "current"
BUCKETS = ((1, 30, "1-30"), (31, 60, "31-60"), (61, 90, "61-90"), (91, None, "90+"))
BUCKET_NAMES = (CURRENT, *(name for _, _, name in BUCKETS))


class InvalidPayment(ValueError):
    """A payment that cannot be allocated (not positive, or a loan with nothing due)."""


@dataclass(frozen=True, kw_only=True)
class Due:
    number: int
    due_on: date
    principal: Decimal
    interest: Decimal
    fee: Decimal
    paid_principal: Decimal
    paid_interest: Decimal
    paid_fee: Decimal

    def owed(self, part: str) -> Decimal:
        return getattr(self, part) - getattr(self, f"paid_{part}")

    @property
    def outstanding(self) -> Decimal:
        return sum((self.owed(part) for part in PARTS), Decimal(0))

    @property
    def settled(self) -> bool:
        return self.outstanding == 0


@dataclass(frozen=True, kw_only=True)
class RowPayment:
    """What one payment paid of one row."""

    number: int
    fee: Decimal
    interest: Decimal
    principal: Decimal
    settles_row: bool


@dataclass(frozen=True, kw_only=True)
class Allocation:
    rows: tuple[RowPayment, ...]
    overpaid: Decimal
    dues_after: tuple[Due, ...]

    def total(self, part: str) -> Decimal:
        return sum((getattr(row, part) for row in self.rows), Decimal(0))


def outstanding(dues: Sequence[Due]) -> Decimal:
    return sum((due.outstanding for due in dues), Decimal(0))


def allocate(dues: Sequence[Due], amount: Decimal) -> Allocation:
    """Spread AMOUNT over DUES: oldest row first; fees, then interest, then principal."""
    if not isinstance(amount, Decimal) or not amount.is_finite() or amount <= 0:
        raise InvalidPayment("A payment is a positive amount.")
    if outstanding(dues) <= 0:
        raise InvalidPayment("Nothing is owed on this loan.")
    left = amount
    paid_rows: list[RowPayment] = []
    after: list[Due] = []
    for due in sorted(dues, key=lambda d: d.number):
        if left == 0 or due.settled:
            after.append(due)
            continue
        paid = {}
        for part in PARTS:
            paid[part] = min(left, due.owed(part))
            left -= paid[part]
        updated = replace(
            due, **{f"paid_{part}": getattr(due, f"paid_{part}") + paid[part] for part in PARTS}
        )
        after.append(updated)
        paid_rows.append(RowPayment(number=due.number, settles_row=updated.settled, **paid))
    return Allocation(rows=tuple(paid_rows), overpaid=left, dues_after=tuple(after))


def days_past_due(dues: Sequence[Due], today: date) -> int:
    """Days since the due date of the oldest row not fully paid, or 0 when none is late."""
    late = [due.due_on for due in dues if not due.settled and due.due_on < today]
    return (today - min(late)).days if late else 0


def bucket(days: int) -> str:
    for low, high, name in BUCKETS:
        if days >= low and (high is None or days <= high):
            return name
    return CURRENT


def on_time_ratio(rows: Sequence[tuple[date, date | None]]) -> tuple[int, int]:
    """(rows paid in full by their due date, rows) for ROWS given as (due_on, paid_off_on)."""
    on_time = sum(1 for due_on, paid_on in rows if paid_on is not None and paid_on <= due_on)
    return on_time, len(rows)
