"""Every move that the lifecycle does not allow from a status is refused, with a reason, and
changes nothing: not the loan, not its audit trail, not the books."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from apps.applications import services
from apps.applications.models import LoanStatus
from apps.ledger.models import OutboxEntry

from .conftest import PASSWORD


def _approved(loan, juma, wanjiru):
    services.application_approve(actor=juma, loan=loan)
    services.agreement_sign(borrower=wanjiru, loan=loan, password=PASSWORD)


def _active(loan, juma, wanjiru):
    _approved(loan, juma, wanjiru)
    services.loan_disburse(actor=juma, loan=loan, rail="cash", reference="D1")


def _paid(loan, juma, extra):
    owed = sum(r.total_due for r in loan.installments.all())
    services.repayment_record(
        actor=juma, loan=loan, amount=str(owed + extra), reference="ALL", rail="cash",
        paid_on=timezone.localdate(),
    )  # fmt: skip


SETUPS = {
    LoanStatus.SUBMITTED: lambda loan, juma, amina, wanjiru: None,
    LoanStatus.APPROVED: lambda loan, juma, amina, wanjiru: _approved(loan, juma, wanjiru),
    LoanStatus.ACTIVE: lambda loan, juma, amina, wanjiru: _active(loan, juma, wanjiru),
    LoanStatus.OVERPAID: lambda loan, juma, amina, wanjiru: (
        _active(loan, juma, wanjiru),
        _paid(loan, juma, Decimal(5)),
    ),
    LoanStatus.CLOSED: lambda loan, juma, amina, wanjiru: (
        _active(loan, juma, wanjiru),
        _paid(loan, juma, Decimal(0)),
    ),
    LoanStatus.WRITTEN_OFF: lambda loan, juma, amina, wanjiru: (
        _active(loan, juma, wanjiru),
        services.loan_write_off(actor=amina, loan=loan, reason="unreachable"),
    ),
    LoanStatus.REJECTED: lambda loan, juma, amina, wanjiru: services.application_reject(
        actor=juma, loan=loan, reason="no"
    ),
    LoanStatus.WITHDRAWN: lambda loan, juma, amina, wanjiru: services.application_withdraw(
        borrower=wanjiru, loan=loan
    ),
}

MOVES = {
    "approve": (
        {LoanStatus.SUBMITTED},
        lambda loan, juma, amina, wanjiru: services.application_approve(actor=juma, loan=loan),
    ),
    "reject": (
        {LoanStatus.SUBMITTED},
        lambda loan, juma, amina, wanjiru: services.application_reject(
            actor=juma, loan=loan, reason="no"
        ),
    ),
    "request information": (
        {LoanStatus.SUBMITTED},
        lambda loan, juma, amina, wanjiru: services.application_request_information(
            actor=juma, loan=loan, question="?"
        ),
    ),
    "withdraw": (
        {LoanStatus.SUBMITTED, LoanStatus.APPROVED},
        lambda loan, juma, amina, wanjiru: services.application_withdraw(
            borrower=wanjiru, loan=loan
        ),
    ),
    "sign": (
        set(),  # allowed only once, when approved and unsigned (every setup signs)
        lambda loan, juma, amina, wanjiru: services.agreement_sign(
            borrower=wanjiru, loan=loan, password=PASSWORD
        ),
    ),
    "disburse": (
        {LoanStatus.APPROVED},
        lambda loan, juma, amina, wanjiru: services.loan_disburse(
            actor=juma, loan=loan, rail="cash", reference="D2"
        ),
    ),
    "repay": (
        {LoanStatus.ACTIVE},
        lambda loan, juma, amina, wanjiru: services.repayment_record(
            actor=juma,
            loan=loan,
            amount="10",
            reference="R9",
            rail="cash",
            paid_on=timezone.localdate(),
        ),
    ),
    "report a payment": (
        {LoanStatus.ACTIVE},
        lambda loan, juma, amina, wanjiru: services.repayment_report(
            borrower=wanjiru,
            loan=loan,
            amount="10",
            reference="R8",
            rail="cash",
            paid_on=timezone.localdate(),
        ),
    ),
    "refund": (
        {LoanStatus.OVERPAID},
        lambda loan, juma, amina, wanjiru: services.overpayment_refund(
            actor=juma, loan=loan, rail="cash", reference="RF"
        ),
    ),
    "write off": (
        {LoanStatus.ACTIVE},
        lambda loan, juma, amina, wanjiru: services.loan_write_off(
            actor=amina, loan=loan, reason="gone"
        ),
    ),
}

REFUSED = [
    (status, move)
    for status in SETUPS
    for move, (allowed, _) in MOVES.items()
    if status not in allowed
]


@pytest.mark.parametrize(("status", "move"), REFUSED, ids=[f"{s}-{m}" for s, m in REFUSED])
def test_a_move_the_lifecycle_does_not_allow_is_refused_and_changes_nothing(
    apply, simple_goats, wanjiru, juma, amina, status, move
):
    loan = apply(wanjiru, simple_goats, amount="6000", duration=6)
    SETUPS[status](loan, juma, amina, wanjiru)
    loan.refresh_from_db()
    assert loan.status == status
    before = (loan.status, loan.version, loan.events.count(), OutboxEntry.objects.count(),
              loan.repayments.count(), loan.messages.count())  # fmt: skip
    with pytest.raises(ValidationError) as refused:
        MOVES[move][1](loan, juma, amina, wanjiru)
    assert refused.value.messages[0]
    loan.refresh_from_db()
    after = (loan.status, loan.version, loan.events.count(), OutboxEntry.objects.count(),
             loan.repayments.count(), loan.messages.count())  # fmt: skip
    assert after == before
