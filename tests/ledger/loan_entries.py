"""Versions of one loan in the loans book, as the loans app publishes them."""

from __future__ import annotations

from apps.ledger.models import Book
from apps.ledger.services import book_publish


def publish_loan_version(*, loan: str, status: str, version: int) -> None:
    book_publish(
        book=Book.LOANS,
        entry_type="growr/loan",
        version=1,
        key=f"loan:{loan}",
        value={
            "loan": loan,
            "project": loan,
            "version": version,
            "status": status,
            "currency": "KES",
            "amount": "500.00",
            "duration": 6,
            "duration_unit": "months",
            "submitted_on": "2026-11-20",
            "agreement_hash": None,
            "disbursed_on": None,
            "closed_on": None,
            "repaid": {"principal": "0.00", "interest": "0.00", "fees": "0.00"},
            "written_off": "0.00",
            "days_past_due": 0,
            "arrears_bucket": "current",
        },
    )
