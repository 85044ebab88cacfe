"""The borrower's loan pages: the portal's home, applying (eligibility, schedule, the credentials
presented and exactly what they disclose, consent), their loans with the conversation, the
agreement to read, sign and download, the disbursement code, the schedule and payments.

Thin: services decide and refuse, selectors read. A custodial wallet is signed for by the node
on the borrower's explicit action; a self-custody wallet signs in the browser (static/js/loan.js
with wallet.js), and the page posts what it signed."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date
from decimal import Decimal

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from apps.identity import credential_selectors
from apps.identity.credential_selectors import CreditRecordEntry
from apps.identity.models import Custody, User, Wallet
from apps.identity.permissions import portal_required
from apps.identity.ssi.credential_types import CREDENTIAL_TYPES, SD_JWT
from apps.identity.ssi.didkey import verification_method
from apps.identity.wallet_services import wallet_of_user
from apps.projects import selectors as project_selectors
from apps.projects.forms import SchedulePreviewForm
from apps.projects.models import Project, ProjectStatus, money_text
from apps.projects.views_public import RuleView, needs

from . import agreement_pdf, selectors, services
from . import repayment as allocation
from .agreement import JWS_TYPE, SignatureCheck, verify_signed_agreement
from .agreement_text import ROLE_NAMES, describe
from .consent import CONSENT_TEXT, CONSENT_VERSION
from .forms_borrower import (
    ApplicationForm,
    CodeForm,
    MessageForm,
    RepaymentReportForm,
    SignForm,
    WithdrawForm,
    credential_field,
)
from .models import Agreement, Installment, Loan, LoanStatus

HOME_LOANS = 5
HOME_DOCUMENTS = 10


# --- words for states -----------------------------------------------------------------------


def status_words(loan: Loan, *, to_sign: bool = False) -> str:
    """Where LOAN stands, said to its borrower."""
    organization = loan.organization.name
    if loan.status == LoanStatus.SUBMITTED:
        if loan.awaiting == "borrower":
            return f"{organization} asked you something: answer to move on"
        if loan.first_approved_by_id:
            return f"Approved once; waiting for a second approval at {organization}"
        return f"Sent; {organization} is reviewing it"
    if loan.status == LoanStatus.APPROVED:
        if to_sign:
            return "Approved: read and sign the agreement"
        return f"Signed: {organization} will send the money"
    if loan.status == LoanStatus.ACTIVE:
        if loan.days_past_due:
            return f"Being repaid; {loan.days_past_due} days late"
        return "Being repaid"
    if loan.status == LoanStatus.OVERPAID:
        return f"Repaid, with more than was owed: {organization} refunds the rest"
    if loan.status == LoanStatus.CLOSED:
        return "Repaid and closed"
    if loan.status == LoanStatus.WRITTEN_OFF:
        return "Written off"
    if loan.status == LoanStatus.REJECTED:
        return f"Not approved by {organization}"
    return "Withdrawn by you"


def _service_errors(form, error: ValidationError, *, fields=None, aliases=None) -> None:
    """Put a service's ValidationError on FORM: its fields' errors by the field (or the field
    ALIASES maps them to), the rest above the form."""
    aliases = aliases or {}
    fields = fields or {}
    if not hasattr(error, "error_dict"):
        form.add_error(None, error.messages)
        return
    for key, errors in error.message_dict.items():
        target_form = fields.get(key, form)
        name = aliases.get(key, key)
        target_form.add_error(name if name in target_form.fields else None, errors)


def _loan_or_404(request: HttpRequest, pk: int) -> Loan:
    loan = selectors.borrower_loan(borrower=request.user, pk=pk)
    if loan is None:
        raise Http404("No such loan of yours.")
    return loan


# --- the borrower's home ----------------------------------------------------------------------


@portal_required("borrow")
def home(request: HttpRequest) -> HttpResponse:
    loans = list(selectors.borrower_loans_listed(borrower=request.user)[: HOME_LOANS + 1])
    active = [
        (loan, selectors.next_installment(loan=loan))
        for loan in selectors.borrower_active_loans(borrower=request.user)
    ]
    context = {
        "loans": [(loan, status_words(loan, to_sign=loan.to_sign)) for loan in loans[:HOME_LOANS]],
        "more_loans": len(loans) > HOME_LOANS,
        "active": active,
        "agreements": list(selectors.borrower_agreements(borrower=request.user)[:HOME_DOCUMENTS]),
    }
    return render(request, "applications/borrower/home.html", context)


# --- applying -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class CredentialOption:
    """One credential of the borrower's record that answers a type the project asks for, and
    what presenting it discloses."""

    entry: CreditRecordEntry
    checked: bool
    disclosed: list[tuple[str, str]]  # what the node sees
    kept: list[tuple[str, str]]  # what the node keeps with the application

    @property
    def record(self):
        return self.entry.record

    @property
    def selective(self) -> bool:
        return self.entry.record.format == SD_JWT


@dataclass(frozen=True)
class AskedType:
    slug: str
    title: str
    claims: list[str]  # labels of the claims asked for
    options: list[CredentialOption]
    field: str
    errors: list[str] = field(default_factory=list)


def _asked_types(
    holder: User, wallet: Wallet, asked: dict[str, list[str]], chosen: dict[str, str]
) -> list[AskedType]:
    """For each credential type the project asks for, the borrower's credentials that can
    answer it today (valid, from an issuer this node trusts, bound to the wallet's DID)."""
    if not asked:
        return []
    trusted = credential_selectors.trusted_issuer_dids()
    usable = [
        entry
        for entry in credential_selectors.credit_record(holder=holder)
        if entry.usable
        and entry.record.issuer_did in trusted
        and entry.record.holder_did == wallet.did
        and entry.record.credential_type in asked
    ]
    types = []
    for slug, names in asked.items():
        credential_type = CREDENTIAL_TYPES[slug]
        entries = [e for e in usable if e.record.credential_type == slug]
        picked = chosen.get(slug) or (str(entries[0].record.pk) if entries else "")
        options = []
        for entry in entries:
            claims = entry.record.claims
            asked_claims = {name: claims[name] for name in names if name in claims}
            kept = credential_selectors.claim_rows(credential_type=slug, claims=asked_claims)
            whole = credential_selectors.claim_rows(credential_type=slug, claims=claims)
            options.append(
                CredentialOption(
                    entry=entry,
                    checked=str(entry.record.pk) == picked,
                    disclosed=kept if entry.record.format == SD_JWT else whole,
                    kept=kept,
                )
            )
        types.append(
            AskedType(
                slug=slug,
                title=credential_type.title,
                claims=[credential_type.labels.get(name, name) for name in names],
                options=options,
                field=credential_field(slug),
            )
        )
    return types


def _taking_applications(project: Project) -> bool:
    today = timezone.localdate()
    return project.status == ProjectStatus.PUBLISHED and (
        project.starts_on <= today <= project.ends_on
    )


def _project_or_404(request: HttpRequest, project_pk) -> Project:
    project = project_selectors.project_for_viewer(pk=project_pk, viewer=request.user)
    if project is None:
        raise Http404("No such project.")
    return project


def _preview(project: Project, terms_form: SchedulePreviewForm):
    """The schedule of the amount and duration the form holds (its initial values before it is
    posted), or None with the errors on the form."""
    if terms_form.is_bound:
        if not terms_form.is_valid():
            return None
        amount, duration = terms_form.cleaned_data["amount"], terms_form.cleaned_data["duration"]
    else:
        amount, duration = terms_form.initial["amount"], terms_form.initial["duration"]
    try:
        return project_selectors.schedule_preview(project=project, amount=amount, duration=duration)
    except ValidationError as error:
        if terms_form.is_bound:
            _service_errors(terms_form, error)
        return None


@portal_required("borrow")
def apply(request: HttpRequest, project_pk) -> HttpResponse:
    project = _project_or_404(request, project_pk)
    borrower = request.user
    wallet = wallet_of_user(user=borrower)
    custodial = wallet.custody == Custody.CUSTODIAL
    posted = request.method == "POST"
    data = request.POST if posted else None
    asked = selectors.presentation_request_for(project=project, holder=borrower) or {}
    chosen = {slug: data.get(credential_field(slug), "") for slug in asked} if posted else {}
    asked_types = _asked_types(borrower, wallet, asked, chosen)
    terms_form = SchedulePreviewForm(
        data,
        initial={
            "amount": Decimal(money_text(project.min_amount, project.currency)),
            "duration": project.min_duration,
        },
    )
    applying = posted and request.POST.get("action") == "apply"
    # A preview keeps what was typed without judging it: only applying checks the whole form.
    form = ApplicationForm(
        data if applying else None,
        initial={"purpose": data.get("purpose", "")} if posted else None,
        asked=asked,
    )
    preview = _preview(project, terms_form)
    if applying and terms_form.is_valid() and form.is_valid():
        loan = _submit(project, borrower, custodial, terms_form, form)
        if loan is not None:
            sent = f"Your application {loan.reference} was sent to {project.organization.name}."
            messages.success(request, sent)
            return redirect("borrower_loans:detail", loan.pk)
    evaluation = project_selectors.eligibility_for(project=project, holder=borrower)
    context = {
        "project": project,
        "wallet": wallet,
        "custodial": custodial,
        "taking_applications": _taking_applications(project),
        "open_loan": selectors.borrower_open_loan(borrower=borrower, project=project),
        "evaluation": evaluation,
        "eligible": evaluation is None or evaluation.eligible,
        "rules": [RuleView(r) for r in evaluation.rules] if evaluation else [],
        "needs": needs(evaluation),
        "terms_form": terms_form,
        "form": form,
        "preview": preview,
        "asked_types": [replace(t, errors=form.errors.get(t.field, [])) for t in asked_types],
        "consent_text": CONSENT_TEXT,
        "consent_version": CONSENT_VERSION,
        "consent_checked": (data or {}).get("consent") == CONSENT_VERSION,
        "presentation_errors": form.errors.get("presentation", []),
        "to_present": _to_present(project, wallet, asked_types) if not custodial else None,
    }
    return render(request, "applications/borrower/apply.html", context)


def _submit(project, borrower, custodial: bool, terms_form, form: ApplicationForm) -> Loan | None:
    """Apply through the services; None with their reasons on the forms when refused."""
    fields = {
        "borrower": borrower,
        "project": project,
        "amount": terms_form.cleaned_data["amount"],
        "duration": terms_form.cleaned_data["duration"],
        "purpose": form.cleaned_data["purpose"],
        "consent_version": form.cleaned_data["consent"],
    }
    try:
        if custodial:
            return services.application_submit_custodial(
                credential_ids=form.credential_ids(), **fields
            )
        return services.application_submit(presentation=form.cleaned_data["presentation"], **fields)
    except ValidationError as error:
        _service_errors(
            form,
            error,
            fields={"amount": terms_form, "duration": terms_form},
            aliases={"credentials": "presentation", "disclose": "presentation",
                     "request": "presentation"},
        )  # fmt: skip
        return None


def _to_present(project: Project, wallet: Wallet, asked_types: list[AskedType]) -> dict:
    """What the browser of a self-custody wallet needs to sign the presentation: the DID, where
    to get the challenge, and the documents of the credentials it may present."""
    return {
        "did": wallet.did,
        "challenge_url": reverse("borrower_loans:apply-challenge", args=[project.pk]),
        "credentials": {
            str(option.record.pk): {
                "type": asked.slug,
                "format": option.record.format,
                "document": option.record.document,
            }
            for asked in asked_types
            for option in asked.options
        },
    }


@require_POST
@portal_required("borrow")
def apply_challenge(request: HttpRequest, project_pk) -> HttpResponse:
    """The application challenge, for a self-custody wallet's browser to answer."""
    project = _project_or_404(request, project_pk)
    try:
        challenge = services.application_challenge(borrower=request.user, project=project)
    except ValidationError as error:
        return JsonResponse({"error": " ".join(error.messages)}, status=400)
    if challenge is None:
        return JsonResponse({"error": "This project asks for no credentials."}, status=400)
    return JsonResponse(
        {
            "nonce": challenge.nonce,
            "domain": challenge.domain,
            "request": challenge.request,
            "expires_at": challenge.expires_at.isoformat(),
        }
    )


# --- my loans ----------------------------------------------------------------------------------


@portal_required("borrow")
def loan_list(request: HttpRequest) -> HttpResponse:
    loans = selectors.borrower_loans_listed(borrower=request.user)
    rows = [(loan, status_words(loan, to_sign=loan.to_sign)) for loan in loans]
    return render(request, "applications/borrower/list.html", {"rows": rows})


@dataclass(frozen=True)
class InstallmentRow:
    installment: Installment
    state: str  # paid | late | due | partly paid
    label: str


def _installment_rows(installments: list[Installment], today: date) -> list[InstallmentRow]:
    rows = []
    for row in installments:
        if row.paid_off_on is not None:
            state, label = "paid", f"Paid on {row.paid_off_on:%Y-%m-%d}"
        elif row.due_on < today:
            state, label = "late", f"Late by {(today - row.due_on).days} days"
        elif row.total_paid:
            state, label = "partly", "Partly paid"
        else:
            state, label = "due", "To pay"
        rows.append(InstallmentRow(row, state, label))
    return rows


def _agreement_checks(agreement: Agreement | None) -> list[tuple[str, SignatureCheck]]:
    """Each party's signature of AGREEMENT checked as anyone would check its file."""
    if agreement is None:
        return []
    checks = verify_signed_agreement(agreement.signed_file()).signatures
    return [(ROLE_NAMES[check.role], check) for check in checks]


def _render_detail(request: HttpRequest, loan: Loan, **forms) -> HttpResponse:
    today = timezone.localdate()
    agreement = selectors.loan_agreement(loan=loan)
    to_sign = (
        loan.status == LoanStatus.APPROVED and agreement is not None and not agreement.fully_signed
    )
    installments = selectors.loan_installments(loan=loan)
    disbursement = selectors.loan_disbursement(loan=loan)
    presented = []
    if loan.presentation_id:
        presented = [
            (CREDENTIAL_TYPES[slug].title if slug in CREDENTIAL_TYPES else slug,
             credential_selectors.claim_rows(credential_type=slug, claims=claims))
            for slug, claims in loan.presentation.disclosed.items()
        ]  # fmt: skip
    context = {
        "loan": loan,
        "status": status_words(loan, to_sign=to_sign),
        "asked_by_staff": loan.status == LoanStatus.SUBMITTED and loan.awaiting == "borrower",
        "thread": selectors.loan_messages(loan=loan),
        "message_form": forms.get("message_form") or MessageForm(),
        "can_withdraw": loan.status in (LoanStatus.SUBMITTED, LoanStatus.APPROVED),
        "withdraw_form": forms.get("withdraw_form") or WithdrawForm(),
        "agreement": agreement,
        "to_sign": to_sign,
        "signatures": _agreement_checks(agreement),
        "disbursement": disbursement,
        "code_form": forms.get("code_form") or CodeForm(),
        "code_tries_left": (
            services.CODE_ATTEMPTS - disbursement.code_attempts if disbursement else 0
        ),
        "installments": _installment_rows(installments, today),
        "days_past_due": allocation.days_past_due([i.as_due() for i in installments], today),
        "next_installment": next((i for i in installments if i.paid_off_on is None), None),
        "outstanding": selectors.outstanding_total(loan=loan) if installments else None,
        "repayments": selectors.loan_repayments(loan=loan),
        "can_report": loan.status == LoanStatus.ACTIVE,
        "report_form": forms.get("report_form")
        or RepaymentReportForm(initial={"paid_on": today, "rail": "mobile_money"}),
        "presented": presented,
    }
    return render(request, "applications/borrower/detail.html", context)


@portal_required("borrow")
def loan_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return _render_detail(request, _loan_or_404(request, pk))


def _posted(request: HttpRequest, pk: int, form_class, key: str, act, done: str, anchor: str):
    """A form of the loan's page: ACT(loan, cleaned_data) on a valid form, then back to the
    page with DONE; the page again with the errors otherwise."""
    loan = _loan_or_404(request, pk)
    form = form_class(request.POST)
    page = reverse("borrower_loans:detail", args=[loan.pk])
    if form.is_valid():
        try:
            act(loan, form.cleaned_data)
        except ValidationError as error:
            if not hasattr(error, "error_dict"):
                # Not about the input but the loan's state (it moved on): say so on its page.
                messages.error(request, " ".join(error.messages))
                return redirect(page)
            _service_errors(form, error)
        else:
            messages.success(request, done)
            return redirect(page + anchor)
    return _render_detail(request, loan, **{key: form})


@require_POST
@portal_required("borrow")
def message_post(request: HttpRequest, pk: int) -> HttpResponse:
    def act(loan, data):
        services.message_post(author=request.user, loan=loan, body=data["body"])

    done = "Your message was sent."
    return _posted(request, pk, MessageForm, "message_form", act, done, "#thread")


@require_POST
@portal_required("borrow")
def withdraw(request: HttpRequest, pk: int) -> HttpResponse:
    def act(loan, data):
        services.application_withdraw(borrower=request.user, loan=loan, reason=data["reason"])

    return _posted(request, pk, WithdrawForm, "withdraw_form", act, "You withdrew it.", "")


@require_POST
@portal_required("borrow")
def disbursement_confirm(request: HttpRequest, pk: int) -> HttpResponse:
    def act(loan, data):
        services.disbursement_confirm(borrower=request.user, loan=loan, code=data["code"])

    done = "Thank you: you confirmed that you received the money."
    return _posted(request, pk, CodeForm, "code_form", act, done, "#disbursement")


@require_POST
@portal_required("borrow")
def repayment_report(request: HttpRequest, pk: int) -> HttpResponse:
    def act(loan, data):
        services.repayment_report(borrower=request.user, loan=loan, **data)

    done = "Your payment is reported: it counts once the originator confirms it."
    return _posted(request, pk, RepaymentReportForm, "report_form", act, done, "#payments")


# --- the agreement ---------------------------------------------------------------------------


def _agreement_or_404(loan: Loan) -> Agreement:
    agreement = selectors.loan_agreement(loan=loan)
    if agreement is None:
        raise Http404("This loan has no agreement yet.")
    return agreement


@portal_required("borrow")
def agreement(request: HttpRequest, pk: int) -> HttpResponse:
    """The agreement to read and, while the loan is approved and it is not signed, to sign."""
    loan = _loan_or_404(request, pk)
    agreement = _agreement_or_404(loan)
    wallet = wallet_of_user(user=request.user)
    form = SignForm(request.POST if request.method == "POST" else None)
    if request.method == "POST":
        if form.is_valid():
            try:
                services.agreement_sign(
                    borrower=request.user,
                    loan=loan,
                    password=form.cleaned_data["password"],
                    signature=form.cleaned_data["signature"],
                )
            except ValidationError as error:
                if not hasattr(error, "error_dict"):  # the loan moved on: nothing to sign
                    messages.error(request, " ".join(error.messages))
                    return redirect("borrower_loans:agreement", loan.pk)
                _service_errors(form, error, aliases={"signature": None})
            else:
                messages.success(request, "You signed the agreement.")
                return redirect("borrower_loans:detail", loan.pk)
        agreement = _agreement_or_404(loan)
    elif loan.status == LoanStatus.APPROVED and not agreement.fully_signed:
        # Made again for the borrower's DID if their wallet moved to another since approval.
        try:
            agreement = services.agreement_refresh(borrower=request.user, loan=loan)
        except ValidationError:  # signed or withdrawn a moment ago: show it as it is
            agreement = _agreement_or_404(loan)
    to_sign = loan.status == LoanStatus.APPROVED and not agreement.fully_signed
    context = {
        "loan": loan,
        "agreement": agreement,
        "text": describe(agreement.document),
        "signatures": _agreement_checks(agreement),
        "to_sign": to_sign,
        "form": form,
        "custodial": wallet.custody == Custody.CUSTODIAL,
        "wallet": wallet,
        "to_sign_in_browser": {
            "did": wallet.did,
            "kid": verification_method(wallet.did),
            "typ": JWS_TYPE,
            "hash": agreement.hash,
        },
    }
    return render(request, "applications/borrower/agreement.html", context)


def _filename(loan: Loan, extension: str) -> str:
    return f"growr-agreement-{loan.reference}.{extension}"


@never_cache
@portal_required("borrow")
def agreement_file(request: HttpRequest, pk: int) -> HttpResponse:
    loan = _loan_or_404(request, pk)
    agreement = _agreement_or_404(loan)
    response = JsonResponse(
        agreement.signed_file(), json_dumps_params={"indent": 2, "ensure_ascii": False}
    )
    response["Content-Disposition"] = f'attachment; filename="{_filename(loan, "json")}"'
    return response


@never_cache
@portal_required("borrow")
def agreement_pdf_download(request: HttpRequest, pk: int) -> HttpResponse:
    loan = _loan_or_404(request, pk)
    agreement = _agreement_or_404(loan)
    signed = agreement.signed_file()
    data = agreement_pdf.render(
        document=signed["document"], document_hash=signed["hash"], signatures=signed["signatures"]
    )
    response = HttpResponse(data, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{_filename(loan, "pdf")}"'
    return response
