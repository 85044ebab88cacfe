"""Writes for projects: drafts, publication, pauses, closing and amendments.

Every change of state or of published terms goes through `_transition`, which checks it is
allowed, runs in a transaction with the project row locked, records a ProjectEvent and publishes
the new version to the public projects book through the outbox.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from PIL import Image, UnidentifiedImageError

from apps.identity.models import Role, User
from apps.ledger.models import Book
from apps.ledger.services import book_publish

from . import eligibility
from .models import (
    DURATION_UNITS,
    CloseReason,
    Frequency,
    Project,
    ProjectEvent,
    ProjectStatus,
    money_text,
)
from .schedule import InvalidTerms, LoanTerms, UnknownCurrency, build_schedule, minor_units
from .signals import project_closed

ALLOWED = {
    ProjectStatus.DRAFT: {ProjectStatus.PUBLISHED},
    ProjectStatus.PUBLISHED: {ProjectStatus.PAUSED, ProjectStatus.CLOSED},
    ProjectStatus.PAUSED: {ProjectStatus.PUBLISHED, ProjectStatus.CLOSED},
    ProjectStatus.CLOSED: set(),
}
MONEY_FIELDS = (
    "target_amount",
    "min_amount",
    "max_amount",
    "fee_fixed",
    "min_ticket",
    "max_ticket",
)
PERCENT_FIELDS = ("annual_rate", "fee_percent", "first_loss_percent")
TERM_FIELDS = (
    "name",
    "description",
    "currency",
    *MONEY_FIELDS,
    "min_duration",
    "max_duration",
    *PERCENT_FIELDS,
    "interest_method",
    "repayment_frequency",
    "grace_periods",
    "starts_on",
    "ends_on",
    "invite_only",
    "eligibility",
)
MAX_IMAGE_BYTES = 2 * 1024 * 1024
IMAGE_SIDE = 1600


# --- who may do what -----------------------------------------------------------------------


def _check_staff(actor: User, project: Project | None = None) -> None:
    if not (actor.is_active and actor.role in (Role.ORIGINATOR_ADMIN, Role.ORIGINATOR_AGENT)):
        raise PermissionDenied("Only originator staff work on projects.")
    if project is not None and project.organization_id != actor.organization_id:
        raise PermissionDenied("This project belongs to another organization.")


def _check_admin(actor: User, project: Project) -> None:
    _check_staff(actor, project)
    if actor.role != Role.ORIGINATOR_ADMIN:
        raise PermissionDenied("Only an originator admin publishes, pauses, closes or amends.")


# --- terms ---------------------------------------------------------------------------------


def _decimal(value: object, field: str, errors: dict) -> Decimal | None:
    try:
        number = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        errors[field] = "Enter a number."
        return None
    if not number.is_finite():
        errors[field] = "Enter a number."
        return None
    return number


def _clean_terms(terms: dict) -> dict:
    """Terms checked together; every problem reported at once, by field."""
    errors: dict[str, str] = {}
    clean = dict(terms)
    currency = str(terms.get("currency", "")).strip().upper()
    try:
        digits = minor_units(currency)
        clean["currency"] = currency
    except UnknownCurrency:
        errors["currency"] = "Choose an ISO 4217 currency code, such as KES or UGX."
        digits = 2
    for field in MONEY_FIELDS:
        amount = _decimal(terms.get(field, 0), field, errors)
        if amount is None:
            continue
        if amount < 0:
            errors[field] = "Amounts cannot be negative."
        elif amount != amount.quantize(Decimal(1).scaleb(-digits)):
            errors[field] = f"{currency} amounts have at most {digits} decimals."
        clean[field] = amount
    for field in PERCENT_FIELDS:
        rate = _decimal(terms.get(field, 0), field, errors)
        if rate is not None and not 0 <= rate <= 100:
            errors[field] = "A percentage between 0 and 100."
        clean[field] = rate
    if not (set(MONEY_FIELDS) & errors.keys()):
        if clean["min_amount"] <= 0:
            errors["min_amount"] = "The smallest loan must be more than zero."
        elif clean["min_amount"] > clean["max_amount"]:
            errors["max_amount"] = "The largest loan cannot be below the smallest."
        elif clean["max_amount"] > clean["target_amount"]:
            errors["target_amount"] = "The target must cover at least the largest loan."
        if clean["min_ticket"] > clean["target_amount"]:
            errors["min_ticket"] = "The minimum ticket cannot exceed the target."
        elif clean["max_ticket"] and clean["max_ticket"] < clean["min_ticket"]:
            errors["max_ticket"] = "The cap per investor cannot be below the minimum ticket."
    for field in ("min_duration", "max_duration", "grace_periods"):
        value = terms.get(field, 0)
        if type(value) is not int or value < 0:
            errors[field] = "A whole number, zero or more."
    if not {"min_duration", "max_duration", "grace_periods"} & errors.keys():
        if terms["min_duration"] < 1:
            errors["min_duration"] = "A loan lasts at least one period."
        elif terms["min_duration"] > terms["max_duration"]:
            errors["max_duration"] = "The longest duration cannot be below the shortest."
        elif terms.get("grace_periods", 0) >= terms["min_duration"]:
            errors["grace_periods"] = "The grace period must be shorter than the shortest loan."
        elif terms.get("repayment_frequency") == Frequency.BULLET and terms.get("grace_periods"):
            errors["grace_periods"] = "A loan repaid at once has no grace period."
    starts, ends = terms.get("starts_on"), terms.get("ends_on")
    if not isinstance(starts, date) or not isinstance(ends, date):
        errors["starts_on"] = "Give the first and last day of applications."
    elif starts > ends:
        errors["ends_on"] = "The end date cannot come before the start date."
    if not str(terms.get("name", "")).strip():
        errors["name"] = "Give the project a name."
    try:
        # No criteria at all is a project open to anyone the originator accepts.
        criteria = terms.get("eligibility") or {}
        clean["eligibility"] = eligibility.validate(criteria) if criteria else {}
    except eligibility.InvalidCriteria as exc:
        errors["eligibility"] = "; ".join(exc.errors) if getattr(exc, "errors", None) else str(exc)
    if not errors:
        errors.update(_schedule_errors(clean))
    if errors:
        raise ValidationError(errors)
    clean["name"] = str(terms["name"]).strip()
    return clean


# Which term a schedule's complaint is about, as the editor names it.
_SCHEDULE_FIELDS = {
    "principal": "min_amount",
    "installments": "max_duration",
    "duration_days": "max_duration",
    "grace_periods": "grace_periods",
    "fee_percent": "fee_percent",
    "fee_fixed": "fee_fixed",
    "annual_rate": "annual_rate",
}


def _schedule_errors(terms: dict) -> dict[str, str]:
    """Every loan in the project's range must have a schedule: the smallest and largest amount
    over the shortest and longest duration are built once each."""
    bullet = terms.get("repayment_frequency") == Frequency.BULLET
    for amount in (terms["min_amount"], terms["max_amount"]):
        for duration in (terms["min_duration"], terms["max_duration"]):
            try:
                build_schedule(
                    LoanTerms(
                        principal=amount,
                        currency=terms["currency"],
                        annual_rate=terms["annual_rate"],
                        method=terms.get("interest_method"),
                        frequency=terms.get("repayment_frequency"),
                        disbursed_on=terms["starts_on"],
                        installments=None if bullet else duration,
                        duration_days=duration if bullet else None,
                        grace_periods=terms.get("grace_periods", 0),
                        fee_percent=terms["fee_percent"],
                        fee_fixed=terms["fee_fixed"],
                    )
                )
            except InvalidTerms as exc:
                field = _SCHEDULE_FIELDS.get(exc.field, "interest_method")
                return {field: f"No repayment schedule for a loan in this range: {exc}."}
    return {}


def _apply(project: Project, terms: dict) -> None:
    for field in TERM_FIELDS:
        if field in terms:
            setattr(project, field, terms[field])
    project.updated_at = timezone.now()
    try:
        project.full_clean(exclude=["organization", "created_by", "image"])
    except ValidationError as exc:
        raise ValidationError(exc.message_dict) from exc


@transaction.atomic
def project_create(*, actor: User, terms: dict) -> Project:
    """A draft: private to the organization until an admin publishes it."""
    _check_staff(actor)
    project = Project(organization=actor.organization, created_by=actor)
    _apply(project, _clean_terms(terms))
    project.save()
    ProjectEvent.objects.create(
        project=project, actor=actor, to_status=ProjectStatus.DRAFT, version=0, detail="created"
    )
    return project


@transaction.atomic
def project_update_draft(*, actor: User, project: Project, terms: dict) -> Project:
    project = _locked(project)
    _check_staff(actor, project)
    if project.status != ProjectStatus.DRAFT:
        raise ValidationError(
            "Published terms do not change; only the target can be raised and the end date "
            "extended."
        )
    current = {field: getattr(project, field) for field in TERM_FIELDS}
    _apply(project, _clean_terms({**current, **terms}))
    project.save()
    return project


@transaction.atomic
def project_set_image(*, actor: User, project: Project, data: bytes) -> Project:
    """Store a project's picture re-encoded as JPEG: at most 1600 px a side, no metadata (a
    phone photo's EXIF can hold the place it was taken)."""
    project = _locked(project)
    _check_staff(actor, project)
    if project.status != ProjectStatus.DRAFT:
        raise ValidationError({"image": "A published project keeps its picture."})
    if len(data) > MAX_IMAGE_BYTES:
        raise ValidationError({"image": "The image is larger than 2 MB."})
    try:
        with Image.open(io.BytesIO(data)) as picture:
            picture.load()
            picture = picture.convert("RGB")
            picture.thumbnail((IMAGE_SIDE, IMAGE_SIDE))
            out = io.BytesIO()
            picture.save(out, "JPEG", quality=85, optimize=True)
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as exc:
        raise ValidationError({"image": "This file is not an image we can read."}) from exc
    project.image, project.image_type = out.getvalue(), "image/jpeg"
    project.updated_at = timezone.now()
    project.save(update_fields=["image", "image_type", "updated_at"])
    return project


# --- lifecycle -----------------------------------------------------------------------------


def _locked(project: Project) -> Project:
    return Project.objects.select_for_update().get(pk=project.pk)


def public_terms(project: Project) -> dict:
    """What every node sees of a project: its terms, nothing about any person."""
    base = settings.GROWR_PUBLIC_URL.rstrip("/")
    return {
        "name": project.name,
        "description": project.description,
        "originator": project.organization.name,
        "currency": project.currency,
        **{field: money_text(getattr(project, field), project.currency) for field in MONEY_FIELDS},
        "min_duration": project.min_duration,
        "max_duration": project.max_duration,
        "duration_unit": DURATION_UNITS[project.repayment_frequency],
        **{field: _number_text(getattr(project, field)) for field in PERCENT_FIELDS},
        "interest_method": project.interest_method,
        "repayment_frequency": project.repayment_frequency,
        "grace_periods": project.grace_periods,
        "starts_on": project.starts_on.isoformat(),
        "ends_on": project.ends_on.isoformat(),
        "invite_only": project.invite_only,
        "page_url": f"{base}/projects/{project.pk}/",
        "image_url": f"{base}/projects/{project.pk}/image/" if project.image_type else None,
    }


def _number_text(number: Decimal) -> str:
    return format(number.normalize(), "f")


def _publish(project: Project) -> None:
    book_publish(
        book=Book.PROJECTS,
        entry_type="growr/project",
        version=1,
        key=f"project:{project.pk}",
        value={
            "project": str(project.pk),
            "version": project.version,
            "status": project.status,
            "terms": public_terms(project),
            "eligibility": (
                {
                    "criteria": project.eligibility,
                    "json_logic": eligibility.to_json_logic(project.eligibility),
                }
                if project.eligibility
                else None
            ),
        },
    )


def _transition(
    project: Project, *, to: str, actor: User | None, detail: str = "", reason: str = ""
) -> Project:
    """The one way a project changes state. Call inside a transaction with the row locked."""
    if to not in ALLOWED[project.status]:
        raise ValidationError(
            f"A {project.get_status_display().lower()} project cannot become "
            f"{ProjectStatus(to).label.lower()}."
        )
    before = project.status
    now = timezone.now()
    project.status, project.version, project.updated_at = to, project.version + 1, now
    if to == ProjectStatus.PUBLISHED and project.published_at is None:
        project.published_at = now
    if to == ProjectStatus.CLOSED:
        project.closed_at, project.close_reason = now, reason or CloseReason.BY_HAND
    project.save()
    ProjectEvent.objects.create(
        project=project,
        actor=actor,
        from_status=before,
        to_status=to,
        version=project.version,
        detail=detail[:300],
    )
    _publish(project)
    if to == ProjectStatus.CLOSED:
        project_closed.send(sender=Project, project=project, reason=project.close_reason)
    return project


@transaction.atomic
def project_publish(*, actor: User, project: Project) -> Project:
    """Open a draft for applications and put it in the public projects book."""
    project = _locked(project)
    _check_admin(actor, project)
    if project.status == ProjectStatus.DRAFT:
        # A draft saved before a rule changed is checked again as it goes public.
        current = {field: getattr(project, field) for field in TERM_FIELDS}
        _apply(project, _clean_terms(current))
        if project.ends_on < timezone.localdate():
            raise ValidationError({"ends_on": "The end date has passed; extend it first."})
    return _transition(project, to=ProjectStatus.PUBLISHED, actor=actor, detail="published")


@transaction.atomic
def project_pause(*, actor: User, project: Project, reason: str = "") -> Project:
    project = _locked(project)
    _check_admin(actor, project)
    return _transition(project, to=ProjectStatus.PAUSED, actor=actor, detail=reason or "paused")


@transaction.atomic
def project_resume(*, actor: User, project: Project) -> Project:
    project = _locked(project)
    _check_admin(actor, project)
    if project.status != ProjectStatus.PAUSED:
        raise ValidationError("Only a paused project resumes; a draft is published.")
    if project.ends_on < timezone.localdate():
        raise ValidationError({"ends_on": "The end date has passed; extend it or close."})
    return _transition(project, to=ProjectStatus.PUBLISHED, actor=actor, detail="resumed")


@transaction.atomic
def project_close(*, actor: User, project: Project, reason: str = "") -> Project:
    project = _locked(project)
    _check_admin(actor, project)
    return _transition(
        project,
        to=ProjectStatus.CLOSED,
        actor=actor,
        detail=reason or "closed",
        reason=CloseReason.BY_HAND,
    )


@dataclass(frozen=True)
class Amendment:
    target_amount: Decimal | None = None
    ends_on: date | None = None


@transaction.atomic
def project_amend(*, actor: User, project: Project, amendment: Amendment) -> Project:
    """What may change once published: the target goes up, the end date goes later. Each
    amendment is a new version in the book."""
    project = _locked(project)
    _check_admin(actor, project)
    if project.status not in (ProjectStatus.PUBLISHED, ProjectStatus.PAUSED):
        raise ValidationError("Only an open or paused project is amended; edit a draft instead.")
    errors, changes = {}, []
    if amendment.target_amount is not None:
        target = amendment.target_amount
        if target <= project.target_amount:
            errors["target_amount"] = "The target can only be raised."
        elif target != target.quantize(Decimal(1).scaleb(-minor_units(project.currency))):
            errors["target_amount"] = f"At most {minor_units(project.currency)} decimals."
        else:
            before, after = (
                money_text(a, project.currency) for a in (project.target_amount, target)
            )
            changes.append(f"target {before} → {after}")
            project.target_amount = target
    if amendment.ends_on is not None:
        if amendment.ends_on <= project.ends_on:
            errors["ends_on"] = "The end date can only be extended."
        else:
            changes.append(f"end date {project.ends_on} → {amendment.ends_on}")
            project.ends_on = amendment.ends_on
    if errors:
        raise ValidationError(errors)
    if not changes:
        raise ValidationError("Nothing to amend.")
    project.version += 1
    project.updated_at = timezone.now()
    project.save()
    ProjectEvent.objects.create(
        project=project,
        actor=actor,
        from_status=project.status,
        to_status=project.status,
        version=project.version,
        detail="; ".join(changes),
    )
    _publish(project)
    return project


def projects_close_ended(*, today: date | None = None) -> int:
    """Close every open or paused project whose end date has passed (beat, daily)."""
    today = today or timezone.localdate()
    closed = 0
    ended = Project.objects.filter(
        status__in=[ProjectStatus.PUBLISHED, ProjectStatus.PAUSED], ends_on__lt=today
    ).values_list("pk", flat=True)
    for pk in ended:
        with transaction.atomic():
            project = Project.objects.select_for_update().get(pk=pk)
            # Checked again under the lock: staff may have closed or extended it meanwhile.
            if ProjectStatus.CLOSED in ALLOWED[project.status] and project.ends_on < today:
                _transition(
                    project,
                    to=ProjectStatus.CLOSED,
                    actor=None,
                    detail=f"applications ended on {project.ends_on}",
                    reason=CloseReason.END_DATE,
                )
                closed += 1
    return closed


@transaction.atomic
def project_close_funded(*, project: Project) -> Project:
    """Close a project whose commitments reached its target (called by funding)."""
    project = _locked(project)
    return _transition(
        project,
        to=ProjectStatus.CLOSED,
        actor=None,
        detail="target reached",
        reason=CloseReason.TARGET,
    )
