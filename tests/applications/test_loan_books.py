"""What the public books say of loans: every status and every movement of money, under
pseudonymous ids, and nothing personal, whatever the borrower and staff typed."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from django.utils import timezone

from apps.applications import services
from apps.applications.models import LoanStatus
from apps.identity.models import Wallet
from apps.ledger.models import Block, Book, Log
from apps.ledger.tasks import outbox_sweep_task

from .conftest import PASSWORD

pytestmark = pytest.mark.django_db(transaction=True)

PERSONAL = {
    "purpose": "Goats for Wanjiru Kamau of Kanduyi Market Lane 4, phone 0722 123 456",
    "question": "Wanjiru, is your ID number 31415926 still valid?",
    "reference": "MPESA QX12 WANJIRU KAMAU",
}


def book_values(book: str) -> list[dict]:
    log = Log.objects.get(writer=True, book=book)
    return [
        json.loads(bytes(d)) for d in Block.objects.filter(log=log).values_list("data", flat=True)
    ]


def test_a_loans_life_in_the_books_without_a_word_about_the_person(
    apply, simple_goats, wanjiru, juma
):
    loan = apply(wanjiru, simple_goats, amount="6000", duration=6, purpose=PERSONAL["purpose"])
    services.application_request_information(actor=juma, loan=loan, question=PERSONAL["question"])
    services.message_post(author=wanjiru, loan=loan, body="Yes, valid until 2030. Wanjiru")
    services.application_approve(actor=juma, loan=loan)
    services.agreement_sign(borrower=wanjiru, loan=loan, password=PASSWORD)
    services.loan_disburse(
        actor=juma, loan=loan, rail="mobile_money", reference=PERSONAL["reference"]
    )
    owed = sum(row.total_due for row in loan.installments.all())
    services.repayment_record(
        actor=juma, loan=loan, amount=str(owed), reference=PERSONAL["reference"] + " 2",
        rail="mobile_money", paid_on=timezone.localdate(),
    )  # fmt: skip
    outbox_sweep_task()

    loan.refresh_from_db()
    states = [
        entry["value"]["status"]
        for entry in book_values(Book.LOANS)
        if entry["key"] == f"loan:{loan.public_id}"
    ]
    # Submitted, approved, signed (the agreement hash appears), active, closed.
    assert states == ["submitted", "approved", "approved", "active", "closed"]
    last = [e for e in book_values(Book.LOANS) if e["key"] == f"loan:{loan.public_id}"][-1]
    assert last["value"]["agreement_hash"] == loan.agreement.hash
    assert last["value"]["repaid"]["principal"] == "6000.00"
    assert loan.status == LoanStatus.CLOSED

    payments = [e["value"] for e in book_values(Book.PAYMENTS)]
    assert [p["kind"] for p in payments] == ["disbursement", "repayment"]
    assert Decimal(payments[1]["amount"]) == owed

    forbidden = [
        wanjiru.full_name, wanjiru.email, "Kanduyi", "0722", "31415926", "WANJIRU",
        *Wallet.objects.filter(user__isnull=False).values_list("did", flat=True),
    ]  # fmt: skip
    for block in Block.objects.values_list("data", flat=True):
        text = bytes(block).decode().lower()
        for value in forbidden:
            assert value.lower() not in text
