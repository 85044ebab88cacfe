"""Reads for projects: lists for staff and borrowers, one project's page, schedule previews."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet
from django.utils import timezone

from apps.identity.models import Organization, User

from . import schedule
from .models import Frequency, Project, ProjectStatus

VISIBLE = (ProjectStatus.PUBLISHED, ProjectStatus.PAUSED, ProjectStatus.CLOSED)


def organization_projects(*, organization: Organization, status: str = "") -> QuerySet[Project]:
    projects = Project.objects.filter(organization=organization).defer("image", "description")
    return projects.filter(status=status) if status else projects


def open_projects(
    *,
    amount: Decimal | None = None,
    duration: int | None = None,
    currency: str = "",
    today: date | None = None,
) -> QuerySet[Project]:
    """Projects taking applications today, newest first, narrowed to those whose loan range
    holds AMOUNT and DURATION, in CURRENCY."""
    today = today or timezone.localdate()
    projects = (
        Project.objects.filter(
            status=ProjectStatus.PUBLISHED, starts_on__lte=today, ends_on__gte=today
        )
        .select_related("organization")
        .defer("image")
        .order_by("-published_at", "pk")
    )
    if amount is not None:
        projects = projects.filter(min_amount__lte=amount, max_amount__gte=amount)
    if duration is not None:
        projects = projects.filter(min_duration__lte=duration, max_duration__gte=duration)
    if currency:
        projects = projects.filter(currency=currency.upper())
    return projects


def project_for_viewer(*, pk, viewer: User | None) -> Project | None:
    """A project as a page shows it: a published, paused or closed one to anyone, a draft only
    to its organization's staff."""
    visible = Q(status__in=VISIBLE)
    if viewer is not None and viewer.is_authenticated and viewer.organization_id:
        visible |= Q(organization_id=viewer.organization_id)
    return (
        Project.objects.filter(visible, pk=pk).select_related("organization").defer("image").first()
    )


def project_image(*, pk) -> tuple[bytes, str] | None:
    row = (
        Project.objects.filter(pk=pk, status__in=VISIBLE, image__isnull=False)
        .values_list("image", "image_type")
        .first()
    )
    return (bytes(row[0]), row[1]) if row else None


def loan_terms(
    *, project: Project, amount: Decimal, duration: int, disbursed_on: date
) -> schedule.LoanTerms:
    """The terms of one loan of AMOUNT over DURATION under PROJECT, if they are in its range."""
    errors = {}
    if not project.min_amount <= amount <= project.max_amount:
        errors["amount"] = (
            f"Between {project.min_amount} and {project.max_amount} {project.currency}."
        )
    if not project.min_duration <= duration <= project.max_duration:
        errors["duration"] = f"Between {project.min_duration} and {project.max_duration}."
    if errors:
        raise ValidationError(errors)
    bullet = project.repayment_frequency == Frequency.BULLET
    try:
        return schedule.LoanTerms(
            principal=amount,
            currency=project.currency,
            annual_rate=project.annual_rate,
            method=project.interest_method,
            frequency=project.repayment_frequency,
            disbursed_on=disbursed_on,
            installments=None if bullet else duration,
            duration_days=duration if bullet else None,
            grace_periods=project.grace_periods,
            fee_percent=project.fee_percent,
            fee_fixed=project.fee_fixed,
        )
    except schedule.InvalidTerms as exc:
        raise ValidationError(
            {exc.field if exc.field in ("amount",) else "amount": str(exc)}
        ) from exc


def schedule_preview(
    *, project: Project, amount: Decimal, duration: int, disbursed_on: date | None = None
) -> schedule.Schedule:
    """The whole repayment schedule and cost of one loan, as the borrower would owe it if it were
    disbursed on DISBURSED_ON (today by default)."""
    terms = loan_terms(
        project=project,
        amount=amount,
        duration=duration,
        disbursed_on=disbursed_on or timezone.localdate(),
    )
    return schedule.build_schedule(terms)
