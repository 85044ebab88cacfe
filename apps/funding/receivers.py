"""Receivers of other apps' signals. Thin: services do the work, in the sender's transaction."""

from __future__ import annotations

from . import services


def project_closed(sender, *, project, reason: str, **kwargs) -> None:
    services.commitments_close_unfunded(project=project, reason=reason)


def repayment_applied(sender, *, loan, payment, **kwargs) -> None:
    services.repayment_distribute(
        project_id=loan.project_id,
        currency=loan.currency,
        loan_public_id=loan.public_id,
        payment_public_id=payment.public_id,
        principal=payment.principal,
        interest=payment.interest,
        on=payment.paid_on,
    )


def loan_written_off(sender, *, loan, payment_id, amount, on, **kwargs) -> None:
    services.loss_distribute(
        project=loan.project,
        loan_public_id=loan.public_id,
        payment_public_id=payment_id,
        amount=amount,
        on=on,
    )


def book_entries_indexed(sender, *, log_id: int, rows, **kwargs) -> None:
    services.remote_funding_indexed(log_id=log_id, rows=rows)
