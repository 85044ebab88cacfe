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

from apps.projects.models import Project, money_text


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
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["investor", "request_id"], name="remote_request_once")
        ]

    def __str__(self) -> str:
        return f"{money_text(self.amount, self.currency)} {self.currency} to {self.project_id}"
