"""What loans tell other apps (funding), without knowing them. Both are sent inside the
transaction that made the change, so a receiver's writes commit or roll back with it."""

from django.dispatch import Signal

# A repayment was applied: loan, payment (its principal, interest, fee and over-paid parts).
repayment_applied = Signal()
# A loan was written off: loan, payment_id (its entry in the payments book), amount, on.
loan_written_off = Signal()
