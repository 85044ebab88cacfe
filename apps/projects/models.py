"""Lending projects: an originator's loan offer, its terms and eligibility criteria.

A project is private while it is a draft; from its publication every version of its terms goes to
the public projects book. Amounts are Decimals in the project's currency, never floats.
"""

from __future__ import annotations

import uuid
from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from apps.identity.models import Organization

from . import schedule


class ProjectStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    PUBLISHED = "published", "Open for applications"
    PAUSED = "paused", "Paused"
    CLOSED = "closed", "Closed"


class InterestMethod(models.TextChoices):
    FLAT = schedule.InterestMethod.FLAT.value, "Flat"
    DECLINING_EQUAL_INSTALLMENTS = (
        schedule.InterestMethod.DECLINING_EQUAL_INSTALLMENTS.value,
        "Declining balance, equal installments",
    )
    DECLINING_EQUAL_PRINCIPAL = (
        schedule.InterestMethod.DECLINING_EQUAL_PRINCIPAL.value,
        "Declining balance, equal principal",
    )


class Frequency(models.TextChoices):
    WEEKLY = schedule.Frequency.WEEKLY.value, "Weekly"
    BIWEEKLY = schedule.Frequency.BIWEEKLY.value, "Every two weeks"
    MONTHLY = schedule.Frequency.MONTHLY.value, "Monthly"
    BULLET = schedule.Frequency.BULLET.value, "Once, at the end (e.g. after the harvest)"


DURATION_UNITS = {
    Frequency.WEEKLY: "weeks",
    Frequency.BIWEEKLY: "fortnights",
    Frequency.MONTHLY: "months",
    Frequency.BULLET: "days",
}


def money_text(amount: Decimal, currency: str) -> str:
    """AMOUNT as the currency writes it (stored amounts carry the column's 3 decimals)."""
    return str(amount.quantize(Decimal(1).scaleb(-schedule.minor_units(currency))))


class CloseReason(models.TextChoices):
    BY_HAND = "by_hand", "Closed by staff"
    END_DATE = "end_date", "The end date passed"
    TARGET = "target", "The target was reached"


def _money(**kwargs) -> models.DecimalField:
    return models.DecimalField(max_digits=18, decimal_places=3, **kwargs)


class Project(models.Model):
    """A loan offer: every loan goes through one. Durations count repayment periods of the
    project's frequency (weeks, fortnights, months), or days for a bullet repayment."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey(
        Organization, on_delete=models.PROTECT, related_name="projects"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    name = models.CharField(max_length=120)
    description = models.TextField(max_length=4000, blank=True)
    image = models.BinaryField(null=True, blank=True, editable=False)
    image_type = models.CharField(max_length=32, blank=True)
    currency = models.CharField(max_length=3)
    target_amount = _money()
    min_amount = _money()
    max_amount = _money()
    min_duration = models.PositiveIntegerField()
    max_duration = models.PositiveIntegerField()
    annual_rate = models.DecimalField(max_digits=7, decimal_places=4)
    interest_method = models.CharField(max_length=32, choices=InterestMethod.choices)
    repayment_frequency = models.CharField(max_length=16, choices=Frequency.choices)
    grace_periods = models.PositiveIntegerField(default=0)
    fee_percent = models.DecimalField(max_digits=6, decimal_places=3, default=0)
    fee_fixed = _money(default=0)
    starts_on = models.DateField()
    ends_on = models.DateField()
    invite_only = models.BooleanField(default=False)
    min_ticket = _money(default=0)
    # What one investor may commit at most; 0 for no cap beyond the target.
    max_ticket = _money(default=0)
    first_loss_percent = models.DecimalField(max_digits=6, decimal_places=3, default=0)
    eligibility = models.JSONField(default=dict, blank=True)
    status = models.CharField(
        max_length=16, choices=ProjectStatus.choices, default=ProjectStatus.DRAFT
    )
    version = models.PositiveIntegerField(default=0)
    close_reason = models.CharField(max_length=16, choices=CloseReason.choices, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    published_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["status", "-published_at"], name="project_open"),
            models.Index(fields=["organization", "-created_at"], name="project_by_org"),
            # An organization's projects counted by status (the staff dashboard).
            models.Index(fields=["organization", "status"], name="project_org_status"),
            # The last change of any project: what cached lists of projects depend on.
            models.Index(fields=["updated_at"], name="project_changed"),
        ]
        constraints = [
            models.CheckConstraint(
                name="project_amounts_in_order",
                condition=Q(min_amount__gt=0)
                & Q(min_amount__lte=models.F("max_amount"))
                & Q(max_amount__lte=models.F("target_amount")),
            ),
            models.CheckConstraint(
                name="project_durations_in_order",
                condition=Q(min_duration__gt=0) & Q(min_duration__lte=models.F("max_duration")),
            ),
            models.CheckConstraint(
                name="project_dates_in_order", condition=Q(starts_on__lte=models.F("ends_on"))
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_status_display()})"


class ProjectEvent(models.Model):
    """Every change of a project's state or published terms: who, when, from what to what."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="events")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    from_status = models.CharField(max_length=16, choices=ProjectStatus.choices, blank=True)
    to_status = models.CharField(max_length=16, choices=ProjectStatus.choices)
    version = models.PositiveIntegerField()
    detail = models.CharField(max_length=300, blank=True)
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.project_id}: {self.from_status or 'new'} → {self.to_status}"
