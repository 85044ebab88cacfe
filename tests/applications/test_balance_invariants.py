"""Balance invariants of real loans after arbitrary sequences of payments through the
services (hypothesis): every amount paid is accounted for, to the cent, in the installments, the
loan's totals, the payments' split and the public payments book."""

from __future__ import annotations

import json
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from apps.applications import services
from apps.applications.models import LoanStatus, Repayment
from apps.ledger.models import Book, OutboxEntry
from tests.factories import UserFactory

CENT = Decimal("0.01")


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    amount=st.integers(min_value=5000, max_value=40000),
    duration=st.integers(min_value=6, max_value=18),
    shares=st.lists(st.integers(min_value=1, max_value=4000), min_size=1, max_size=12),
)
def test_any_payments_keep_installments_loan_and_book_in_agreement(
    active_loan, juma, amount, duration, shares
):
    borrower = UserFactory(role="borrower")
    loan = active_loan(borrower=borrower, amount=str(amount), duration=duration)
    owed = sum(row.total_due for row in loan.installments.all())
    for number, share in enumerate(shares):
        if loan.status != LoanStatus.ACTIVE:
            break
        payment = max(CENT, (owed * share / 10000).quantize(CENT))
        services.repayment_record(
            actor=juma, loan=loan, amount=str(payment), reference=f"H{number}",
            rail="cash", paid_on=loan.disbursed_on,
        )  # fmt: skip
        loan.refresh_from_db()

    rows = list(loan.installments.all())
    applied = list(loan.repayments.filter(status=Repayment.Status.APPLIED))
    paid_in = sum(p.amount for p in applied)
    for part, column in (("principal", "principal_repaid"), ("interest", "interest_repaid"),
                         ("fee", "fees_repaid")):  # fmt: skip
        in_rows = sum(getattr(r, f"paid_{part}") for r in rows)
        assert in_rows == getattr(loan, column) == sum(getattr(p, part) for p in applied)
        assert all(0 <= getattr(r, f"paid_{part}") <= getattr(r, part) for r in rows)
    outstanding = sum(r.outstanding for r in rows)
    assert paid_in == owed - outstanding + loan.overpaid
    assert loan.principal_repaid <= loan.amount
    assert (outstanding == 0) == (loan.status in (LoanStatus.CLOSED, LoanStatus.OVERPAID))
    assert all((r.paid_off_on is not None) == (r.outstanding == 0) for r in rows)
    # The public payments book carries every applied payment with the same split.
    published = {}
    for entry in OutboxEntry.objects.filter(book=Book.PAYMENTS):
        value = json.loads(bytes(entry.data))["value"]
        if value["loan"] == str(loan.public_id) and value["kind"] == "repayment":
            published[value["payment"]] = value
    assert len(published) == len(applied)
    for p in applied:
        assert Decimal(published[str(p.public_id)]["principal"]) == p.principal
