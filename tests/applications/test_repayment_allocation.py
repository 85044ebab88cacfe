"""Repayment allocation and arrears (apps/applications/repayment.py), with no database.

Properties over arbitrary schedules and arbitrary payment sequences: nothing is lost or created
(every payment is split exactly into fees, interest, principal and over-payment), no row is ever
paid beyond what it owes, rows are settled oldest first and within a row fees before interest
before principal, and the over-payment appears only once everything is paid.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from apps.applications.repayment import (
    PARTS,
    Due,
    InvalidPayment,
    allocate,
    bucket,
    days_past_due,
    on_time_ratio,
    outstanding,
)
from apps.projects.schedule import LoanTerms, build_schedule

START = date(2026, 1, 31)
CENT = Decimal("0.01")


def dues_of(schedule) -> list[Due]:
    zero = Decimal("0.00")
    return [
        Due(
            number=row.number,
            due_on=row.due_on,
            principal=row.principal,
            interest=row.interest,
            fee=row.fee,
            paid_principal=zero,
            paid_interest=zero,
            paid_fee=zero,
        )
        for row in schedule.rows
    ]


def worked_example(**changes) -> list[Due]:
    terms = {
        "principal": Decimal("1000.00"),
        "currency": "KES",
        "annual_rate": Decimal("24"),
        "method": "declining_equal_installments",
        "frequency": "monthly",
        "disbursed_on": START,
        "installments": 12,
        "fee_percent": Decimal("2"),
    } | changes
    return dues_of(build_schedule(LoanTerms(**terms)))


def test_a_payment_settles_the_fee_then_interest_then_principal_oldest_first():
    dues = worked_example()
    # Row 0 is the 20.00 fee; installment 1 is 20.00 interest + 74.56 principal (lending.md c6).
    result = allocate(dues, Decimal("50.00"))
    assert [(r.number, r.fee, r.interest, r.principal) for r in result.rows] == [
        (0, Decimal("20.00"), 0, 0),
        (1, 0, Decimal("20.00"), Decimal("10.00")),
    ]
    assert result.rows[0].settles_row and not result.rows[1].settles_row
    assert result.overpaid == 0


def test_paying_more_than_is_owed_pays_everything_and_leaves_the_rest_as_over_payment():
    dues = worked_example()
    owed = outstanding(dues)
    result = allocate(dues, owed + Decimal("7.00"))
    assert result.overpaid == Decimal("7.00")
    assert outstanding(result.dues_after) == 0


@pytest.mark.parametrize("amount", [Decimal(0), Decimal("-1"), Decimal("NaN"), 5])
def test_a_payment_that_is_not_a_positive_decimal_is_refused(amount):
    with pytest.raises(InvalidPayment):
        allocate(worked_example(), amount)


def test_a_loan_with_nothing_owed_takes_no_payment():
    dues = worked_example()
    paid = allocate(dues, outstanding(dues)).dues_after
    with pytest.raises(InvalidPayment):
        allocate(paid, Decimal("1.00"))


def test_days_past_due_count_from_the_oldest_unpaid_row_and_fall_into_buckets():
    dues = worked_example(fee_percent=Decimal(0))
    first_due = dues[0].due_on
    assert days_past_due(dues, first_due) == 0
    assert days_past_due(dues, first_due + timedelta(days=1)) == 1
    paid_first = allocate(dues, dues[0].outstanding).dues_after
    assert days_past_due(paid_first, first_due + timedelta(days=1)) == 0
    assert [bucket(d) for d in (0, 1, 30, 31, 60, 61, 90, 91, 4000)] == [
        "current", "1-30", "1-30", "31-60", "31-60", "61-90", "61-90", "90+", "90+",
    ]  # fmt: skip


def test_on_time_counts_rows_paid_in_full_by_their_due_date():
    due = date(2026, 3, 1)
    rows = [(due, due), (due, due - timedelta(days=3)), (due, due + timedelta(days=1)), (due, None)]
    assert on_time_ratio(rows) == (2, 4)


terms_strategy = st.fixed_dictionaries(
    {
        "principal": st.decimals(min_value=1, max_value=10**7, places=2),
        "currency": st.just("KES"),
        "annual_rate": st.decimals(min_value=0, max_value=80, places=2),
        "method": st.sampled_from(
            ["flat", "declining_equal_installments", "declining_equal_principal"]
        ),
        "frequency": st.sampled_from(["weekly", "biweekly", "monthly"]),
        "disbursed_on": st.just(START),
        "installments": st.integers(min_value=1, max_value=36),
        "fee_percent": st.decimals(min_value=0, max_value=5, places=1),
    }
)


@settings(max_examples=200, deadline=None)
@given(terms=terms_strategy, shares=st.lists(st.integers(1, 10_000), min_size=1, max_size=30))
def test_any_sequence_of_payments_keeps_the_books_exact(terms, shares):
    dues = dues_of(build_schedule(LoanTerms(**terms)))
    total_owed = outstanding(dues)
    # Payments as shares of what is owed, some of them beyond it (early repayment, over-payment).
    paid_in = Decimal(0)
    settled_parts = dict.fromkeys(PARTS, Decimal(0))
    overpaid = Decimal(0)
    for share in shares:
        if outstanding(dues) == 0:
            break
        amount = max(CENT, (total_owed * share / 5000).quantize(CENT))
        before = dues
        result = allocate(dues, amount)
        dues = list(result.dues_after)
        paid_in += amount
        overpaid += result.overpaid
        for part in PARTS:
            settled_parts[part] += result.total(part)
        # The payment is split exactly.
        assert sum(result.total(p) for p in PARTS) + result.overpaid == amount
        # Over-payment only once nothing is owed.
        assert result.overpaid == 0 or outstanding(dues) == 0
        for _old, new in zip(before, dues, strict=True):
            for part in PARTS:
                assert 0 <= getattr(new, f"paid_{part}") <= getattr(new, part)
        # Oldest first: a row is touched only when every older row is settled.
        touched = [r.number for r in result.rows]
        for number in touched[:-1]:
            assert next(d for d in dues if d.number == number).settled
        # Within the last row touched, principal is paid only after fees and interest.
        last = next(d for d in dues if d.number == touched[-1])
        if result.rows[-1].principal > 0:
            assert last.owed("fee") == 0 and last.owed("interest") == 0
    assert paid_in == total_owed - outstanding(dues) + overpaid
    assert settled_parts["principal"] == sum(d.paid_principal for d in dues)
    assert settled_parts["principal"] <= terms["principal"]
