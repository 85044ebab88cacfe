"""The whole story of one loan, from Wanjiru's application to the credential its closing adds to
her credit record, through the services staff and borrowers use."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from apps.applications import services
from apps.applications.agreement import verify_signed_agreement
from apps.applications.models import LoanStatus, Repayment
from apps.identity.credential_selectors import credit_record
from apps.ledger.models import Book, BookKey, OutboxEntry

from .conftest import PASSWORD


def test_wanjiru_applies_is_approved_signs_is_disbursed_repays_and_gains_a_credential(
    apply, goats, wanjiru, juma, amina
):
    loan = apply(wanjiru, goats, amount="20000", duration=12)
    assert loan.status == LoanStatus.SUBMITTED
    assert {r["status"] for r in loan.eligibility} == {"met"}
    # Only the claims the criteria read were kept from her presentation.
    assert loan.presentation.disclosed == {
        "age": {"birthDate": "1990-02-03"},
        "citizenship": {"citizenship": "KE"},
    }

    services.application_approve(actor=juma, loan=loan)
    loan.refresh_from_db()
    assert loan.status == LoanStatus.APPROVED
    agreement = loan.agreement
    assert agreement.document["terms"]["principal"] == "20000.00"
    assert agreement.document["parties"]["borrower"]["name"] == "Wanjiru Kamau"

    with pytest.raises(ValidationError):
        services.loan_disburse(actor=juma, loan=loan, rail="mobile_money", reference="QX1")
    with pytest.raises(ValidationError):
        services.agreement_sign(borrower=wanjiru, loan=loan, password="not my password")
    services.agreement_sign(borrower=wanjiru, loan=loan, password=PASSWORD)
    agreement.refresh_from_db()
    verified = verify_signed_agreement(agreement.signed_file())
    assert verified.fully_signed

    services.loan_disburse(actor=juma, loan=loan, rail="mobile_money", reference="QX1")
    loan.refresh_from_db()
    assert loan.status == LoanStatus.ACTIVE
    rows = list(loan.installments.all())
    assert rows[0].number == 0 and rows[0].fee == Decimal("300.00")  # 1.5% of 20,000
    owed = sum(r.total_due for r in rows)

    payment = services.repayment_record(
        actor=juma,
        loan=loan,
        amount=owed,
        reference="QX2",
        rail="mobile_money",
        paid_on=timezone.localdate(),
    )
    assert payment.status == Repayment.Status.APPLIED
    loan.refresh_from_db()
    assert loan.status == LoanStatus.CLOSED
    assert loan.principal_repaid == Decimal("20000")

    history = [
        e for e in credit_record(holder=wanjiru) if e.record.credential_type == "repayment_history"
    ]
    assert len(history) == 1 and history[0].usable
    claims = history[0].record.claims
    assert claims["loansRepaid"] == 1 and claims["lastLoanInstallments"] == 12
    assert claims["lastLoanAmountBand"] == "20000-50000 KES"
    assert claims["lastLoanOnTimeRatio"] == "1.00"

    loan_key = BookKey.objects.filter(key=f"loan:{loan.public_id}").exists() or (
        OutboxEntry.objects.filter(book=Book.LOANS).exists()
    )
    assert loan_key


def test_an_agent_cannot_approve_above_the_limit_alone(apply, goats, wanjiru, juma, amina):
    services.approval_limit_set(actor=amina, currency="KES", amount="15000")
    loan = apply(wanjiru, goats, amount="20000")
    services.application_approve(actor=juma, loan=loan)
    loan.refresh_from_db()
    assert loan.status == LoanStatus.SUBMITTED and loan.first_approved_by == juma
    with pytest.raises(PermissionDenied):
        services.application_approve(actor=juma, loan=loan)
    services.application_approve(actor=amina, loan=loan)
    loan.refresh_from_db()
    assert loan.status == LoanStatus.APPROVED
