"""Reads for projects: lists for staff and borrowers, one project's page, schedule previews."""

from __future__ import annotations

import contextlib
import uuid
from datetime import date
from decimal import Decimal

from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db.models import Count, Max, Q, QuerySet
from django.utils import timezone

from apps.identity.credential_selectors import credit_record, trusted_issuer_dids
from apps.identity.models import Organization, User

from . import eligibility, schedule
from .models import DURATION_UNITS, Frequency, Project, ProjectEvent, ProjectStatus, money_text

VISIBLE = (ProjectStatus.PUBLISHED, ProjectStatus.PAUSED, ProjectStatus.CLOSED)


def organization_projects(*, organization: Organization, status: str = "") -> QuerySet[Project]:
    projects = Project.objects.filter(organization=organization).defer("image", "description")
    return projects.filter(status=status) if status else projects


# How many projects a filter of the organization's loans offers: a select of thousands is
# unusable and cost most of the queue page's time (bench/bench_load.py).
FILTER_PROJECTS = 50


def organization_projects_to_filter(
    *, organization: Organization, selected: str = ""
) -> list[tuple[uuid.UUID, str]]:
    """The id and name of each project a filter of ORGANIZATION's loans offers, newest first: its
    FILTER_PROJECTS newest, and SELECTED (a project id from the address) when it is older. One
    query, whatever the number of projects; every project's staff page links to its loans."""
    newest = (
        Project.objects.filter(organization=organization)
        .order_by("-created_at")
        .values("pk")[:FILTER_PROJECTS]
    )
    wanted = Q(pk__in=newest)
    # Not a project id: the form refuses it and filters nothing.
    with contextlib.suppress(ValueError):
        wanted |= Q(pk=uuid.UUID(selected))
    return list(
        Project.objects.filter(wanted, organization=organization)
        .order_by("-created_at")
        .values_list("id", "name")
    )


def organization_project(*, organization: Organization, pk) -> Project | None:
    """One of ORGANIZATION's projects, drafts included, as its staff pages show it."""
    return (
        Project.objects.filter(organization=organization, pk=pk)
        .select_related("organization")
        .defer("image")
        .first()
    )


def organization_project_image(*, organization: Organization, pk) -> tuple[bytes, str] | None:
    """A project's picture for its organization's staff, drafts included."""
    row = (
        Project.objects.filter(organization=organization, pk=pk, image__isnull=False)
        .values_list("image", "image_type")
        .first()
    )
    return (bytes(row[0]), row[1]) if row else None


def organization_project_counts(*, organization: Organization) -> dict[str, int]:
    """How many of ORGANIZATION's projects are in each status (every status, zeros included)."""
    counts = dict.fromkeys(ProjectStatus.values, 0)
    rows = (
        Project.objects.filter(organization=organization)
        .order_by()
        .values_list("status")
        .annotate(n=Count("*"))  # not the ids: from the project_org_status index alone
    )
    counts.update(dict(rows))
    return counts


def project_events(*, project: Project) -> QuerySet[ProjectEvent]:
    """A project's history, newest first, with who did what."""
    return project.events.select_related("actor")


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


# Where projects_changed keeps what the database said, and for how long. Under load the query
# cost more than the cached page it keyed: the open projects API served 1.5-1.9x the requests
# without it (docs/benchmarks.md).
PROJECTS_CHANGED_KEY = "projects:changed"
PROJECTS_CHANGED_SECONDS = 1


def projects_changed() -> str:
    """When a project last changed, for the keys of cached lists of projects: every change of a
    project (its terms, its state, its picture) sets its updated_at. Asked of the database (one
    query, on an index) at most once every PROJECTS_CHANGED_SECONDS per cache: a saved or
    deleted project forgets the answer (receivers.project_changed), so only a change that
    bypasses save() or commits while another request reads the time shows up to that long
    later."""
    changed = cache.get(PROJECTS_CHANGED_KEY)
    if changed is None:
        latest = Project.objects.aggregate(at=Max("updated_at"))["at"]
        changed = latest.isoformat() if latest else "never"
        cache.set(PROJECTS_CHANGED_KEY, changed, timeout=PROJECTS_CHANGED_SECONDS)
    return changed


def forget_projects_changed() -> None:
    """The next projects_changed asks the database. A cache out of reach forgets nothing, and
    needs not: what it keeps lasts a second."""
    cache.delete(PROJECTS_CHANGED_KEY)


def open_currencies(*, today: date | None = None) -> list[str]:
    """The currencies of the projects taking applications today, for a filter."""
    projects = open_projects(today=today).order_by().values_list("currency", flat=True)
    return sorted(set(projects.distinct()))


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
        low, high = (
            money_text(a, project.currency) for a in (project.min_amount, project.max_amount)
        )
        errors["amount"] = f"Between {low} and {high} {project.currency}."
    if not project.min_duration <= duration <= project.max_duration:
        unit = DURATION_UNITS[project.repayment_frequency]
        errors["duration"] = f"Between {project.min_duration} and {project.max_duration} {unit}."
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
        field = "duration" if exc.field in ("installments", "duration_days") else "amount"
        raise ValidationError({field: str(exc)}) from exc


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


def borrower_claims(*, holder: User) -> tuple[dict[str, dict], dict[str, str]]:
    """What HOLDER's credit record can show today: the claims of their newest valid credential
    of each type, and who issued it. Two queries."""
    claims: dict[str, dict] = {}
    issuers: dict[str, str] = {}
    trusted = trusted_issuer_dids()
    for entry in credit_record(holder=holder):  # newest first
        record = entry.record
        if entry.usable and record.credential_type not in claims and record.issuer_did in trusted:
            claims[record.credential_type] = record.claims
            issuers[record.credential_type] = record.issuer_did
    return claims, issuers


def eligibility_for(
    *, project: Project, holder: User, today: date | None = None
) -> eligibility.Evaluation | None:
    """How HOLDER's credit record meets PROJECT's criteria, rule by rule; None if the project
    asks for nothing."""
    if not project.eligibility:
        return None
    claims, issuers = borrower_claims(holder=holder)
    return eligibility.evaluate(
        project.eligibility, claims=claims, issuers=issuers, today=today or timezone.localdate()
    )


def open_projects_for(
    *, holder: User, projects: list[Project], today: date | None = None
) -> list[tuple[Project, eligibility.Evaluation | None]]:
    """PROJECTS with HOLDER's evaluation of each; the credit record is read once."""
    claims, issuers = borrower_claims(holder=holder)
    today = today or timezone.localdate()
    return [
        (
            project,
            eligibility.evaluate(project.eligibility, claims=claims, issuers=issuers, today=today)
            if project.eligibility
            else None,
        )
        for project in projects
    ]
