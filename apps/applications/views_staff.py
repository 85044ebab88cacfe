"""The originator staff's loan pages: the queue, one application or loan with everything staff
do on it (messages, review, approval, disbursement, repayments, refund, write-off), its
agreement, the payments borrowers reported, the approval limits, and the staff dashboard.

Thin: services and selectors do the work, and the services decide who may do what. These views
turn a service's refusal into form errors (re-rendering the page with the form), a message, or a
403; each service runs in one transaction, so a refused request changes nothing."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.forms import Form
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.functional import SimpleLazyObject
from django.views.decorators.http import require_POST

from apps.funding import selectors as funding_selectors
from apps.identity import credential_selectors, kept_pages
from apps.identity import selectors as identity_selectors
from apps.identity.permissions import (
    ORIGINATOR_ADMIN_ONLY,
    has_role,
    portal_required,
    role_required,
)
from apps.identity.ssi.credential_types import CREDENTIAL_TYPES
from apps.identity.views import _add_service_errors
from apps.projects import eligibility
from apps.projects import selectors as project_selectors
from apps.projects.models import Frequency, InterestMethod
from apps.projects.templatetags.project_tags import money
from apps.projects.views_staff import STATUS_LABELS

from . import charts, selectors, services
from .agreement import verify_signed_agreement
from .forms import (
    ApprovalLimitForm,
    DisbursementForm,
    InformationRequestForm,
    LoanMessageForm,
    LoanQueueFilterForm,
    OverpaymentRefundForm,
    RejectionForm,
    RepaymentRecordForm,
    RepaymentRefusalForm,
    WriteOffForm,
)
from .models import Bucket, Loan, LoanStatus, Repayment

LOANS_PAGE = 25
PAYMENTS_PAGE = 25
# The queues someone has to act on, as the dashboard and the queue page count them.
COUNTED_QUEUES = ("to_review", "second_approval", "to_disburse", "in_arrears")
ACTIONS = {
    "submitted": "Applied",
    "information_requested": "Asked the borrower for information",
    "information_given": "The borrower answered",
    "first_approval": "First approval",
    "approved": "Approved; agreement signed for the organization",
    "rejected": "Rejected",
    "withdrawn": "Withdrawn by the borrower",
    "agreement_remade": "Agreement made again",
    "agreement_signed": "Agreement signed by the borrower",
    "disbursed": "Disbursed",
    "disbursement_confirmed": "The borrower confirmed receipt",
    "repayment_reported": "The borrower reported a payment",
    "repayment_applied": "Payment applied",
    "repayment_refused": "Reported payment refused",
    "arrears": "Arrears changed",
    "overpaid": "Over-paid",
    "overpayment_refunded": "Over-payment refunded; closed",
    "closed": "Closed",
    "written_off": "Written off",
    "credential_issued": "Repayment history credential issued",
}
DETAIL_FORMS: dict[str, type[Form]] = {
    "message_form": LoanMessageForm,
    "information_form": InformationRequestForm,
    "rejection_form": RejectionForm,
    "disbursement_form": DisbursementForm,
    "repayment_form": RepaymentRecordForm,
    "refund_form": OverpaymentRefundForm,
    "write_off_form": WriteOffForm,
}


def _detail_form(name: str, data=None) -> Form:
    # Several forms share a page and field names (reason, rail, reference): ids per form.
    return DETAIL_FORMS[name](data, auto_id=f"id_{name}_%s")


def _loan(request: HttpRequest, pk: int) -> Loan:
    loan = selectors.organization_loan(organization=request.user.organization, pk=pk)
    if loan is None:
        raise Http404("No such application in your organization.")
    return loan


def _refusal_text(refusal: ValidationError | PermissionDenied) -> list[str]:
    return [str(refusal)] if isinstance(refusal, PermissionDenied) else refusal.messages


def _errors_as_messages(request: HttpRequest, form: Form) -> None:
    """FORM's errors at the top of the page, for a form the page does not show (the loan is in
    another state than the one it was posted for), so a refusal is never silent."""
    for errors in form.errors.values():
        for text in errors:
            messages.error(request, text)


def _back_to(request: HttpRequest, loan: Loan) -> HttpResponse:
    """Back to the page the button was on: the pending payments, or the loan's page."""
    if request.POST.get("return_to") == "payments":
        return redirect("loans:payments")
    return redirect("loans:detail", pk=loan.pk)


def _is_admin(user) -> bool:
    return has_role(user, ORIGINATOR_ADMIN_ONLY)


# --- the queue -------------------------------------------------------------------------------


def _queues(organization, state: str = "") -> list[dict]:
    counts = selectors.queue_counts(organization=organization)
    queue_url = reverse("loans:queue")
    return [
        {
            "state": key,
            "label": selectors.QUEUE_FILTERS[key],
            "count": counts[key],
            "url": f"{queue_url}?state={key}",
            "current": key == state,
        }
        for key in COUNTED_QUEUES
    ]


@portal_required("staff")
def loan_queue(request: HttpRequest) -> HttpResponse:
    organization = request.user.organization
    # Every filter, search and page of the queue is its own address: kept per address.
    address = hashlib.sha256(request.GET.urlencode().encode()).hexdigest()
    key = f"loan-queue:{address}"

    def context() -> dict:
        body = selectors.kept_for_organization(
            organization=organization,
            key=key,
            build=lambda: _loan_queue_body(request, organization),
        )
        return {"organization": organization, "body": body}

    return _render_kept_staff_page(
        request, "applications/staff/queue.html", context, organization=organization, key=key
    )


def _render_kept_staff_page(
    request: HttpRequest, template_name: str, context: Callable[[], dict], *, organization, key: str
) -> HttpResponse:
    """A staff page of ORGANIZATION kept whole per person (kept_pages.render_kept) beside the
    organization's staff generation, as its part kept for all its staff is."""
    return kept_pages.render_kept(
        request,
        template_name,
        context,
        key=f"staff:{organization.pk}:{key}",
        version_key=selectors.staff_generation_key(organization.pk),
        version=lambda: selectors.staff_generation(organization_id=organization.pk),
    )


def _loan_queue_body(request: HttpRequest, organization) -> str:
    """The queue's counts, filters and page of loans: the same for every member of ORGANIZATION
    at this address (they are kept for all of them)."""
    filter_form = LoanQueueFilterForm(
        request.GET or None,
        projects=project_selectors.organization_projects_to_filter(
            organization=organization, selected=request.GET.get("project", "")
        ),
    )
    filters = filter_form.filters()
    loans = selectors.organization_loans(organization=organization, **filters)
    number = request.GET.get("page")
    # Without a shared cache the template caches the queues and the page of loans until a loan
    # changes: what they need is read only when it renders them.
    context = {
        "organization": organization,
        "filter_form": filter_form,
        "filtered": any(filters.values()),
        "filters": filters,
        "page_number": number,
        "loans_changed": selectors.loans_changed(organization=organization),
        "queues": SimpleLazyObject(lambda: _queues(organization, filters["state"])),
        "page": SimpleLazyObject(lambda: Paginator(loans, LOANS_PAGE).get_page(number)),
    }
    # With the request for the pages' links ({% querystring %}); nothing of the person in it.
    return render_to_string("applications/staff/_queue_body.html", context, request)


# --- one application or loan -----------------------------------------------------------------


def _approval(loan: Loan, user) -> dict:
    """Where the maker-checker rule stands: the organization's limit for the loan's currency,
    whether the amount is above it, who gave the first approval, and whether USER may approve
    now (not when they gave the first approval of an amount above the limit)."""
    limit = selectors.approval_limit_for(
        organization_id=loan.organization_id, currency=loan.currency
    )
    above_limit = limit is not None and loan.amount > limit
    first = loan.first_approved_by if loan.first_approved_by_id else None
    waiting_for_second = loan.status == LoanStatus.SUBMITTED and first is not None
    mine = first is not None and first.pk == user.pk
    if not above_limit:
        button = "Approve"
    elif first is None:
        button = "Give the first approval"
    else:
        button = "Give the second approval"
    return {
        "limit": limit,
        "above_limit": above_limit,
        "first_approver": first,
        "waiting_for_second": waiting_for_second,
        "mine": mine,
        "can_approve": loan.status == LoanStatus.SUBMITTED
        and not (waiting_for_second and above_limit and mine),
        "button": button,
    }


def _claim_text(value: object) -> str:
    if isinstance(value, dict) and {"amount", "currency"} <= set(value):
        return f"{value['amount']} {value['currency']}"
    return str(value)


def _credential_name(slug: str) -> str:
    return eligibility.credential_name(slug) if slug in CREDENTIAL_TYPES else slug


def _disclosed(loan: Loan) -> list[dict]:
    """The verified claims the borrower presented, by credential type, with their labels."""
    if loan.presentation is None:
        return []
    return [
        {
            "credential": _credential_name(slug),
            "claims": [
                (
                    claim.label if (claim := eligibility.CLAIMS.get((slug, name))) else name,
                    _claim_text(value),
                )
                for name, value in sorted((claims or {}).items())
            ],
        }
        for slug, claims in sorted(loan.presentation.disclosed.items())
    ]


def _issuers(loan: Loan) -> list[dict]:
    if loan.presentation is None:
        return []
    labels = {
        entry.did: entry.label
        for entry in credential_selectors.trusted_issuers()
        if entry.label
    }  # fmt: skip
    return [{"did": did, "label": labels.get(did, "")} for did in loan.presentation.issuers]


def _rules(loan: Loan) -> list[dict]:
    return [
        {
            **rule,
            "credential_name": _credential_name(rule.get("credential") or ""),
            "label": STATUS_LABELS.get(rule.get("status"), rule.get("status")),
        }
        for rule in loan.eligibility
    ]


def _events(loan: Loan) -> list[dict]:
    return [
        {
            "event": event,
            "action": ACTIONS.get(event.action, event.action.replace("_", " ").capitalize()),
        }
        for event in selectors.loan_events(loan=loan)
    ]


def _payment_rows(payments, refusal: tuple[int, RepaymentRefusalForm] | None) -> list[dict]:
    """Payments with a refusal form each (for the reported ones): the bound one of REFUSAL, with
    its errors, for the payment it was posted for."""
    rows = []
    for payment in payments:
        form = None
        if payment.status == Repayment.Status.REPORTED:
            if refusal is not None and refusal[0] == payment.pk:
                form = refusal[1]
            else:
                form = RepaymentRefusalForm(auto_id=f"id_refuse_{payment.pk}_%s")
        rows.append({"payment": payment, "refusal_form": form})
    return rows


def _offered_forms(loan: Loan, agreement, user) -> set[str]:
    """The forms the loan's page offers in the loan's state (the services decide again)."""
    offered = {"message_form"}
    if loan.status == LoanStatus.SUBMITTED:
        offered |= {"information_form", "rejection_form"}
    elif loan.status == LoanStatus.APPROVED and agreement is not None and agreement.fully_signed:
        offered.add("disbursement_form")
    elif loan.status == LoanStatus.ACTIVE:
        offered.add("repayment_form")
        if _is_admin(user):
            offered.add("write_off_form")
    elif loan.status == LoanStatus.OVERPAID:
        offered.add("refund_form")
    return offered


def _detail(
    request: HttpRequest,
    loan: Loan,
    *,
    refusal: tuple[int, RepaymentRefusalForm] | None = None,
    **bound: Form,
) -> HttpResponse:
    """The loan's page; BOUND forms (by their context name) replace the empty ones, so a form
    that was refused shows again with what was typed and why."""
    active_or_after = loan.disbursed_on is not None
    agreement = selectors.loan_agreement(loan=loan)
    offered = _offered_forms(loan, agreement, request.user)
    for name, form in bound.items():
        if name not in offered:
            _errors_as_messages(request, form)
    context = {
        "offered": offered,
        "loan": loan,
        "today": timezone.localdate(),
        "approval": _approval(loan, request.user),
        "claims": _disclosed(loan),
        "issuers": _issuers(loan),
        "rules": _rules(loan),
        "events": _events(loan),
        "thread": selectors.loan_messages(loan=loan),
        "agreement": agreement,
        "disbursement": selectors.loan_disbursement(loan=loan) if active_or_after else None,
        "installments": selectors.loan_installments(loan=loan) if active_or_after else [],
        "outstanding": selectors.outstanding_total(loan=loan) if active_or_after else None,
        "repayments": _payment_rows(selectors.loan_repayments(loan=loan), refusal),
        **{name: bound.get(name) or _detail_form(name) for name in DETAIL_FORMS},
    }
    return render(request, "applications/staff/detail.html", context)


@portal_required("staff")
def loan_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return _detail(request, _loan(request, pk))


def _act(
    request: HttpRequest,
    loan: Loan,
    *,
    form_name: str,
    run: Callable[[dict], str],
) -> HttpResponse:
    """Post the form named FORM_NAME to RUN, which calls a service and says what happened: then
    a message and back to the loan's page. Invalid input, or the service's refusal, shows the
    page again with the form, what was typed, and why."""
    form = _detail_form(form_name, request.POST)
    if form.is_valid():
        try:
            done = run(form.cleaned_data)
        except ValidationError as error:
            _add_service_errors(form, error)
        else:
            messages.success(request, done)
            return redirect("loans:detail", pk=loan.pk)
    return _detail(request, loan, **{form_name: form})


@require_POST
@portal_required("staff")
def loan_message(request: HttpRequest, pk: int) -> HttpResponse:
    loan = _loan(request, pk)

    def run(data: dict) -> str:
        services.message_post(author=request.user, loan=loan, body=data["body"])
        return "Message sent to the borrower."

    return _act(request, loan, form_name="message_form", run=run)


@require_POST
@portal_required("staff")
def loan_request_information(request: HttpRequest, pk: int) -> HttpResponse:
    loan = _loan(request, pk)

    def run(data: dict) -> str:
        services.application_request_information(
            actor=request.user, loan=loan, question=data["question"]
        )
        return f"{loan.reference} is sent back to the borrower with your question."

    return _act(request, loan, form_name="information_form", run=run)


@require_POST
@portal_required("staff")
def loan_approve(request: HttpRequest, pk: int) -> HttpResponse:
    loan = _loan(request, pk)
    try:
        loan = services.application_approve(actor=request.user, loan=loan)
    except (ValidationError, PermissionDenied) as refusal:
        # PermissionDenied here is the maker-checker rule (the portal and the organization are
        # checked already): a refusal to explain on the page, not a page to forbid.
        for text in _refusal_text(refusal):
            messages.error(request, text)
    else:
        if loan.status == LoanStatus.APPROVED:
            messages.success(
                request,
                f"{loan.reference} is approved. The agreement is signed for "
                f"{loan.organization.name} and waits for the borrower's signature.",
            )
        else:
            messages.success(
                request,
                f"First approval of {loan.reference} given: it is above the approval limit, so "
                "another staff member must give the second.",
            )
    return redirect("loans:detail", pk=loan.pk)


@require_POST
@portal_required("staff")
def loan_reject(request: HttpRequest, pk: int) -> HttpResponse:
    loan = _loan(request, pk)

    def run(data: dict) -> str:
        services.application_reject(actor=request.user, loan=loan, reason=data["reason"])
        return f"{loan.reference} is rejected; the borrower is told why."

    return _act(request, loan, form_name="rejection_form", run=run)


@require_POST
@portal_required("staff")
def loan_disburse(request: HttpRequest, pk: int) -> HttpResponse:
    loan = _loan(request, pk)

    def run(data: dict) -> str:
        services.loan_disburse(
            actor=request.user,
            loan=loan,
            rail=data["rail"],
            reference=data["reference"],
            disbursed_on=data["disbursed_on"],
        )
        return (
            f"{loan.reference} is disbursed and active. The borrower received a code to "
            "confirm the money arrived."
        )

    return _act(request, loan, form_name="disbursement_form", run=run)


@require_POST
@portal_required("staff")
def repayment_record(request: HttpRequest, pk: int) -> HttpResponse:
    loan = _loan(request, pk)

    def run(data: dict) -> str:
        started = timezone.now()
        payment = services.repayment_record(actor=request.user, loan=loan, **data)
        if payment.applied_at is not None and payment.applied_at < started:
            # The same reference is the same payment: the service returned the one applied.
            return (
                f"The payment {payment.reference} was recorded already "
                f"({money(payment.amount, loan.currency)}): it is not applied twice."
            )
        return f"Payment {payment.reference} of {money(payment.amount, loan.currency)} applied."

    return _act(request, loan, form_name="repayment_form", run=run)


@require_POST
@portal_required("staff")
def repayment_confirm(request: HttpRequest, pk: int, repayment_pk: int) -> HttpResponse:
    loan = _loan(request, pk)
    payment = selectors.loan_repayment(loan=loan, pk=repayment_pk)
    if payment is None:
        raise Http404("No such payment on this loan.")
    decided_before = payment.status != Repayment.Status.REPORTED
    try:
        payment = services.repayment_confirm(actor=request.user, repayment=payment)
    except ValidationError as refusal:
        for text in _refusal_text(refusal):
            messages.error(request, text)
    else:
        if decided_before:  # a second click, or a colleague was quicker: nothing changed
            messages.info(
                request,
                f"Payment {payment.reference} on {loan.reference} was decided already: "
                f"{payment.get_status_display().lower()}.",
            )
        else:
            messages.success(
                request,
                f"Payment {payment.reference} of {money(payment.amount, loan.currency)} on "
                f"{loan.reference} is applied.",
            )
    return _back_to(request, loan)


@require_POST
@portal_required("staff")
def repayment_refuse(request: HttpRequest, pk: int, repayment_pk: int) -> HttpResponse:
    loan = _loan(request, pk)
    payment = selectors.loan_repayment(loan=loan, pk=repayment_pk)
    if payment is None:
        raise Http404("No such payment on this loan.")
    form = RepaymentRefusalForm(request.POST, auto_id=f"id_refuse_{payment.pk}_%s")
    if form.is_valid():
        try:
            services.repayment_reject(
                actor=request.user, repayment=payment, reason=form.cleaned_data["reason"]
            )
        except ValidationError as error:
            _add_service_errors(form, error)
        else:
            messages.success(
                request,
                f"Payment {payment.reference} on {loan.reference} is refused; the borrower is "
                "told why.",
            )
            return _back_to(request, loan)
    if payment.status != Repayment.Status.REPORTED:  # no refusal form shows for it any more
        _errors_as_messages(request, form)
    if request.POST.get("return_to") == "payments":
        return _payments(request, refusal=(payment.pk, form))
    return _detail(request, loan, refusal=(payment.pk, form))


@require_POST
@portal_required("staff")
def overpayment_refund(request: HttpRequest, pk: int) -> HttpResponse:
    loan = _loan(request, pk)

    def run(data: dict) -> str:
        services.overpayment_refund(actor=request.user, loan=loan, **data)
        return (
            f"Refund of {money(loan.overpaid, loan.currency)} recorded; {loan.reference} is closed."
        )

    return _act(request, loan, form_name="refund_form", run=run)


@require_POST
@portal_required("staff")
@role_required(ORIGINATOR_ADMIN_ONLY)
def loan_write_off(request: HttpRequest, pk: int) -> HttpResponse:
    loan = _loan(request, pk)

    def run(data: dict) -> str:
        loan_after = services.loan_write_off(actor=request.user, loan=loan, reason=data["reason"])
        return (
            f"{loan.reference} is written off "
            f"({money(loan_after.written_off_amount, loan.currency)} of principal)."
        )

    return _act(request, loan, form_name="write_off_form", run=run)


# --- the agreement ---------------------------------------------------------------------------


def _agreement_of(request: HttpRequest, pk: int):
    loan = _loan(request, pk)
    agreement = selectors.loan_agreement(loan=loan)
    if agreement is None:
        raise Http404("This application has no agreement: it is made on approval.")
    return loan, agreement


@portal_required("staff")
def agreement_page(request: HttpRequest, pk: int) -> HttpResponse:
    loan, agreement = _agreement_of(request, pk)
    verified = verify_signed_agreement(agreement.signed_file())
    terms = agreement.document["terms"]
    context = {
        "loan": loan,
        "agreement": agreement,
        "document": agreement.document,
        "signatures": verified.signatures,
        "fully_signed": verified.fully_signed,
        "interest_method": dict(InterestMethod.choices).get(terms["interest_method"], ""),
        "frequency": dict(Frequency.choices).get(terms["repayment_frequency"], ""),
        "fixed_fee": Decimal(terms["fee_fixed"]),
    }
    return render(request, "applications/staff/agreement.html", context)


@portal_required("staff")
def agreement_file(request: HttpRequest, pk: int) -> JsonResponse:
    """The signed agreement file: anyone holding it can check both signatures from it alone."""
    loan, agreement = _agreement_of(request, pk)
    response = JsonResponse(agreement.signed_file(), json_dumps_params={"indent": 2})
    response["Content-Disposition"] = f'attachment; filename="{loan.reference}-agreement.json"'
    return response


# --- payments to confirm ---------------------------------------------------------------------


def _payments(
    request: HttpRequest, *, refusal: tuple[int, RepaymentRefusalForm] | None = None
) -> HttpResponse:
    organization = request.user.organization
    page = Paginator(
        selectors.pending_repayments(organization=organization), PAYMENTS_PAGE
    ).get_page(request.GET.get("page"))
    context = {
        "organization": organization,
        "page": page,
        "rows": _payment_rows(page.object_list, refusal),
    }
    return render(request, "applications/staff/payments.html", context)


@portal_required("staff")
def pending_payments(request: HttpRequest) -> HttpResponse:
    return _payments(request)


# --- approval limits -------------------------------------------------------------------------


def _limits(request: HttpRequest, form: ApprovalLimitForm | None = None) -> HttpResponse:
    is_admin = _is_admin(request.user)
    context = {
        "organization": request.user.organization,
        "limits": selectors.approval_limits(organization=request.user.organization),
        "is_admin": is_admin,
        "form": (form or ApprovalLimitForm(initial={"currency": "KES"})) if is_admin else None,
    }
    return render(request, "applications/staff/limits.html", context)


@portal_required("staff")
def approval_limits(request: HttpRequest) -> HttpResponse:
    return _limits(request)


@require_POST
@portal_required("staff")
@role_required(ORIGINATOR_ADMIN_ONLY)
def approval_limit_set(request: HttpRequest) -> HttpResponse:
    form = ApprovalLimitForm(request.POST)
    if form.is_valid():
        currency, amount = form.cleaned_data["currency"], form.cleaned_data["amount"]
        try:
            services.approval_limit_set(actor=request.user, currency=currency, amount=amount)
        except ValidationError as error:
            _add_service_errors(form, error)
        else:
            if amount is None:
                messages.success(request, f"No approval limit for {currency} any more.")
            else:
                messages.success(
                    request,
                    f"{currency} applications above {money(amount, currency)} now need two "
                    "approvals.",
                )
            return redirect("loans:limits")
    return _limits(request, form)


# --- the staff dashboard ---------------------------------------------------------------------


def _arrears_chart(figures) -> charts.Chart:
    return charts.bar_chart(
        [
            (
                figure.currency,
                [
                    charts.BarInput(
                        label=bucket.label,
                        value=figure.buckets.get(bucket.value, Decimal(0)),
                        text=money(figure.buckets.get(bucket.value, Decimal(0)), figure.currency),
                        kind=f"bucket-{bucket.value}",
                    )
                    for bucket in Bucket
                ],
            )
            for figure in figures
        ]
    )


def _flows_chart(figures) -> charts.Chart:
    return charts.bar_chart(
        [
            (
                figure.currency,
                [
                    charts.BarInput(
                        "Disbursed", figure.disbursed, money(figure.disbursed, figure.currency),
                        "disbursed",
                    ),
                    charts.BarInput(
                        "Repaid", figure.repaid, money(figure.repaid, figure.currency), "repaid"
                    ),
                ],
            )
            for figure in figures
        ]
    )  # fmt: skip


@dataclass(frozen=True)
class DashboardCards:
    loans: str  # the queues and the portfolio, as HTML
    counts: str  # the team, projects, funding and credentials cards, as HTML


@portal_required("staff")
def staff_home(request: HttpRequest) -> HttpResponse:
    organization = request.user.organization
    # The portfolio's "due this week" moves with the day.
    key = f"dashboard:{timezone.localdate().isoformat()}"

    def context() -> dict:
        cards = selectors.kept_for_organization(
            organization=organization, key=key, build=lambda: _dashboard_cards(organization)
        )
        return {"organization": organization, "cards": cards}

    return _render_kept_staff_page(
        request, "applications/staff/home.html", context, organization=organization, key=key
    )


def _dashboard_cards(organization) -> DashboardCards:
    """The cards every member of ORGANIZATION sees alike, rendered without the request: they are
    kept for all of them (selectors.kept_for_organization)."""
    # The portfolio sums up every loan (tens of milliseconds for tens of thousands): the template
    # caches it and the queues until a loan changes, and reads them only when it renders them.
    figures = SimpleLazyObject(lambda: selectors.portfolio(organization=organization))
    loans = {
        "loans_changed": selectors.loans_changed(organization=organization),
        "today": timezone.localdate(),
        "organization": organization,
        "queues": SimpleLazyObject(lambda: _queues(organization)),
        "portfolio": figures,
        "arrears_chart": SimpleLazyObject(lambda: _arrears_chart(figures)),
        "flows_chart": SimpleLazyObject(lambda: _flows_chart(figures)),
    }
    counts = {
        "members": identity_selectors.organization_members(organization=organization),
        "open_invitations": identity_selectors.organization_open_invitations(
            organization=organization
        ),
        "credential_counts": credential_selectors.organization_credential_counts(
            organization=organization
        ),
        "project_counts": project_selectors.organization_project_counts(organization=organization),
        "funding": funding_selectors.funding_counts(organization=organization),
    }
    return DashboardCards(
        loans=render_to_string("applications/staff/_dashboard_loans.html", loans),
        counts=render_to_string("applications/staff/_dashboard_cards.html", counts),
    )
