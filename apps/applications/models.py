"""Loan applications, agreements, loans, their schedules and repayments.

As in Fineract, an application and the loan it becomes are one record (`Loan`) moving through
one lifecycle: submitted, approved, active (disbursed), then closed, over-paid or written off;
or rejected or withdrawn before disbursement. Private: the public loan book sees only the
pseudonymous `public_id`, the project, amounts, dates, states and the agreement hash.
"""

from __future__ import annotations

import uuid
from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from apps.identity.models import Organization, PresentationRecord
from apps.projects.models import Project, money_text

from . import repayment


def _money(**kwargs) -> models.DecimalField:
    return models.DecimalField(max_digits=18, decimal_places=3, **kwargs)


class LoanStatus(models.TextChoices):
    SUBMITTED = "submitted", "Submitted, pending approval"
    APPROVED = "approved", "Approved"
    ACTIVE = "active", "Active"
    OVERPAID = "overpaid", "Over-paid: a refund is due"
    CLOSED = "closed", "Closed, obligations met"
    WRITTEN_OFF = "written_off", "Written off"
    REJECTED = "rejected", "Rejected"
    WITHDRAWN = "withdrawn", "Withdrawn by the borrower"


OPEN_STATUSES = (LoanStatus.SUBMITTED, LoanStatus.APPROVED, LoanStatus.ACTIVE, LoanStatus.OVERPAID)
# The applications and loans waiting for staff, that the queues count (selectors.queue_counts);
# a partial index holds only these, a few percent of an organization's loans.
WAITING = Q(status__in=["submitted", "approved"]) | Q(status="active", days_past_due__gt=0)


class Awaiting(models.TextChoices):
    NOBODY = "", "Nobody"
    BORROWER = "borrower", "The borrower"
    STAFF = "staff", "Staff"


class Bucket(models.TextChoices):
    CURRENT = repayment.CURRENT, "Current"
    B1_30 = "1-30", "1-30 days late"
    B31_60 = "31-60", "31-60 days late"
    B61_90 = "61-90", "61-90 days late"
    B90 = "90+", "More than 90 days late"


class Rail(models.TextChoices):
    CASH = "cash", "Cash"
    MOBILE_MONEY = "mobile_money", "Mobile money"
    BANK_TRANSFER = "bank_transfer", "Bank transfer"
    ONCHAIN = "onchain", "On-chain transaction"


class Loan(models.Model):
    """One borrower's application for a loan under a project, and that loan."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    project = models.ForeignKey(Project, on_delete=models.PROTECT, related_name="loans")
    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="loans")
    borrower = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="loans"
    )
    currency = models.CharField(max_length=3)
    amount = _money()
    duration = models.PositiveIntegerField()
    purpose = models.TextField(max_length=1000)
    status = models.CharField(max_length=16, choices=LoanStatus.choices)
    version = models.PositiveIntegerField(default=1)

    consent_version = models.CharField(max_length=16)
    consented_at = models.DateTimeField()
    presentation = models.OneToOneField(
        PresentationRecord, null=True, blank=True, on_delete=models.PROTECT, related_name="loan"
    )
    eligibility = models.JSONField(default=list, blank=True)  # rule results at submission
    awaiting = models.CharField(max_length=16, choices=Awaiting.choices, blank=True)

    needs_second_approval = models.BooleanField(default=False)
    first_approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    first_approved_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_reason = models.CharField(max_length=500, blank=True)

    # Set once both parties signed: what the loan book shows of the agreement.
    agreement_hash = models.CharField(max_length=64, blank=True)
    disbursed_on = models.DateField(null=True, blank=True)
    closed_on = models.DateField(null=True, blank=True)
    days_past_due = models.PositiveIntegerField(default=0)
    arrears_bucket = models.CharField(max_length=8, choices=Bucket.choices, default=Bucket.CURRENT)
    principal_repaid = _money(default=0)
    interest_repaid = _money(default=0)
    fees_repaid = _money(default=0)
    overpaid = _money(default=0)
    written_off_amount = _money(default=0)

    submitted_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-submitted_at", "-id"]
        indexes = [
            models.Index(fields=["organization", "status", "-submitted_at"], name="loan_queue"),
            # The queue unfiltered, newest first, and its pages.
            models.Index(
                fields=["organization", "-submitted_at", "-id"], name="loan_by_organization"
            ),
            models.Index(
                fields=["organization", "status"],
                condition=WAITING,
                include=["first_approved_by", "days_past_due", "agreement_hash"],
                name="loan_waiting",
            ),
            # The last change of an organization's loans: what its cached figures depend on.
            models.Index(fields=["organization", "updated_at"], name="loan_changed"),
            models.Index(fields=["borrower", "-submitted_at"], name="loan_by_borrower"),
            models.Index(fields=["status", "arrears_bucket"], name="loan_arrears"),
        ]
        constraints = [
            models.CheckConstraint(name="loan_amount_positive", condition=Q(amount__gt=0)),
            models.UniqueConstraint(
                fields=["borrower", "project"],
                condition=Q(status__in=[s.value for s in OPEN_STATUSES]),
                name="one_open_loan_per_project",
            ),
        ]

    def __str__(self) -> str:
        return f"Loan {self.pk} ({self.get_status_display()})"

    @property
    def reference(self) -> str:
        return f"L-{self.pk:06d}"

    def money(self, amount: Decimal) -> str:
        return money_text(Decimal(amount), self.currency)

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES


class LoanEvent(models.Model):
    """The audit trail: every action on an application or loan, who took it, when, and what it
    changed."""

    loan = models.ForeignKey(Loan, on_delete=models.CASCADE, related_name="events")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    action = models.CharField(max_length=40)
    from_status = models.CharField(max_length=16, choices=LoanStatus.choices, blank=True)
    to_status = models.CharField(max_length=16, choices=LoanStatus.choices, blank=True)
    changes = models.JSONField(default=dict, blank=True)
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.loan_id}: {self.action}"


class Message(models.Model):
    """The conversation between staff and the borrower about one application."""

    loan = models.ForeignKey(Loan, on_delete=models.CASCADE, related_name="messages")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    from_staff = models.BooleanField()
    body = models.TextField(max_length=4000)
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"message on {self.loan_id} at {self.at:%Y-%m-%d %H:%M}"


class ApprovalLimit(models.Model):
    """Applications above AMOUNT (in CURRENCY) need a second staff member's approval."""

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="approval_limits"
    )
    currency = models.CharField(max_length=3)
    amount = _money()
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["currency"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "currency"], name="one_limit_per_ccy"),
            models.CheckConstraint(name="limit_not_negative", condition=Q(amount__gte=0)),
        ]

    def __str__(self) -> str:
        return f"{self.organization}: second approval above {self.amount} {self.currency}"


class SignedAgreement(models.Model):
    """A canonical agreement document (agreement.py) between an organization and one
    counterparty, and both parties' signatures of its hash. Subclasses name the counterparty's
    role (COUNTERPARTY) and hold its <role>_did, _signature and _signed_at fields."""

    COUNTERPARTY = ""

    document = models.JSONField()
    hash = models.CharField(max_length=64, unique=True)
    originator_did = models.CharField(max_length=120)
    originator_signature = models.TextField()
    originator_signed_at = models.DateTimeField()
    originator_signed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        abstract = True

    @property
    def counterparty_signature(self) -> str:
        return getattr(self, f"{self.COUNTERPARTY}_signature")

    @property
    def fully_signed(self) -> bool:
        return bool(self.counterparty_signature)

    def signed_file(self) -> dict:
        signatures = {"originator": self.originator_signature}
        if self.counterparty_signature:
            signatures[self.COUNTERPARTY] = self.counterparty_signature
        return {"document": self.document, "hash": self.hash, "signatures": signatures}


class Agreement(SignedAgreement):
    """The canonical loan agreement and both parties' signatures of its hash."""

    COUNTERPARTY = "borrower"

    loan = models.OneToOneField(Loan, on_delete=models.CASCADE, related_name="agreement")
    borrower_did = models.CharField(max_length=120)
    borrower_signature = models.TextField(blank=True)
    borrower_signed_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"agreement {self.hash[:12]}… of loan {self.loan_id}"


class Disbursement(models.Model):
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    loan = models.OneToOneField(Loan, on_delete=models.CASCADE, related_name="disbursement")
    rail = models.CharField(max_length=16, choices=Rail.choices)
    reference = models.CharField(max_length=120)
    disbursed_on = models.DateField()
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    recorded_at = models.DateTimeField(default=timezone.now)
    code_hash = models.CharField(max_length=64, blank=True)
    code_attempts = models.PositiveSmallIntegerField(default=0)
    confirmed_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"disbursement of loan {self.loan_id} ({self.rail} {self.reference})"


class Installment(models.Model):
    """One row of an active loan's schedule (0: the disbursement fee) and what is paid of it."""

    loan = models.ForeignKey(Loan, on_delete=models.CASCADE, related_name="installments")
    number = models.PositiveIntegerField()
    due_on = models.DateField()
    principal = _money()
    interest = _money()
    fee = _money()
    paid_principal = _money(default=0)
    paid_interest = _money(default=0)
    paid_fee = _money(default=0)
    paid_off_on = models.DateField(null=True, blank=True)

    class Meta:
        ordering = ["number"]
        constraints = [
            models.UniqueConstraint(fields=["loan", "number"], name="installment_number"),
            models.CheckConstraint(
                name="installment_not_overpaid",
                condition=Q(paid_principal__lte=models.F("principal"))
                & Q(paid_interest__lte=models.F("interest"))
                & Q(paid_fee__lte=models.F("fee")),
            ),
        ]
        indexes = [models.Index(fields=["due_on", "paid_off_on"], name="installment_due")]

    def __str__(self) -> str:
        return f"installment {self.number} of loan {self.loan_id}"

    @property
    def total_due(self) -> Decimal:
        return self.principal + self.interest + self.fee

    @property
    def total_paid(self) -> Decimal:
        return self.paid_principal + self.paid_interest + self.paid_fee

    @property
    def outstanding(self) -> Decimal:
        return self.total_due - self.total_paid

    def as_due(self) -> repayment.Due:
        return repayment.Due(
            number=self.number,
            due_on=self.due_on,
            principal=self.principal,
            interest=self.interest,
            fee=self.fee,
            paid_principal=self.paid_principal,
            paid_interest=self.paid_interest,
            paid_fee=self.paid_fee,
        )


class Repayment(models.Model):
    """A payment towards a loan: recorded by staff, or reported by the borrower and confirmed by
    staff. The payment reference is unique per loan: the same payment twice is one payment."""

    class Status(models.TextChoices):
        REPORTED = "reported", "Reported by the borrower, to confirm"
        APPLIED = "applied", "Applied"
        REJECTED = "rejected", "Not received"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    loan = models.ForeignKey(Loan, on_delete=models.PROTECT, related_name="repayments")
    reference = models.CharField(max_length=120)
    rail = models.CharField(max_length=16, choices=Rail.choices)
    amount = _money()
    paid_on = models.DateField()
    status = models.CharField(max_length=16, choices=Status.choices)
    principal = _money(default=0)
    interest = _money(default=0)
    fee = _money(default=0)
    overpaid = _money(default=0)
    reported_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    rejection_reason = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    applied_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-paid_on", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["loan", "reference"], name="repayment_reference"),
            models.CheckConstraint(name="repayment_positive", condition=Q(amount__gt=0)),
        ]
        indexes = [models.Index(fields=["status", "-created_at"], name="repayment_pending")]

    def __str__(self) -> str:
        return f"{self.amount} {self.loan.currency} on loan {self.loan_id} ({self.reference})"


class Reminder(models.Model):
    """A reminder sent about one installment; at most one of each kind."""

    installment = models.ForeignKey(Installment, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=16)
    sent_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["installment", "kind"], name="reminder_once")
        ]

    def __str__(self) -> str:
        return f"{self.kind} reminder for installment {self.installment_id}"
