"""Investors' commitments to projects, and what every repayment and loss gives or takes of them.

Private: the public funding book sees a commitment only under a pseudonym of its investor (a
keyed hash, different for every project), with its amount and state.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from apps.applications.models import SignedAgreement
from apps.projects.models import Project, ProjectStatus, money_text


def _money(**kwargs) -> models.DecimalField:
    return models.DecimalField(max_digits=18, decimal_places=3, **kwargs)


class CommitmentStatus(models.TextChoices):
    PENDING = "pending", "Committed, funds not yet received"
    CONFIRMED = "confirmed", "Funds received"
    CANCELLED = "cancelled", "Cancelled"
    REFUND_DUE = "refund_due", "The project ended unfunded: refund due"
    REFUNDED = "refunded", "Refunded"


# What counts against a project's target.
COUNTED = (CommitmentStatus.PENDING, CommitmentStatus.CONFIRMED)


class Commitment(models.Model):
    """An investor's commitment of an amount to a project, made on this node by a local investor
    or sent signed by an investor's own node."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    project = models.ForeignKey(Project, on_delete=models.PROTECT, related_name="commitments")
    investor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="commitments",
    )
    investor_did = models.CharField(max_length=120)
    pseudonym = models.CharField(max_length=64)
    # Chosen by the investor's page or node for each new commitment: a retry is the same one.
    request_id = models.CharField(max_length=64)
    currency = models.CharField(max_length=3)
    amount = _money()
    status = models.CharField(max_length=16, choices=CommitmentStatus.choices)
    created_at = models.DateTimeField(default=timezone.now)
    confirmed_at = models.DateTimeField(null=True, blank=True)
    confirmed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    payment_reference = models.CharField(max_length=120, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    refund_reference = models.CharField(max_length=120, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(name="commitment_positive", condition=Q(amount__gt=0)),
            models.UniqueConstraint(
                fields=["project", "investor_did", "request_id"], name="commitment_request_once"
            ),
        ]
        indexes = [
            models.Index(fields=["project", "status"], name="commitment_by_project"),
            models.Index(fields=["investor_did", "-created_at"], name="commitment_by_investor"),
        ]

    def __str__(self) -> str:
        return f"{money_text(self.amount, self.currency)} {self.currency} to {self.project_id}"


class Distribution(models.Model):
    """A commitment's part of one repayment (principal and interest returned) or of one loss."""

    class Kind(models.TextChoices):
        REPAYMENT = "repayment", "Repayment"
        LOSS = "loss", "Loss"

    commitment = models.ForeignKey(
        Commitment, on_delete=models.PROTECT, related_name="distributions"
    )
    kind = models.CharField(max_length=16, choices=Kind.choices)
    loan_public_id = models.UUIDField()
    payment_public_id = models.UUIDField()
    on = models.DateField()
    principal = _money(default=0)
    interest = _money(default=0)
    loss = _money(default=0)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-on", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["commitment", "payment_public_id"], name="distribution_once"
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} for {self.commitment_id} on {self.on}"


class FirstLossUse(models.Model):
    """What the originator's first-loss cover of a project took of one loss."""

    project = models.ForeignKey(Project, on_delete=models.PROTECT, related_name="cover_uses")
    payment_public_id = models.UUIDField(unique=True)
    amount = _money()
    on = models.DateField()

    def __str__(self) -> str:
        return f"first-loss cover of {self.project_id}: {self.amount} on {self.on}"


# --- invitations to invite-only projects ------------------------------------------------------


class InvitationStatus(models.TextChoices):
    REQUESTED = "requested", "Requested by the investor"
    INVITED = "invited", "Invited: the investor has to sign the agreement"
    CONFIRMED = "confirmed", "Confirmed: the agreement is signed by both"
    DECLINED = "declined", "Declined by the originator"
    WITHDRAWN = "withdrawn", "Withdrawn by the investor"


# An investor has at most one of these per project at a time.
OPEN_INVITATION = (
    InvitationStatus.REQUESTED,
    InvitationStatus.INVITED,
    InvitationStatus.CONFIRMED,
)
# The projects invitations are asked for, sent and signed for (when they are invite-only).
INVITABLE = (ProjectStatus.PUBLISHED, ProjectStatus.PAUSED)


class Invitation(models.Model):
    """An investor's access to an invite-only project: asked for by the investor or offered by
    the project's organization, confirmed once both signed the investment agreement."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    project = models.ForeignKey(Project, on_delete=models.PROTECT, related_name="invitations")
    investor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="project_invitations"
    )
    status = models.CharField(max_length=16, choices=InvitationStatus.choices)
    # What the investor wrote with the request, for the originator's staff, and the KYC
    # credential they chose to show them with it.
    note = models.TextField(max_length=1000, blank=True)
    kyc_credential = models.ForeignKey(
        "identity.CredentialRecord",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    requested_at = models.DateTimeField(null=True, blank=True)
    invited_at = models.DateTimeField(null=True, blank=True)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    confirmed_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    close_reason = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["project", "investor"],
                condition=Q(status__in=OPEN_INVITATION),
                name="invitation_open_once",
            )
        ]
        indexes = [
            models.Index(fields=["project", "status"], name="invitation_by_project"),
            models.Index(fields=["investor", "-created_at"], name="invitation_by_investor"),
        ]

    def __str__(self) -> str:
        return f"invitation {self.reference} to {self.project_id} ({self.status})"

    @property
    def reference(self) -> str:
        return f"I-{self.pk:06d}" if self.pk else "I-new"


class InvitationEvent(models.Model):
    """The audit trail of an invitation: every step, who took it, when, and what it changed."""

    invitation = models.ForeignKey(Invitation, on_delete=models.CASCADE, related_name="events")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    action = models.CharField(max_length=40)
    from_status = models.CharField(max_length=16, choices=InvitationStatus.choices, blank=True)
    to_status = models.CharField(max_length=16, choices=InvitationStatus.choices, blank=True)
    changes = models.JSONField(default=dict, blank=True)
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.invitation_id}: {self.action}"


class InvestmentAgreement(SignedAgreement):
    """The canonical investment agreement of an invitation and both parties' signatures of its
    hash (apps/applications/agreement.py, format growr/investment-agreement)."""

    COUNTERPARTY = "investor"

    invitation = models.OneToOneField(
        Invitation, on_delete=models.CASCADE, related_name="agreement"
    )
    investor_did = models.CharField(max_length=120)
    investor_signature = models.TextField(blank=True)
    investor_signed_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"investment agreement {self.hash[:12]}… of invitation {self.invitation_id}"


class RemoteCommitment(models.Model):
    """A commitment this node's investor sent to a project on an originator's node. What the
    originator answered is kept; its state afterwards comes from the originator's funding book,
    which this node follows."""

    investor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="remote_commitments"
    )
    origin_url = models.URLField(max_length=500)
    project_id = models.UUIDField()
    project_name = models.CharField(max_length=200)
    request_id = models.CharField(max_length=64)
    commitment_id = models.UUIDField(unique=True)
    currency = models.CharField(max_length=3)
    amount = _money()
    answered_status = models.CharField(max_length=16)
    # The key of the originator's own funding book, as its node answered: only that book speaks
    # for the commitment (any node may write its id into a book of its own). Empty for a
    # commitment sent before nodes answered it; such a one shows the answer only.
    funding_book_key = models.BinaryField(max_length=32, default=b"")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["investor", "request_id"], name="remote_request_once")
        ]

    def __str__(self) -> str:
        return f"{money_text(self.amount, self.currency)} {self.currency} to {self.project_id}"
