"""The borrower's list of open projects and the public project page (anyone, signed in or not),
with its picture and a schedule preview. Thin: selectors do the work."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.cache import get_conditional_response
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_safe

from apps.identity import credential_selectors
from apps.identity.models import Role
from apps.identity.permissions import has_role, node_serves, portal_required

from . import eligibility, selectors
from .forms import OpenProjectsFilterForm, SchedulePreviewForm
from .models import Project, ProjectStatus, money_text
from .views_staff import STATUS_LABELS

OPEN_PROJECTS_PAGE = 25
IMAGE_MAX_AGE = 60 * 60


@dataclass(frozen=True)
class Need:
    """A credential a borrower still needs for a project, and which of its claims."""

    credential: str
    name: str
    claims: list[str]

    def __str__(self) -> str:
        if not self.claims:
            return f"{self.name} credential"
        return f"{self.name} credential ({', '.join(self.claims).lower()})"


def needs(evaluation: eligibility.Evaluation | None) -> list[Need]:
    """What the borrower still has to bring, in words: Evaluation.needed with labels."""
    if evaluation is None:
        return []
    return [
        Need(
            slug,
            eligibility.credential_name(slug),
            [
                claim.subject
                for name in names
                if (claim := eligibility.CLAIMS.get((slug, name))) is not None
            ],
        )
        for slug, names in evaluation.needed.items()
    ]


@dataclass(frozen=True)
class Offer:
    """A project in the borrower's list, with how the borrower stands."""

    project: Project
    evaluation: eligibility.Evaluation | None

    @property
    def qualifies(self) -> bool:
        return self.evaluation is None or self.evaluation.eligible

    @property
    def needs(self) -> list[Need]:
        return needs(self.evaluation)


@portal_required("borrow")
def open_projects(request: HttpRequest) -> HttpResponse:
    form = OpenProjectsFilterForm(request.GET or None, currencies=selectors.open_currencies())
    filters = form.filters()
    qualify = filters.pop("qualify")
    projects = selectors.open_projects(**filters)
    if qualify:
        # The criteria are evaluated in Python: all of them, then the page.
        offers = [
            Offer(project, evaluation)
            for project, evaluation in selectors.open_projects_for(
                holder=request.user, projects=list(projects)
            )
        ]
        page = Paginator([o for o in offers if o.qualifies], OPEN_PROJECTS_PAGE).get_page(
            request.GET.get("page")
        )
    else:
        page = Paginator(projects, OPEN_PROJECTS_PAGE).get_page(request.GET.get("page"))
        page.object_list = [
            Offer(project, evaluation)
            for project, evaluation in selectors.open_projects_for(
                holder=request.user, projects=list(page.object_list)
            )
        ]
    context = {
        "form": form,
        "filtered": any(value not in (None, "") for value in filters.values()) or qualify,
        "qualify": qualify,
        "page": page,
    }
    return render(request, "projects/list.html", context)


@dataclass(frozen=True)
class RuleView:
    result: eligibility.RuleResult

    @property
    def label(self) -> str:
        return STATUS_LABELS[self.result.status]


def _schedule(request: HttpRequest, project: Project) -> tuple[SchedulePreviewForm, object]:
    """The schedule preview form (GET) and the schedule, when its amount and duration are in
    range."""
    asked = "amount" in request.GET or "duration" in request.GET
    form = SchedulePreviewForm(
        request.GET if asked else None,
        initial={
            "amount": Decimal(money_text(project.min_amount, project.currency)),
            "duration": project.min_duration,
        },
    )
    preview = None
    if asked and form.is_valid():
        try:
            preview = selectors.schedule_preview(
                project=project,
                amount=form.cleaned_data["amount"],
                duration=form.cleaned_data["duration"],
            )
        except ValidationError as error:
            for field, messages in error.message_dict.items():
                form.add_error(field if field in form.fields else None, messages)
    return form, preview


@require_safe
def project_page(request: HttpRequest, pk) -> HttpResponse:
    viewer = request.user if request.user.is_authenticated else None
    project = selectors.project_for_viewer(pk=pk, viewer=viewer)
    if project is None:
        raise Http404("No such project.")
    form, preview = _schedule(request, project)
    borrower = node_serves("borrow") and has_role(request.user, {Role.BORROWER})
    evaluation = (
        selectors.eligibility_for(project=project, holder=request.user) if borrower else None
    )
    issuer_names = {}
    if project.eligibility:
        issuer_names = {i.did: i.label for i in credential_selectors.trusted_issuers() if i.label}
    is_own_staff = (
        viewer is not None
        and viewer.organization_id == project.organization_id
        and has_role(viewer, {Role.ORIGINATOR_ADMIN, Role.ORIGINATOR_AGENT})
    )
    context = {
        "project": project,
        "is_draft": project.status == ProjectStatus.DRAFT,
        "is_own_staff": is_own_staff,
        "taking_applications": project.status == ProjectStatus.PUBLISHED,
        "criteria": (
            eligibility.describe(project.eligibility, issuer_names) if project.eligibility else []
        ),
        "form": form,
        "preview": preview,
        "borrower": borrower,
        "evaluation": evaluation,
        "rules": [RuleView(r) for r in evaluation.rules] if evaluation else [],
        "needs": needs(evaluation),
    }
    return render(request, "projects/page.html", context)


@require_safe
@cache_control(public=True, max_age=IMAGE_MAX_AGE)
def project_image(request: HttpRequest, pk) -> HttpResponse:
    found = selectors.project_image(pk=pk)
    if found is None:
        raise Http404("This project has no picture.")
    data, content_type = found
    etag = f'"{hashlib.blake2b(data, digest_size=16).hexdigest()}"'
    response = HttpResponse(data, content_type=content_type)
    response["ETag"] = etag
    return get_conditional_response(request, etag=etag, response=response)
