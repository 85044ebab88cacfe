"""XIRR of investors' cash flows (apps/funding/returns.py), against the defining equation and the
worked example of lending.md §d2: a $25 share of a 1,000, 24 %, 12-month annuity returns about
26.7 % effective (26.74 % in the notes, whose dates are not given), and paying each share rounded
down and dropping the residue returns less."""

from __future__ import annotations

from datetime import date
from decimal import ROUND_FLOOR, Decimal

from hypothesis import given
from hypothesis import strategies as st

from apps.funding.returns import xirr
from apps.projects.schedule import LoanTerms, build_schedule

D = Decimal
CENT = D("0.01")


def npv(flows, rate: Decimal) -> Decimal:
    start = min(day for day, _ in flows)
    return sum(amount / (1 + rate) ** (D((day - start).days) / 365) for day, amount in flows)


def worked_example(disbursed_on: date, carry: bool):
    schedule = build_schedule(
        LoanTerms(
            principal=D("1000"), currency="USD", annual_rate=D("24"),
            method="declining_equal_installments", frequency="monthly",
            disbursed_on=disbursed_on, installments=12,
        )
    )  # fmt: skip
    share, owed, paid = D(25) / 1000, D(0), D(0)
    flows = [(disbursed_on, D(-25))]
    for row in schedule.installments:
        if carry:  # what is owed so far, less what was paid, rounded down
            owed += row.total_due * share
            part = (owed - paid).quantize(CENT, rounding=ROUND_FLOOR)
        else:  # each payment's share rounded down on its own, the residue dropped
            part = (row.total_due * share).quantize(CENT, rounding=ROUND_FLOOR)
        paid += part
        flows.append((row.due_on, part))
    return flows


def test_a_year_at_ten_percent():
    assert xirr([(date(2026, 1, 1), D(-100)), (date(2027, 1, 1), D(110))]) == D("0.1000")


def test_the_worked_example_of_the_notes():
    carry = worked_example(date(2026, 6, 30), carry=True)
    naive = worked_example(date(2026, 6, 30), carry=False)
    assert sum(a for _, a in carry[1:]) == D("28.36")
    assert sum(a for _, a in naive[1:]) == D("28.32")
    rate = xirr(carry)
    assert D("0.2660") <= rate <= D("0.2700")
    assert abs(npv(carry, rate)) < D("0.001")
    assert xirr(naive) < rate


def test_flows_without_money_in_or_out_have_no_rate():
    day = date(2026, 1, 1)
    assert xirr([]) is None
    assert xirr([(day, D(-10))]) is None
    assert xirr([(day, D(10)), (date(2026, 2, 1), D(5))]) is None


@given(
    invested=st.decimals(min_value=1, max_value=10**6, places=2),
    gain=st.decimals(min_value=D("-0.5"), max_value=D("2"), places=3),
    days=st.integers(min_value=30, max_value=3650),
)
def test_the_rate_solves_the_equation(invested, gain, days):
    start = date(2026, 1, 1)
    back = (invested * (1 + gain)).quantize(CENT)
    if back <= 0:
        return
    flows = [(start, -invested), (date.fromordinal(start.toordinal() + days), back)]
    rate = xirr(flows)
    assert rate is not None
    expected = (back / invested) ** (D(365) / days) - 1
    assert abs(rate - expected) <= D("0.0001") * max(1, abs(expected))
