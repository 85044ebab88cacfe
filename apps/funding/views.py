"""Funding pages: committing from a project's page (its funding section is the template tag in
templatetags/funding_tags.py) and the figures its script polls, and the investor portal: the
home with the portfolio's totals, the positions with their cash over time, a commitment's page,
statements with their CSV and PDF, and the projects of the network.

Thin: services decide and refuse, selectors read."""

from __future__ import annotations

import csv
import math

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST, require_safe

from apps.identity import kept_pages
from apps.identity.permissions import portal_required
from apps.ledger import selectors as ledger_selectors
from apps.projects import selectors as project_selectors
from apps.projects.models import Project, money_text
from apps.projects.templatetags.project_tags import money

from . import charts, selectors, services, statement_pdf
from .forms import CommitForm, StatementForm
from .models import Commitment, CommitmentStatus

# --- committing from a project's page ---------------------------------------------------------


def _project_or_404(request: HttpRequest, pk) -> Project:
    project = project_selectors.project_for_viewer(pk=pk, viewer=request.user)
    if project is None:
        raise Http404("No such project.")
    return project


def _service_errors(form, error: ValidationError) -> None:
    """A service's reasons on FORM: by their field when it has one, above the form otherwise
    (the project's state, the request id)."""
    if not hasattr(error, "error_dict"):
        form.add_error(None, error.messages)
        return
    for key, errors in error.message_dict.items():
        form.add_error(key if key in form.fields else None, errors)


@require_POST
@portal_required("invest")
def project_commit(request: HttpRequest, pk) -> HttpResponse:
    """Commit to a project from its page; back to the page when done, the form with the
    reasons otherwise."""
    project = _project_or_404(request, pk)
    form = CommitForm(request.POST, currency=project.currency)
    if form.is_valid():
        try:
            commitment = services.commitment_create(
                investor=request.user,
                project=project,
                amount=form.cleaned_data["amount"],
                request_id=request.POST.get("request_id", ""),
            )
        except ValidationError as error:
            _service_errors(form, error)
        else:
            amount = money(commitment.amount, commitment.currency)
            messages.success(
                request,
                f"You committed {amount} to {project.name}. Send the funds to "
                f"{project.organization.name}: your commitment counts once they confirm them.",
            )
            return redirect(reverse("project-page", args=[project.pk]) + "#funding")
    return render(request, "funding/commit.html", {"project": project, "form": form})


@require_safe
@never_cache
def project_funding_json(request: HttpRequest, pk) -> JsonResponse:
    """A project's funding figures, for its page's script when the WebSocket is down."""
    funding = selectors.public_project_funding(pk=pk)
    if funding is None:
        return JsonResponse({"error": "No such project."}, status=404)
    return JsonResponse(funding.as_json())


# --- the investor's home and portfolio -------------------------------------------------------


@portal_required("invest")
def investor_home(request: HttpRequest) -> HttpResponse:
    positions = selectors.investor_positions(investor=request.user)
    context = {
        "totals": selectors.portfolio_totals(positions),
        "pending": [p for p in positions if p.commitment.status == CommitmentStatus.PENDING],
        "positions": len(positions),
    }
    return render(request, "funding/home.html", context)


def _history_chart(history: selectors.CashHistory) -> charts.LineChart:
    currency = history.currency
    return charts.line_chart(
        title=currency,
        months=history.months,
        series=[
            charts.SeriesInput(
                "Invested", "invested", history.invested, money(history.invested[-1], currency)
            ),
            charts.SeriesInput(
                "Received", "received", history.received, money(history.received[-1], currency)
            ),
        ],
        amount_text=lambda value: money(value, currency),
    )


@portal_required("invest")
def portfolio(request: HttpRequest) -> HttpResponse:
    positions = selectors.investor_positions(investor=request.user)
    flows = selectors.expected_and_actual(positions)
    histories = selectors.cash_history(positions, flows)
    context = {
        "positions": [(p, flows.get(p.commitment.pk, ())) for p in positions],
        "totals": selectors.portfolio_totals(positions),
        "charts": [_history_chart(history) for history in histories],
    }
    return render(request, "funding/portfolio.html", context)


# --- a commitment ---------------------------------------------------------------------------


def _history(commitment: Commitment) -> list[tuple[object, str]]:
    """What happened to COMMITMENT, from its own dates and references."""
    organization = commitment.project.organization.name
    events = [(commitment.created_at, "You committed.")]
    if commitment.confirmed_at:
        events.append(
            (
                commitment.confirmed_at,
                f"{organization} confirmed receiving the funds "
                f"(reference {commitment.payment_reference}).",
            )
        )
    if commitment.closed_at:
        closed = {
            CommitmentStatus.CANCELLED: "Cancelled.",
            CommitmentStatus.REFUND_DUE: "The project closed before it was funded: "
            f"{organization} owes you a refund.",
            CommitmentStatus.REFUNDED: "The project closed before it was funded: "
            f"{organization} owes you a refund.",
        }
        events.append((commitment.closed_at, closed.get(commitment.status, "Closed.")))
    if commitment.status == CommitmentStatus.REFUNDED:
        events.append(
            (None, f"{organization} refunded it (reference {commitment.refund_reference}).")
        )
    return events


def _position_or_404(request: HttpRequest, pk: int) -> selectors.Position:
    position = selectors.investor_position(investor=request.user, pk=pk)
    if position is None:
        raise Http404("No such commitment of yours.")
    return position


@portal_required("invest")
def commitment_detail(request: HttpRequest, pk: int) -> HttpResponse:
    position = _position_or_404(request, pk)
    commitment = position.commitment
    context = {
        "position": position,
        "commitment": commitment,
        "history": _history(commitment),
        "distributions": list(commitment.distributions.all()),
        "can_cancel": commitment.status == CommitmentStatus.PENDING,
    }
    return render(request, "funding/commitment.html", context)


@require_POST
@portal_required("invest")
def commitment_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    commitment = _position_or_404(request, pk).commitment
    try:
        services.commitment_cancel(investor=request.user, commitment=commitment)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, "You cancelled this commitment.")
    return redirect("invest:commitment", commitment.pk)


# --- statements -----------------------------------------------------------------------------

STATEMENT_FIELDS = ("currency", "start", "end")


def _statement_form(request: HttpRequest) -> StatementForm:
    currencies = selectors.statement_currencies(investor=request.user)
    asked = any(name in request.GET for name in STATEMENT_FIELDS)
    return StatementForm(
        request.GET if asked else None, currencies=currencies, today=timezone.localdate()
    )


def _statement(request: HttpRequest, form: StatementForm) -> selectors.Statement | None:
    if not form.fields["currency"].choices or (form.is_bound and not form.is_valid()):
        return None
    currency, start, end = form.period()
    return selectors.investor_statement(
        investor=request.user, currency=currency, start=start, end=end
    )


@portal_required("invest")
def statements(request: HttpRequest) -> HttpResponse:
    form = _statement_form(request)
    statement = _statement(request, form)
    query = ""
    if statement is not None:
        query = (
            f"?currency={statement.currency}&start={statement.start:%Y-%m-%d}"
            f"&end={statement.end:%Y-%m-%d}"
        )
    context = {"form": form, "statement": statement, "query": query}
    return render(request, "funding/statements.html", context)


def _download(request: HttpRequest) -> selectors.Statement | HttpResponse:
    form = _statement_form(request)
    statement = _statement(request, form)
    if statement is None:  # nothing to download: the page says why
        return redirect(reverse("invest:statements") + "?" + request.GET.urlencode())
    return statement


def _filename(statement: selectors.Statement, extension: str) -> str:
    return (
        f"growr-statement-{statement.currency}-{statement.start:%Y-%m-%d}-"
        f"{statement.end:%Y-%m-%d}.{extension}"
    )


@never_cache
@portal_required("invest")
def statement_csv(request: HttpRequest) -> HttpResponse:
    """The statement as CSV: the opening balance, every movement with the balance after it,
    the totals by kind and the closing balance, which is the opening plus every change."""
    statement = _download(request)
    if isinstance(statement, HttpResponse):
        return statement
    currency = statement.currency

    def amount(value) -> str:
        return money_text(value, currency)

    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{_filename(statement, "csv")}"'
    writer = csv.writer(response)
    writer.writerow(["date", "project", "movement", "cash", "balance change", "balance"])
    writer.writerow([f"{statement.start:%Y-%m-%d}", "", "opening balance", "", "",
                     amount(statement.opening)])  # fmt: skip
    for line, balance in statement.balances():
        writer.writerow([f"{line.on:%Y-%m-%d}", _cell(line.project), line.what,
                         amount(line.cash), amount(line.amount), amount(balance)])  # fmt: skip
    for total in statement.totals():
        writer.writerow(["", "", f"total {total.what}", amount(total.cash), amount(total.amount),
                         ""])  # fmt: skip
    writer.writerow([f"{statement.end:%Y-%m-%d}", "", "closing balance", "", "",
                     amount(statement.closing)])  # fmt: skip
    return response


def _cell(text: str) -> str:
    """TEXT safe in a spreadsheet: a leading =, +, - or @ would be read as a formula."""
    return f"'{text}" if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


@never_cache
@portal_required("invest")
def statement_pdf_download(request: HttpRequest) -> HttpResponse:
    statement = _download(request)
    if isinstance(statement, HttpResponse):
        return statement
    data = statement_pdf.render(
        statement=statement,
        investor=request.user.full_name or request.user.email,
        node=settings.GROWR_NODE_NAME,
    )
    response = HttpResponse(data, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{_filename(statement, "pdf")}"'
    return response


# --- the network's projects -------------------------------------------------------------------

CATALOGUE_SECONDS = 60


@portal_required("invest")
def network_catalogue(request: HttpRequest) -> HttpResponse:
    try:
        page = max(int(request.GET.get("page", "1")), 1)
    except ValueError:
        page = 1
    # The same for every investor, so rendered without the request: kept until a projects book
    # grows, and at most a minute for what else it shows (followed nodes' names and sync times).
    key = f"network-catalogue:{page}"

    def context() -> dict:
        catalogue = ledger_selectors.kept_while_projects_books_stay(
            key=key,
            build=lambda: render_to_string("funding/_catalogue.html", _catalogue(page)),
            seconds=CATALOGUE_SECONDS,
        )
        return {"catalogue": catalogue}

    # And the page around it, kept per investor.
    return kept_pages.render_kept(
        request,
        "funding/catalogue.html",
        context,
        key=key,
        version_key=ledger_selectors.PROJECTS_BOOKS_VERSION_KEY,
        version=ledger_selectors.projects_books_version,
    )


def _catalogue(page: int) -> dict:
    projects, total = selectors.network_catalogue(page=page)
    pages = max(math.ceil(total / selectors.CATALOGUE_PAGE), 1)
    return {"page": page, "projects": projects, "total": total, "pages": pages}
