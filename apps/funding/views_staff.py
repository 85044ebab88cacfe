"""The originator staff's funding pages, under /staff/funding/ (namespace "funding_staff"): the
funding of the organization's projects, one project's investors, commitments and timeline, the
funds to confirm and the refunds due.

Thin: selectors read, services decide (agents and admins both confirm and refund; a reference
used already changes nothing). A refused form shows again, on the page it was posted from,
with what was typed and why; each service runs in one transaction, so it changes nothing."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.forms import Form
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from apps.identity.permissions import portal_required
from apps.identity.views import _add_service_errors
from apps.projects.models import CloseReason, ProjectStatus
from apps.projects.templatetags.project_tags import money

from . import selectors, services
from .forms import CommitmentConfirmForm, CommitmentRefundForm
from .models import Commitment, CommitmentStatus

PROJECTS_PAGE = 25
COMMITMENTS_PAGE = 50
ACTION_FORMS: dict[str, type[Form]] = {
    "confirm": CommitmentConfirmForm,
    "refund": CommitmentRefundForm,
}
# The action a commitment's row offers in each state.
ROW_ACTIONS = {CommitmentStatus.PENDING: "confirm", CommitmentStatus.REFUND_DUE: "refund"}
Bound = tuple[int, Form] | None


def _form(action: str, commitment: Commitment, data=None) -> Form:
    # Many rows share a page and the field name: ids per row.
    return ACTION_FORMS[action](data, auto_id=f"id_{action}_{commitment.pk}_%s")


def _row_form(commitment: Commitment, bound: Bound) -> tuple[str, Form | None]:
    action = ROW_ACTIONS.get(commitment.status, "")
    if not action:
        return "", None
    if (
        bound is not None
        and bound[0] == commitment.pk
        and isinstance(bound[1], ACTION_FORMS[action])
    ):
        return action, bound[1]
    return action, _form(action, commitment)


def _rows(commitments, bound: Bound = None) -> list[dict]:
    """COMMITMENTS with the form their state offers (confirm the funds, record the refund): the
    bound one of BOUND, with its errors, for the commitment it was posted for."""
    rows = []
    for commitment in commitments:
        action, form = _row_form(commitment, bound)
        rows.append({"commitment": commitment, "action": action, "form": form})
    return rows


def _page(request: HttpRequest, rows, size: int):
    return Paginator(rows, size).get_page(request.GET.get("page"))


def _investor(commitment: Commitment) -> str:
    return commitment.investor.full_name if commitment.investor else "an investor's own node"


# --- pages -----------------------------------------------------------------------------------


@portal_required("staff")
def funding_overview(request: HttpRequest) -> HttpResponse:
    organization = request.user.organization
    context = {
        "organization": organization,
        "page": _page(
            request, selectors.organization_funding(organization=organization), PROJECTS_PAGE
        ),
        "counts": selectors.funding_counts(organization=organization),
    }
    return render(request, "funding/staff/overview.html", context)


def _project_page(request: HttpRequest, pk, *, bound: Bound = None) -> HttpResponse:
    organization = request.user.organization
    project = selectors.organization_project_funding(organization=organization, pk=pk)
    if project is None:
        raise Http404("Your organization has no published project with this id.")
    page = _page(request, selectors.project_commitments(project=project), COMMITMENTS_PAGE)
    context = {
        "organization": organization,
        "project": project,
        "page": page,
        "rows": _rows(page.object_list, bound),
        "timeline": selectors.funding_timeline(project=project),
    }
    return render(request, "funding/staff/project.html", context)


@portal_required("staff")
def project_funding(request: HttpRequest, pk) -> HttpResponse:
    return _project_page(request, pk)


def _pending_page(request: HttpRequest, *, bound: Bound = None) -> HttpResponse:
    organization = request.user.organization
    page = _page(
        request, selectors.pending_commitments(organization=organization), COMMITMENTS_PAGE
    )
    context = {"organization": organization, "page": page, "rows": _rows(page.object_list, bound)}
    return render(request, "funding/staff/pending.html", context)


@portal_required("staff")
def funds_to_confirm(request: HttpRequest) -> HttpResponse:
    return _pending_page(request)


def _refunds_page(request: HttpRequest, *, bound: Bound = None) -> HttpResponse:
    organization = request.user.organization
    page = _page(request, selectors.refunds_due(organization=organization), COMMITMENTS_PAGE)
    context = {"organization": organization, "page": page, "rows": _rows(page.object_list, bound)}
    return render(request, "funding/staff/refunds.html", context)


@portal_required("staff")
def refunds(request: HttpRequest) -> HttpResponse:
    return _refunds_page(request)


# --- actions ---------------------------------------------------------------------------------


def _commitment(request: HttpRequest, public_id) -> Commitment:
    commitment = selectors.organization_commitment(
        organization=request.user.organization, public_id=public_id
    )
    if commitment is None:
        raise Http404("No such commitment to your organization's projects.")
    return commitment


def _from_project(request: HttpRequest) -> bool:
    return request.POST.get("return_to") == "project"


def _act(request: HttpRequest, commitment: Commitment, *, action: str, run, list_page):
    """Post the ACTION form of COMMITMENT's row to RUN (a service call saying what happened):
    then a message and back to the page the form was on (the project's, or LIST_PAGE). Bad
    input, or the service's refusal, shows that page again with the form and why."""
    form = _form(action, commitment, request.POST)
    if form.is_valid():
        try:
            for level, text in run(form.cleaned_data["reference"]):
                messages.add_message(request, level, text)
        except ValidationError as error:
            _add_service_errors(form, error)
        else:
            if _from_project(request):
                return redirect("funding_staff:project", pk=commitment.project_id)
            return redirect(f"funding_staff:{list_page}")
    if ROW_ACTIONS.get(commitment.status) != action:
        # The page shows no such form for it any more (a colleague was quicker): say why here.
        for errors in form.errors.values():
            for text in errors:
                messages.error(request, text)
    bound = (commitment.pk, form)
    if _from_project(request):
        return _project_page(request, commitment.project_id, bound=bound)
    pages = {"pending": _pending_page, "refunds": _refunds_page}
    return pages[list_page](request, bound=bound)


@require_POST
@portal_required("staff")
def commitment_confirm(request: HttpRequest, public_id) -> HttpResponse:
    commitment = _commitment(request, public_id)
    confirmed_before = commitment.status == CommitmentStatus.CONFIRMED
    project = commitment.project

    def run(reference: str) -> list[tuple[int, str]]:
        done = services.commitment_confirm(
            actor=request.user, commitment=commitment, reference=reference
        )
        amount = money(done.amount, done.currency)
        if confirmed_before:
            return [
                (
                    messages.INFO,
                    f"The funds of {amount} from {_investor(done)} were confirmed already "
                    f"({done.payment_reference}): nothing changed.",
                )
            ]
        said = [
            (
                messages.SUCCESS,
                f"Funds of {amount} from {_investor(done)} confirmed ({done.payment_reference}).",
            )
        ]
        was_open = project.status != ProjectStatus.CLOSED
        project.refresh_from_db(fields=["status", "close_reason"])
        if was_open and project.close_reason == CloseReason.TARGET:
            said.append(
                (
                    messages.SUCCESS,
                    f"{project.name} is funded: confirmed funds reached its target and it closed.",
                )
            )
        return said

    return _act(request, commitment, action="confirm", run=run, list_page="pending")


@require_POST
@portal_required("staff")
def commitment_refund(request: HttpRequest, public_id) -> HttpResponse:
    commitment = _commitment(request, public_id)
    refunded_before = commitment.status == CommitmentStatus.REFUNDED

    def run(reference: str) -> list[tuple[int, str]]:
        done = services.commitment_refund(
            actor=request.user, commitment=commitment, reference=reference
        )
        amount = money(done.amount, done.currency)
        if refunded_before:
            text = (
                f"The refund of {amount} to {_investor(done)} was recorded already "
                f"({done.refund_reference}): nothing changed."
            )
            return [(messages.INFO, text)]
        text = f"Refund of {amount} to {_investor(done)} recorded ({done.refund_reference})."
        return [(messages.SUCCESS, text)]

    return _act(request, commitment, action="refund", run=run, list_page="refunds")
