"""The originator staff's project pages: the list, the editor with its criteria builder and
live preview, and a project's page with its lifecycle buttons. Thin: services and selectors do
the work; the services also decide who may do what (agents draft, admins publish)."""

from __future__ import annotations

import json
from datetime import timedelta
from functools import wraps

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_POST

from apps.identity import credential_selectors
from apps.identity.models import Role
from apps.identity.permissions import ORIGINATOR_ADMIN_ONLY, portal_required, role_required
from apps.identity.ssi.credential_types import CURRENCY_CODES
from apps.identity.views import _add_service_errors
from apps.identity.views_credentials import _UploadLimit

from . import eligibility, selectors, services
from .forms import COUNTRY_CHOICES, AmendForm, ProjectFilterForm, ProjectForm, ReasonForm
from .models import DURATION_UNITS, Project, ProjectStatus
from .services import MAX_IMAGE_BYTES

PROJECTS_PAGE = 25
MAX_PREVIEW_BYTES = 128 * 1024
MOVES = {
    # move: (service, the statuses it starts from, the button, what happened)
    "publish": (services.project_publish, {ProjectStatus.DRAFT}, "Publish", "published"),
    "pause": (services.project_pause, {ProjectStatus.PUBLISHED}, "Pause", "paused"),
    "resume": (services.project_resume, {ProjectStatus.PAUSED}, "Resume", "open again"),
    "close": (
        services.project_close,
        {ProjectStatus.PUBLISHED, ProjectStatus.PAUSED},
        "Close",
        "closed",
    ),
}
STATUS_LABELS = {
    eligibility.MET: "Met",
    eligibility.NOT_MET: "Not met",
    eligibility.MISSING_CREDENTIAL: "Missing credential",
    eligibility.MISSING_CLAIM: "Missing claim",
    eligibility.MALFORMED_CLAIM: "Cannot be read",
}


def _project(request: HttpRequest, pk) -> Project:
    project = selectors.organization_project(organization=request.user.organization, pk=pk)
    if project is None:
        raise Http404("No such project in your organization.")
    return project


def _error_text(error: ValidationError) -> list[str]:
    """A service's refusal as sentences, naming the field where there is one."""
    if not hasattr(error, "error_dict"):
        return error.messages
    labels = {name: field.label for name, field in ProjectForm.base_fields.items()}
    return [
        f"{labels.get(field, field.replace('_', ' ').capitalize())}: {message}"
        if field != "__all__"
        else message
        for field, field_messages in error.message_dict.items()
        for message in field_messages
    ]


# --- the list ---------------------------------------------------------------------------------


@portal_required("staff")
def project_list(request: HttpRequest) -> HttpResponse:
    filter_form = ProjectFilterForm(request.GET or None)
    status = filter_form.status_filter()
    projects = selectors.organization_projects(
        organization=request.user.organization, status=status
    )
    context = {
        "organization": request.user.organization,
        "filter_form": filter_form,
        "filtered": bool(status),
        "page": Paginator(projects, PROJECTS_PAGE).get_page(request.GET.get("page")),
    }
    return render(request, "projects/staff/list.html", context)


# --- the editor -------------------------------------------------------------------------------


def _image_upload(view):
    """Let VIEW read an uploaded image of at most MAX_IMAGE_BYTES: a larger file is read off the
    connection and thrown away, never kept in memory or on disk. The CSRF check runs after the
    upload handler is in place (Django reads the body then)."""

    @csrf_exempt
    @portal_required("staff")
    @wraps(view)
    def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        limit = _UploadLimit(request, MAX_IMAGE_BYTES)
        request.upload_handlers.insert(0, limit)
        return csrf_protect(view)(request, limit, *args, **kwargs)

    return wrapped


def _catalogue() -> dict:
    """What the criteria builder offers, and the sample borrowers of its live preview."""
    today = timezone.localdate()

    def years_ago(years: int, days: int = 0) -> str:
        try:
            day = today.replace(year=today.year - years)
        except ValueError:  # 29 February
            day = today.replace(year=today.year - years, day=28)
        return (day - timedelta(days=days)).isoformat()

    return {
        "types": eligibility.catalogue(),
        "countries": COUNTRY_CHOICES,
        "currencies": sorted(CURRENCY_CODES),
        "issuers": [
            {"did": issuer.did, "label": issuer.label or issuer.did}
            for issuer in credential_selectors.trusted_issuers()
        ],
        "presets": [
            {
                "label": "Adult farmer in Kenya, with a good record",
                "claims": {
                    "age": {"birthDate": years_ago(35)},
                    "citizenship": {"citizenship": "KE"},
                    "kyc": {
                        "given_name": "Wanjiru",
                        "family_name": "Kamau",
                        "birthdate": years_ago(35),
                        "nationality": "KE",
                        "address": "Plot 12, Nakuru",
                        "id_number": "23456789",
                    },
                    "monthly_income": {"monthlyIncome": {"amount": "450.00", "currency": "KES"}},
                    "land_size": {"landSizeHectares": "2.5"},
                    "cooperative_membership": {
                        "cooperative": "Nakuru Dairy Cooperative",
                        "memberSince": years_ago(4),
                    },
                    "repayment_history": {
                        "loansRepaid": 3,
                        "loansRepaidOnTime": 3,
                        "loansWrittenOff": 0,
                        "totalRepaid": {"amount": "60000.00", "currency": "KES"},
                        "lastLoanClosedOn": years_ago(1),
                    },
                },
            },
            {
                "label": "Seventeen years old, in Uganda",
                "claims": {
                    "age": {"birthDate": years_ago(17)},
                    "citizenship": {"citizenship": "UG"},
                    "kyc": {"birthdate": years_ago(17), "nationality": "UG"},
                },
            },
            {"label": "No credentials at all", "claims": {}},
        ],
    }


def _editor(request: HttpRequest, form: ProjectForm, project: Project | None) -> HttpResponse:
    context = {
        "form": form,
        "project": project,
        "catalogue": _catalogue(),
        "duration_units": {str(k.value): v for k, v in DURATION_UNITS.items()},
    }
    return render(request, "projects/staff/editor.html", context)


@_image_upload
def project_new(request: HttpRequest, limit: _UploadLimit) -> HttpResponse:
    posted = request.method == "POST"
    form = ProjectForm(
        request.POST if posted else None,
        request.FILES if posted else None,
        image_too_large=limit.exceeded,
        initial={"currency": "KES", "repayment_frequency": "monthly", "grace_periods": 0},
    )
    if posted and form.is_valid():
        saved = _save_draft(request, form, None)
        if saved is not None:
            return saved
    return _editor(request, form, None)


def _save_draft(request: HttpRequest, form, project: Project | None) -> HttpResponse | None:
    """Create or update the draft and its picture; a redirect, or None with the service's
    errors on the form."""
    try:
        # One transaction: a picture that is refused leaves no draft (or change) behind.
        with transaction.atomic():
            if project is None:
                project = services.project_create(actor=request.user, terms=form.terms())
            else:
                project = services.project_update_draft(
                    actor=request.user, project=project, terms=form.terms()
                )
            image = form.image_data()
            if image is not None:
                services.project_set_image(actor=request.user, project=project, data=image)
    except ValidationError as error:
        _add_service_errors(form, error)
        return None
    messages.success(request, f"Draft “{project.name}” saved.")
    return redirect("projects:detail", pk=project.pk)


@_image_upload
def project_edit(request: HttpRequest, limit: _UploadLimit, pk) -> HttpResponse:
    project = _project(request, pk)
    if project.status != ProjectStatus.DRAFT:
        messages.info(
            request,
            "Published terms do not change: an admin can raise the target or extend the "
            "closing date.",
        )
        return redirect("projects:detail", pk=project.pk)
    posted = request.method == "POST"
    form = ProjectForm(
        request.POST if posted else None,
        request.FILES if posted else None,
        image_too_large=limit.exceeded,
        initial=ProjectForm.initial_from(project),
    )
    if posted and form.is_valid():
        saved = _save_draft(request, form, project)
        if saved is not None:
            return saved
    return _editor(request, form, project)


# --- one project ------------------------------------------------------------------------------


def _detail(request: HttpRequest, project: Project, amend_form: AmendForm | None = None):
    is_admin = request.user.role == Role.ORIGINATOR_ADMIN
    amendable = project.status in (ProjectStatus.PUBLISHED, ProjectStatus.PAUSED)
    issuer_names = {i.did: i.label for i in credential_selectors.trusted_issuers() if i.label}
    context = {
        "project": project,
        "is_admin": is_admin,
        "moves": [
            {"move": move, "button": button, "reason": move in ("pause", "close")}
            for move, (_, starts, button, _) in MOVES.items()
            if project.status in starts
        ],
        "amend_form": (amend_form or AmendForm()) if is_admin and amendable else None,
        "amendable": amendable,
        "criteria": (
            eligibility.describe(project.eligibility, issuer_names) if project.eligibility else []
        ),
        "events": selectors.project_events(project=project),
    }
    return render(request, "projects/staff/detail.html", context)


@portal_required("staff")
def project_detail(request: HttpRequest, pk) -> HttpResponse:
    return _detail(request, _project(request, pk))


@never_cache
@portal_required("staff")
def project_staff_image(request: HttpRequest, pk) -> HttpResponse:
    found = selectors.organization_project_image(organization=request.user.organization, pk=pk)
    if found is None:
        raise Http404("This project has no picture.")
    data, content_type = found
    return HttpResponse(data, content_type=content_type)


@require_POST
@portal_required("staff")
@role_required(ORIGINATOR_ADMIN_ONLY)
def project_move(request: HttpRequest, pk, move: str) -> HttpResponse:
    if move not in MOVES:
        raise Http404("No such action.")
    service, _, _, done = MOVES[move]
    project = _project(request, pk)
    kwargs = {}
    if move in ("pause", "close"):
        form = ReasonForm(request.POST)
        if form.is_valid() and form.cleaned_data["reason"]:
            kwargs["reason"] = form.cleaned_data["reason"]
    try:
        project = service(actor=request.user, project=project, **kwargs)
    except ValidationError as error:
        for text in _error_text(error):
            messages.error(request, text)
    else:
        messages.success(request, f"“{project.name}” is {done} (version {project.version}).")
    return redirect("projects:detail", pk=project.pk)


@require_POST
@portal_required("staff")
@role_required(ORIGINATOR_ADMIN_ONLY)
def project_amend(request: HttpRequest, pk) -> HttpResponse:
    project = _project(request, pk)
    form = AmendForm(request.POST)
    if form.is_valid():
        try:
            project = services.project_amend(
                actor=request.user,
                project=project,
                amendment=services.Amendment(
                    target_amount=form.cleaned_data["target_amount"],
                    ends_on=form.cleaned_data["ends_on"],
                ),
            )
        except ValidationError as error:
            _add_service_errors(form, error)
        else:
            messages.success(request, f"“{project.name}” amended (version {project.version}).")
            return redirect("projects:detail", pk=project.pk)
    return _detail(request, project, form)


# --- the criteria builder's live preview -------------------------------------------------------


def _evaluation_json(evaluation: eligibility.Evaluation) -> dict:
    return {
        "eligible": evaluation.eligible,
        "rules": [
            {
                "number": rule.number,
                "credential": rule.credential,
                "claim": rule.claim,
                "op": rule.op,
                "status": rule.status,
                "label": STATUS_LABELS[rule.status],
                "reason": rule.reason,
            }
            for rule in evaluation.rules
        ],
        "needed": evaluation.needed,
    }


@require_POST
@portal_required("staff")
def criteria_preview(request: HttpRequest) -> JsonResponse:
    """POST {"criteria": {...}, "claims": {type: {claim: value}}, "issuers": {type: DID}}: the
    criteria evaluated against the sample claims today, rule by rule; 400 with the problems of
    criteria that cannot be used."""
    if int(request.META.get("CONTENT_LENGTH") or 0) > MAX_PREVIEW_BYTES:
        return JsonResponse({"errors": ["The request is too large."]}, status=400)
    try:
        body = json.loads(request.body)
    except (ValueError, RecursionError):
        return JsonResponse({"errors": ["The request is not JSON."]}, status=400)
    if not isinstance(body, dict):
        return JsonResponse({"errors": ["The request must be a JSON object."]}, status=400)
    criteria = body.get("criteria")
    try:
        evaluation = eligibility.evaluate(
            criteria,
            claims=body.get("claims") or {},
            issuers=body.get("issuers") or {},
            today=timezone.localdate(),
        )
        described = eligibility.describe(criteria)
    except eligibility.InvalidCriteria as exc:
        return JsonResponse({"errors": exc.errors}, status=400)
    return JsonResponse({**_evaluation_json(evaluation), "description": described})
