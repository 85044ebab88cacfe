"""Writes for applications and loans: applying, review, agreements, disbursement, repayments,
arrears and closing.

Every change of a loan's status goes through `_transition`, which checks it against ALLOWED
(Fineract's lifecycle, lending.md §b), and every action, status change or not, through `_audit`.
Both run inside the caller's transaction with the loan row locked (`_locked`), and every change
the public may see is published to the loan book through the outbox (`_publish`), so a rolled-back
request leaves no trace anywhere.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.urls import reverse
from django.utils import timezone

from apps.identity.credential_selectors import holder_credentials, node_domain
from apps.identity.credential_services import (
    credential_issue,
    presentation_build_custodial,
    presentation_challenge_issue,
    presentation_verify,
)
from apps.identity.models import STAFF_ROLES, Challenge, Custody, Role, User, WalletEvent
from apps.identity.notifications import notify_user
from apps.identity.notifiers import notify
from apps.identity.ssi.credential_types import CREDENTIAL_TYPES, SD_JWT
from apps.identity.wallet_services import custodial_key, wallet_of_organization, wallet_of_user
from apps.ledger.models import Book
from apps.ledger.services import book_publish
from apps.projects import eligibility
from apps.projects.models import DURATION_UNITS, Project, ProjectStatus
from apps.projects.schedule import build_schedule, minor_units
from apps.projects.selectors import loan_terms

from . import agreement as agreements
from . import repayment as allocation
from .consent import CONSENT_VERSION
from .models import (
    Agreement,
    ApprovalLimit,
    Awaiting,
    Disbursement,
    Installment,
    Loan,
    LoanEvent,
    LoanStatus,
    Message,
    Rail,
    Reminder,
    Repayment,
)
from .selectors import approval_limit_for, presentation_request_for
from .signals import loan_written_off, repayment_applied

ALLOWED = {
    LoanStatus.SUBMITTED: {LoanStatus.APPROVED, LoanStatus.REJECTED, LoanStatus.WITHDRAWN},
    LoanStatus.APPROVED: {LoanStatus.ACTIVE, LoanStatus.WITHDRAWN},
    LoanStatus.ACTIVE: {LoanStatus.CLOSED, LoanStatus.OVERPAID, LoanStatus.WRITTEN_OFF},
    LoanStatus.OVERPAID: {LoanStatus.CLOSED},
    LoanStatus.CLOSED: set(),
    LoanStatus.WRITTEN_OFF: set(),
    LoanStatus.REJECTED: set(),
    LoanStatus.WITHDRAWN: set(),
}
CODE_ATTEMPTS = 5


# --- who may do what -----------------------------------------------------------------------


def _check_borrower(user: User, loan: Loan | None = None) -> None:
    if not (user.is_active and user.role == Role.BORROWER):
        raise PermissionDenied("Only a borrower applies for loans.")
    if loan is not None and loan.borrower_id != user.pk:
        raise PermissionDenied("This application is another borrower's.")


def _check_staff(user: User, loan: Loan) -> None:
    if not (user.is_active and user.role in STAFF_ROLES):
        raise PermissionDenied("Only originator staff work on applications.")
    if loan.organization_id != user.organization_id:
        raise PermissionDenied("This application was made to another organization.")


def _check_admin(user: User, loan: Loan) -> None:
    _check_staff(user, loan)
    if user.role != Role.ORIGINATOR_ADMIN:
        raise PermissionDenied("Only an originator admin writes a loan off.")


# --- the one lifecycle ---------------------------------------------------------------------


def _locked(loan: Loan) -> Loan:
    # The rows a step reads besides the loan (terms, names in messages) come in the same query;
    # "of=self" locks only the loan.
    return (
        Loan.objects.select_for_update(of=("self",))
        .select_related("project", "organization", "borrower")
        .defer("project__image")
        .get(pk=loan.pk)
    )


def _audit(loan: Loan, *, actor: User | None, action: str, changes: dict | None = None,
           from_status: str = "", to_status: str = "") -> None:  # fmt: skip
    LoanEvent.objects.create(
        loan=loan,
        actor=actor,
        action=action,
        from_status=from_status,
        to_status=to_status,
        changes=changes or {},
    )


def _transition(loan: Loan, *, to: str, actor: User | None, action: str,
                changes: dict | None = None) -> Loan:  # fmt: skip
    """The one way a loan changes status. Call inside a transaction with the row locked."""
    if to not in ALLOWED[loan.status]:
        raise ValidationError(
            f"A loan that is {loan.get_status_display().lower()} cannot become "
            f"{LoanStatus(to).label.lower()}."
        )
    before = loan.status
    loan.status, loan.version, loan.updated_at = to, loan.version + 1, timezone.now()
    loan.save()
    _audit(loan, actor=actor, action=action, changes=changes, from_status=before, to_status=to)
    _publish(loan)
    return loan


def _published_changed(loan: Loan) -> None:
    """A change the loan book shows that is not a change of status (arrears, repayments)."""
    loan.version, loan.updated_at = loan.version + 1, timezone.now()
    loan.save()
    _publish(loan)


def _publish(loan: Loan) -> None:
    book_publish(
        book=Book.LOANS,
        entry_type="growr/loan",
        version=1,
        key=f"loan:{loan.public_id}",
        value={
            "loan": str(loan.public_id),
            "project": str(loan.project_id),
            "version": loan.version,
            "status": loan.status,
            "currency": loan.currency,
            "amount": loan.money(loan.amount),
            "duration": loan.duration,
            "duration_unit": DURATION_UNITS[loan.project.repayment_frequency],
            "submitted_on": timezone.localdate(loan.submitted_at).isoformat(),
            "agreement_hash": loan.agreement_hash or None,
            "disbursed_on": loan.disbursed_on.isoformat() if loan.disbursed_on else None,
            "closed_on": loan.closed_on.isoformat() if loan.closed_on else None,
            "repaid": {
                "principal": loan.money(loan.principal_repaid),
                "interest": loan.money(loan.interest_repaid),
                "fees": loan.money(loan.fees_repaid),
            },
            "written_off": loan.money(loan.written_off_amount),
            "days_past_due": loan.days_past_due,
            "arrears_bucket": loan.arrears_bucket,
        },
    )


def _money(value: object, currency: str, field: str) -> Decimal:
    try:
        amount = Decimal(str(value).strip())
    except (InvalidOperation, ValueError) as exc:
        raise ValidationError({field: "Enter an amount."}) from exc
    if not amount.is_finite() or amount <= 0:
        raise ValidationError({field: "Enter an amount above zero."})
    if amount >= Decimal(10) ** 15:  # before quantize, which cannot hold "1e100"
        raise ValidationError({field: "This amount is too large."})
    digits = minor_units(currency)
    if amount != amount.quantize(Decimal(1).scaleb(-digits)):
        raise ValidationError({field: f"{currency} amounts have at most {digits} decimals."})
    return amount


def _notify_staff(loan: Loan, text: str) -> None:
    link = reverse("loans:detail", args=[loan.pk])
    for user_id in loan.organization.members.filter(is_active=True).values_list("pk", flat=True):
        notify_user(user_id=user_id, kind="application", text=text, link=link)


def _notify_borrower(loan: Loan, subject: str, text: str) -> None:
    link = reverse("borrower_loans:detail", args=[loan.pk])
    notify_user(user_id=loan.borrower_id, kind="application", text=subject, link=link)
    notify(user=loan.borrower, subject=subject, text=text)


# --- applying ------------------------------------------------------------------------------


def application_challenge(*, borrower: User, project: Project) -> Challenge | None:
    """A presentation challenge asking BORROWER for what PROJECT's criteria read; None when the
    project asks for no credentials."""
    _check_borrower(borrower)
    request = presentation_request_for(project=project, holder=borrower)
    if request is None:
        return None
    if not request:
        raise ValidationError(
            {"presentation": "Your credit record holds none of the credentials this project asks "
                             "for."}
        )  # fmt: skip
    return presentation_challenge_issue(user=borrower, request=request)


def _check_open(project: Project, today: date) -> None:
    if project.status != ProjectStatus.PUBLISHED or not (
        project.starts_on <= today <= project.ends_on
    ):
        raise ValidationError({"project": "This project is not taking applications."})


def _checked_presentation(*, borrower: User, project: Project, envelope: object, today: date):
    """Verify BORROWER's presentation for PROJECT and evaluate the criteria on exactly what it
    disclosed. Returns (PresentationRecord, rule results); refuses with the reasons."""
    if envelope is None:
        raise ValidationError(
            {"presentation": "This project asks for credentials: present them to apply."}
        )
    outcome = presentation_verify(envelope=envelope, user=borrower)
    if not outcome.verified:
        raise ValidationError(
            {"presentation": f"The presentation was refused ({outcome.failed_check}): "
                             f"{outcome.reason}."}
        )  # fmt: skip
    request = outcome.record.challenge.request or {}
    wanted = eligibility.presentation_request(project.eligibility)
    required = set(eligibility.required_credentials(project.eligibility))
    if not (required <= set(request) <= set(wanted)) or any(
        set(request[slug]) != set(wanted[slug]) for slug in request
    ):
        raise ValidationError(
            {"presentation": "This presentation answers another request; start the application "
                             "again."}
        )  # fmt: skip
    verified = outcome.presentation
    evaluation = eligibility.evaluate(
        project.eligibility,
        claims=verified.disclosed(request),
        issuers={c.type.slug: c.issuer for c in verified.credentials},
        today=today,
    )
    if not evaluation.eligible:
        raise ValidationError({"eligibility": evaluation.reasons})
    results = [
        {"rule": r.number, "credential": r.credential, "claim": r.claim, "status": r.status,
         "reason": r.reason}
        for r in evaluation.rules
    ]  # fmt: skip
    return outcome.record, results


@transaction.atomic
def application_submit(
    *,
    borrower: User,
    project: Project,
    amount: object,
    duration: object,
    purpose: str,
    consent_version: str,
    presentation: object = None,
) -> Loan:
    """Apply for a loan under PROJECT. Checked in full before anything is stored: the project is
    open, amount and duration are in its range, the consent is today's, and (when the project
    has criteria) the presentation verifies and its claims meet them."""
    _check_borrower(borrower)
    today = timezone.localdate()
    _check_open(project, today)
    errors: dict[str, object] = {}
    try:
        amount = _money(amount, project.currency, "amount")
    except ValidationError as exc:
        errors.update(exc.message_dict)
    if type(duration) is not int:
        errors["duration"] = "A whole number of periods."
    if not errors:
        try:
            loan_terms(project=project, amount=amount, duration=duration, disbursed_on=today)
        except ValidationError as exc:
            errors.update(exc.message_dict)
    purpose = str(purpose or "").strip()
    if not purpose:
        errors["purpose"] = "Say what the loan is for."
    elif len(purpose) > 1000:
        errors["purpose"] = "At most 1000 characters."
    if consent_version != CONSENT_VERSION:
        errors["consent"] = "Read and accept the consent to apply."
    if Loan.objects.filter(borrower=borrower, project=project, status__in=_OPEN).exists():
        errors["project"] = "You have an open application or loan under this project already."
    if errors:
        raise ValidationError(errors)
    record, results = None, []
    if project.eligibility:
        record, results = _checked_presentation(
            borrower=borrower, project=project, envelope=presentation, today=today
        )
    try:
        with transaction.atomic():
            loan = Loan.objects.create(
                project=project,
                organization_id=project.organization_id,
                borrower=borrower,
                currency=project.currency,
                amount=amount,
                duration=duration,
                purpose=purpose,
                status=LoanStatus.SUBMITTED,
                consent_version=consent_version,
                consented_at=timezone.now(),
                presentation=record,
                eligibility=results,
                needs_second_approval=_needs_second_approval(project.organization_id,
                                                             project.currency, amount),
            )  # fmt: skip
    except IntegrityError as exc:  # a second submission racing the first
        raise ValidationError(
            {"project": "You have an open application or loan under this project already."}
        ) from exc
    _audit(
        loan,
        actor=borrower,
        action="submitted",
        to_status=LoanStatus.SUBMITTED,
        changes={"amount": loan.money(amount), "duration": duration,
                 "consent_version": consent_version},
    )  # fmt: skip
    _publish(loan)
    _notify_staff(loan, f"New application {loan.reference} for {project.name}.")
    return loan


_OPEN = [LoanStatus.SUBMITTED, LoanStatus.APPROVED, LoanStatus.ACTIVE, LoanStatus.OVERPAID]


@transaction.atomic
def application_submit_custodial(
    *,
    borrower: User,
    project: Project,
    credential_ids: Sequence[int],
    amount: object,
    duration: object,
    purpose: str,
    consent_version: str,
) -> Loan:
    """Apply with a custodial wallet: the node answers the application challenge for BORROWER
    with the credentials they chose (one per type asked for), an SD-JWT one disclosing exactly
    the claims the challenge asks of its type, then applies as `application_submit`. One
    transaction: a refused application leaves no challenge, presentation or wallet history."""
    _check_borrower(borrower)
    presentation = None
    challenge = application_challenge(borrower=borrower, project=project)
    if challenge is not None:
        request = challenge.request or {}
        records = holder_credentials(holder=borrower, ids=credential_ids)
        chosen = {record.credential_type for record in records}
        if len(records) != len(set(credential_ids)) or len(chosen) != len(records):
            raise ValidationError(
                {"credentials": "Choose one credential of each type, from your own record."}
            )
        if chosen != set(request):
            raise ValidationError(
                {"credentials": "Choose one credential of each type asked for: "
                                f"{', '.join(CREDENTIAL_TYPES[s].title for s in request)}."}
            )  # fmt: skip
        presentation = presentation_build_custodial(
            holder=borrower,
            nonce=challenge.nonce,
            credential_ids=[record.pk for record in records],
            disclose={
                record.pk: list(request[record.credential_type])
                for record in records
                if record.format == SD_JWT
            },
        )
    return application_submit(
        borrower=borrower,
        project=project,
        amount=amount,
        duration=duration,
        purpose=purpose,
        consent_version=consent_version,
        presentation=presentation,
    )


def _needs_second_approval(organization_id: int, currency: str, amount: Decimal) -> bool:
    limit = approval_limit_for(organization_id=organization_id, currency=currency)
    return limit is not None and amount > limit


@transaction.atomic
def application_withdraw(*, borrower: User, loan: Loan, reason: str = "") -> Loan:
    loan = _locked(loan)
    _check_borrower(borrower, loan)
    loan.awaiting = Awaiting.NOBODY
    _transition(
        loan, to=LoanStatus.WITHDRAWN, actor=borrower, action="withdrawn",
        changes={"reason": reason.strip()[:300]} if reason.strip() else None,
    )  # fmt: skip
    _notify_staff(loan, f"{loan.reference} was withdrawn by the borrower.")
    return loan


# --- review ----------------------------------------------------------------------------------


@transaction.atomic
def application_approve(*, actor: User, loan: Loan) -> Loan:
    """Approve a submitted application. Above the organization's limit for its currency the
    first approval waits for a second staff member's; the final approval makes the agreement and
    signs it for the organization."""
    loan = _locked(loan)
    _check_staff(actor, loan)
    if loan.status != LoanStatus.SUBMITTED:
        raise ValidationError("Only a submitted application is approved.")
    loan.needs_second_approval = _needs_second_approval(
        loan.organization_id, loan.currency, loan.amount
    )
    now = timezone.now()
    if loan.needs_second_approval and loan.first_approved_by_id is None:
        loan.first_approved_by, loan.first_approved_at, loan.updated_at = actor, now, now
        loan.save()
        _audit(
            loan,
            actor=actor,
            action="first_approval",
            changes={"limit": "above the approval limit: a second approval is needed"},
        )
        _notify_staff(loan, f"{loan.reference} needs a second approval.")
        return loan
    if loan.needs_second_approval and loan.first_approved_by_id == actor.pk:
        raise PermissionDenied(
            "This amount is above the approval limit: another staff member must approve it too."
        )
    loan.decided_by, loan.decided_at, loan.awaiting = actor, now, Awaiting.NOBODY
    _transition(loan, to=LoanStatus.APPROVED, actor=actor, action="approved")
    _agreement_create(loan, actor)
    _notify_borrower(
        loan,
        f"Your application {loan.reference} was approved",
        f"{loan.organization.name} approved your application for {loan.project.name}. "
        "Read and sign the loan agreement on your loans page.",
    )
    return loan


@transaction.atomic
def application_reject(*, actor: User, loan: Loan, reason: str) -> Loan:
    loan = _locked(loan)
    _check_staff(actor, loan)
    reason = str(reason or "").strip()
    if not reason:
        raise ValidationError({"reason": "Give the borrower the reason."})
    loan.decided_by, loan.decided_at = actor, timezone.now()
    loan.decision_reason, loan.awaiting = reason[:500], Awaiting.NOBODY
    _transition(
        loan, to=LoanStatus.REJECTED, actor=actor, action="rejected", changes={"reason": reason}
    )
    _notify_borrower(
        loan,
        f"Your application {loan.reference} was not approved",
        f"{loan.organization.name} did not approve your application for {loan.project.name}: "
        f"{reason}",
    )
    return loan


@transaction.atomic
def application_request_information(*, actor: User, loan: Loan, question: str) -> Message:
    """Send an application back to the borrower with a question: a message in its thread, and
    the application waits for the borrower's answer."""
    loan = _locked(loan)
    _check_staff(actor, loan)
    if loan.status != LoanStatus.SUBMITTED:
        raise ValidationError("Only a submitted application is sent back for information.")
    message = _message_add(loan, author=actor, body=question)
    loan.awaiting = Awaiting.BORROWER
    loan.save()
    _audit(loan, actor=actor, action="information_requested")
    return message


@transaction.atomic
def message_post(*, author: User, loan: Loan, body: str) -> Message:
    """A message in an application's thread, from its borrower or from the organization's
    staff. The other side is told; a borrower's answer puts the application back with staff."""
    loan = _locked(loan)
    if author.role == Role.BORROWER:
        _check_borrower(author, loan)
    else:
        _check_staff(author, loan)
    message = _message_add(loan, author=author, body=body)
    if author.role == Role.BORROWER and loan.awaiting == Awaiting.BORROWER:
        loan.awaiting = Awaiting.STAFF
        loan.save()
        _audit(loan, actor=author, action="information_given")
    return message


def _message_add(loan: Loan, *, author: User, body: str) -> Message:
    body = str(body or "").strip()
    if not body:
        raise ValidationError({"body": "Write a message."})
    if len(body) > 4000:
        raise ValidationError({"body": "At most 4000 characters."})
    from_staff = author.role != Role.BORROWER
    message = Message.objects.create(loan=loan, author=author, from_staff=from_staff, body=body)
    if from_staff:
        _notify_borrower(
            loan,
            f"A message about your application {loan.reference}",
            f"{loan.organization.name} wrote:\n\n{body}\n\nAnswer on your application's page.",
        )
    else:
        _notify_staff(loan, f"The borrower answered on {loan.reference}.")
    return message


# --- approval limits -------------------------------------------------------------------------


@transaction.atomic
def approval_limit_set(*, actor: User, currency: str, amount: object | None) -> None:
    """Applications above AMOUNT in CURRENCY need two staff approvals; None removes the limit."""
    if not (actor.is_active and actor.role == Role.ORIGINATOR_ADMIN):
        raise PermissionDenied("Only an originator admin sets approval limits.")
    currency = str(currency or "").strip().upper()
    try:
        minor_units(currency)
    except ValueError as exc:
        raise ValidationError({"currency": "Choose an ISO 4217 currency code."}) from exc
    limits = ApprovalLimit.objects.filter(organization_id=actor.organization_id)
    if amount in (None, ""):
        limits.filter(currency=currency).delete()
        return
    limit = _money(amount, currency, "amount")
    limits.update_or_create(
        currency=currency,
        defaults={"amount": limit, "updated_by": actor, "updated_at": timezone.now(),
                  "organization_id": actor.organization_id},
    )  # fmt: skip


# --- the agreement ---------------------------------------------------------------------------


def _agreement_document(loan: Loan, borrower_did: str, organization_did: str) -> dict:
    project = loan.project
    today = timezone.localdate()
    schedule = build_schedule(
        loan_terms(project=project, amount=loan.amount, duration=loan.duration, disbursed_on=today)
    )
    money = loan.money
    return {
        "format": agreements.FORMAT,
        "format_version": agreements.FORMAT_VERSION,
        "agreement_id": str(uuid.uuid4()),
        "node": node_domain(),
        "made_on": today.isoformat(),
        "loan": str(loan.public_id),
        "reference": loan.reference,
        "parties": {
            "originator": {"name": loan.organization.name, "did": organization_did},
            "borrower": {"name": loan.borrower.full_name, "did": borrower_did},
        },
        "project": {"id": str(project.pk), "name": project.name, "version": project.version},
        "terms": {
            "currency": loan.currency,
            "principal": money(loan.amount),
            "duration": loan.duration,
            "duration_unit": DURATION_UNITS[project.repayment_frequency],
            "annual_rate_percent": format(project.annual_rate.normalize(), "f"),
            "interest_method": project.interest_method,
            "repayment_frequency": project.repayment_frequency,
            "grace_periods": project.grace_periods,
            "fee_percent": format(project.fee_percent.normalize(), "f"),
            "fee_fixed": money(project.fee_fixed),
            "purpose": loan.purpose,
        },
        "schedule": {
            "dated_from": today.isoformat(),
            "rows": [
                {
                    "number": row.number,
                    "due_on": row.due_on.isoformat(),
                    "principal": money(row.principal),
                    "interest": money(row.interest),
                    "fee": money(row.fee),
                    "total": money(row.total_due),
                    "balance": money(row.balance),
                }
                for row in schedule.rows
            ],
            "total_interest": money(schedule.total_interest),
            "total_fees": money(schedule.total_fees),
            "total_repaid": money(schedule.total_repaid),
        },
        "clauses": [
            "The originator lends the principal to the borrower, who repays it with the interest "
            "and fees of the schedule.",
            "The schedule is dated as if the loan were disbursed on the day this agreement was "
            "made; its due dates count from the actual day of disbursement, and its amounts do "
            "not change.",
            "A payment settles, oldest installment first, the fees, then the interest, then the "
            "principal. Paying early is allowed; paying more than is owed is refunded.",
            "The loan's amounts, dates and repayments, never the borrower's name or other "
            "personal data, are published in the originator's public loan book, with this "
            "agreement's hash.",
        ],
    }


@dataclass(frozen=True)
class OrganizationSigned:
    """A new agreement document, its hash, and the organization's signature of it."""

    document: dict
    hash: str
    originator_did: str
    originator_signature: str
    counterparty_did: str

    def fields(self, *, signed_by: User) -> dict:
        """The SignedAgreement fields this fills in, signed now by SIGNED_BY's act."""
        return {
            "document": self.document,
            "hash": self.hash,
            "originator_did": self.originator_did,
            "originator_signature": self.originator_signature,
            "originator_signed_at": timezone.now(),
            "originator_signed_by": signed_by,
        }


def agreement_signed_by_organization(
    *,
    organization,
    counterparty: User,
    build: Callable[[str, str], dict],
    document_format: str = agreements.FORMAT,
) -> OrganizationSigned:
    """The document BUILD makes from the counterparty's and the organization's DIDs, hashed and
    signed with the organization's key: how loan and investment agreements begin."""
    wallet = wallet_of_organization(organization=organization)
    counterparty_did = wallet_of_user(user=counterparty).did
    document = build(counterparty_did, wallet.did)
    document_hash = agreements.agreement_hash(document)
    signature = agreements.sign_agreement(
        key=custodial_key(wallet=wallet),
        document_hash=document_hash,
        role="originator",
        document_format=document_format,
    )
    return OrganizationSigned(document, document_hash, wallet.did, signature, counterparty_did)


def _agreement_create(loan: Loan, actor: User) -> Agreement:
    signed = agreement_signed_by_organization(
        organization=loan.organization,
        counterparty=loan.borrower,
        build=lambda borrower_did, organization_did: _agreement_document(
            loan, borrower_did, organization_did
        ),
    )
    Agreement.objects.filter(loan=loan).delete()
    return Agreement.objects.create(
        loan=loan, borrower_did=signed.counterparty_did, **signed.fields(signed_by=actor)
    )


def _agreement_to_sign(loan: Loan, borrower: User) -> Agreement:
    if loan.status != LoanStatus.APPROVED:
        raise ValidationError("Only an approved loan's agreement is signed.")
    agreement = Agreement.objects.select_for_update().get(loan=loan)
    if agreement.borrower_signature:
        raise ValidationError("You signed this agreement already.")
    return agreement


@transaction.atomic
def agreement_refresh(*, borrower: User, loan: Loan) -> Agreement:
    """The agreement BORROWER is asked to sign, made again for their DID if their wallet moved
    to another DID since approval (signed again for the organization by the approver)."""
    loan = _locked(loan)
    _check_borrower(borrower, loan)
    agreement = _agreement_to_sign(loan, borrower)
    if agreement.borrower_did == wallet_of_user(user=borrower).did:
        return agreement
    approver = agreement.originator_signed_by
    agreement = _agreement_create(loan, approver)
    _audit(
        loan,
        actor=borrower,
        action="agreement_remade",
        changes={"reason": "the borrower's DID changed", "hash": agreement.hash},
    )
    return agreement


@transaction.atomic
def agreement_sign(
    *, borrower: User, loan: Loan, password: str = "", signature: str = ""
) -> Agreement:
    """The borrower signs the agreement's hash. A custodial wallet is signed by the node on the
    borrower's password; a self-custody one brings its own signature (browser or CLI)."""
    loan = _locked(loan)
    _check_borrower(borrower, loan)
    agreement = _agreement_to_sign(loan, borrower)
    wallet = wallet_of_user(user=borrower)
    if wallet.did != agreement.borrower_did:
        raise ValidationError(
            {"signature": "Your DID changed since the agreement was made: open it again."}
        )
    if wallet.custody == Custody.CUSTODIAL:
        if not borrower.check_password(password or ""):
            raise ValidationError({"password": "Your password, to sign, is not right."})
        signature = agreements.sign_agreement(
            key=custodial_key(wallet=wallet), document_hash=agreement.hash, role="borrower"
        )
        WalletEvent.objects.create(
            wallet=wallet, kind=WalletEvent.Kind.AGREEMENT_SIGNED, did=wallet.did,
            actor=borrower, detail=f"{loan.reference} agreement {agreement.hash[:16]}…",
        )  # fmt: skip
    check = agreements.check_signature(
        jws=signature, document_hash=agreement.hash, role="borrower", did=agreement.borrower_did
    )
    if not check.valid:
        raise ValidationError({"signature": f"The signature is refused: {check.reason}."})
    agreement.borrower_signature, agreement.borrower_signed_at = signature, timezone.now()
    agreement.save()
    loan.agreement_hash = agreement.hash
    _audit(loan, actor=borrower, action="agreement_signed", changes={"hash": agreement.hash})
    _published_changed(loan)
    _notify_staff(loan, f"{loan.reference}: the borrower signed the agreement.")
    return agreement


# --- disbursement ----------------------------------------------------------------------------


def _code_hash(loan: Loan, code: str) -> str:
    return hashlib.sha256(f"{loan.public_id}:{code}".encode()).hexdigest()


def _rail(rail: object) -> str:
    if rail not in Rail.values:
        raise ValidationError({"rail": f"One of: {', '.join(Rail.values)}."})
    return rail


def _reference(reference: object) -> str:
    text = str(reference or "").strip()
    if not text or len(text) > 120:
        raise ValidationError({"reference": "Give the payment reference (at most 120 characters)."})
    return text


def _day(value: object, field: str, *, not_before: date | None = None) -> date:
    if not isinstance(value, date):
        raise ValidationError({field: "Give a date."})
    if value > timezone.localdate():
        raise ValidationError({field: "This date is in the future."})
    if not_before is not None and value < not_before:
        raise ValidationError({field: f"The date cannot be before {not_before}."})
    return value


@transaction.atomic
def loan_disburse(
    *, actor: User, loan: Loan, rail: str, reference: str, disbursed_on: date | None = None
) -> Loan:
    """Record that the money went out: the loan becomes active with its schedule dated from
    DISBURSED_ON, and the borrower gets a one-time code to confirm they received it. Sending the
    same disbursement again changes nothing."""
    loan = _locked(loan)
    _check_staff(actor, loan)
    rail, reference = _rail(rail), _reference(reference)
    approved_on = timezone.localdate(loan.decided_at) if loan.decided_at else None
    disbursed_on = _day(
        disbursed_on or timezone.localdate(), "disbursed_on", not_before=approved_on
    )
    existing = Disbursement.objects.filter(loan=loan).first()
    if existing is not None:
        if (existing.rail, existing.reference) == (rail, reference):
            return loan
        raise ValidationError("This loan was disbursed already, with another reference.")
    agreement = Agreement.objects.filter(loan=loan).first()
    if loan.status == LoanStatus.APPROVED and not (agreement and agreement.fully_signed):
        raise ValidationError("The borrower has not signed the agreement yet.")
    schedule = build_schedule(
        loan_terms(project=loan.project, amount=loan.amount, duration=loan.duration,
                   disbursed_on=disbursed_on)
    )  # fmt: skip
    loan.disbursed_on = disbursed_on
    _transition(
        loan,
        to=LoanStatus.ACTIVE,
        actor=actor,
        action="disbursed",
        changes={"rail": rail, "reference": reference, "on": disbursed_on.isoformat()},
    )
    Installment.objects.bulk_create(
        Installment(loan=loan, number=row.number, due_on=row.due_on, principal=row.principal,
                    interest=row.interest, fee=row.fee)
        for row in schedule.rows
    )  # fmt: skip
    code = f"{secrets.randbelow(10**6):06d}"
    disbursement = Disbursement.objects.create(
        loan=loan, rail=rail, reference=reference, disbursed_on=disbursed_on,
        recorded_by=actor, code_hash=_code_hash(loan, code),
    )  # fmt: skip
    _publish_payment(
        loan,
        payment_id=disbursement.public_id,
        kind="disbursement",
        amount=loan.amount,
        on=disbursed_on,
    )
    _notify_borrower(
        loan,
        f"Your loan {loan.reference} was disbursed",
        f"{loan.organization.name} sent you {loan.money(loan.amount)} {loan.currency} "
        f"({Rail(rail).label}, reference {reference}) on {disbursed_on}. When you have "
        f"received it, confirm with this code on your loan's page: {code}",
    )
    return loan


def disbursement_confirm(*, borrower: User, loan: Loan, code: str) -> Disbursement:
    """The borrower confirms receipt with the one-time code. Five wrong codes and only staff can
    confirm; each wrong try is counted even though the request is refused."""
    with transaction.atomic():
        loan = _locked(loan)
        _check_borrower(borrower, loan)
        disbursement = Disbursement.objects.select_for_update().filter(loan=loan).first()
        if disbursement is None:
            raise ValidationError("This loan has not been disbursed.")
        if disbursement.confirmed_at is not None:
            return disbursement
        if disbursement.code_attempts >= CODE_ATTEMPTS:
            raise ValidationError({"code": "Too many wrong codes: ask the originator."})
        if hmac.compare_digest(_code_hash(loan, str(code or "").strip()), disbursement.code_hash):
            disbursement.confirmed_at = timezone.now()
            disbursement.save()
            _audit(loan, actor=borrower, action="disbursement_confirmed")
            return disbursement
        disbursement.code_attempts += 1
        disbursement.save()
        left = CODE_ATTEMPTS - disbursement.code_attempts
    raise ValidationError({"code": f"This code is not right ({left} tries left)."})


# --- repayments ------------------------------------------------------------------------------


def _existing_payment(loan: Loan, reference: str, amount: Decimal) -> Repayment | None:
    existing = Repayment.objects.filter(loan=loan, reference=reference).first()
    if existing is not None and existing.amount != amount:
        raise ValidationError(
            {"reference": f"A payment of {loan.money(existing.amount)} {loan.currency} has this "
                          "reference already."}
        )  # fmt: skip
    return existing


def _payment_fields(loan: Loan, *, amount: object, reference: object, rail: object,
                    paid_on: object) -> tuple[Decimal, str, str, date]:  # fmt: skip
    return (
        _money(amount, loan.currency, "amount"),
        _reference(reference),
        _rail(rail),
        _day(paid_on, "paid_on", not_before=loan.disbursed_on),
    )


@transaction.atomic
def repayment_record(*, actor: User, loan: Loan, amount: object, reference: object,
                     rail: object, paid_on: object) -> Repayment:  # fmt: skip
    """Staff record a payment they received; it is applied at once. The same reference again
    is the same payment: it is returned, not applied twice (a reported one is confirmed)."""
    loan = _locked(loan)
    _check_staff(actor, loan)
    amount, reference, rail, paid_on = _payment_fields(
        loan, amount=amount, reference=reference, rail=rail, paid_on=paid_on
    )
    existing = _existing_payment(loan, reference, amount)
    if existing is not None:
        if existing.status == Repayment.Status.REPORTED:
            return _apply(loan, existing, actor)
        return existing
    payment = Repayment(
        loan=loan, reference=reference, rail=rail, amount=amount, paid_on=paid_on,
        recorded_by=actor,
    )  # fmt: skip
    return _apply(loan, payment, actor)


def _check_repayable(loan: Loan) -> None:
    if loan.status != LoanStatus.ACTIVE:
        raise ValidationError(
            f"A loan that is {loan.get_status_display().lower()} takes no repayments."
        )


@transaction.atomic
def repayment_report(*, borrower: User, loan: Loan, amount: object, reference: object,
                     rail: object, paid_on: object) -> Repayment:  # fmt: skip
    """The borrower reports a payment they made; staff confirm it once they see the money."""
    loan = _locked(loan)
    _check_borrower(borrower, loan)
    amount, reference, rail, paid_on = _payment_fields(
        loan, amount=amount, reference=reference, rail=rail, paid_on=paid_on
    )
    existing = _existing_payment(loan, reference, amount)
    if existing is not None:
        return existing
    _check_repayable(loan)
    payment = Repayment.objects.create(
        loan=loan, reference=reference, rail=rail, amount=amount, paid_on=paid_on,
        status=Repayment.Status.REPORTED, reported_by=borrower,
    )  # fmt: skip
    _audit(
        loan,
        actor=borrower,
        action="repayment_reported",
        changes={"amount": loan.money(amount), "reference": reference},
    )
    _notify_staff(loan, f"{loan.reference}: the borrower reported a payment to confirm.")
    return payment


@transaction.atomic
def repayment_confirm(*, actor: User, repayment: Repayment) -> Repayment:
    loan = _locked(repayment.loan)
    _check_staff(actor, loan)
    repayment = Repayment.objects.select_for_update().get(pk=repayment.pk)
    if repayment.status != Repayment.Status.REPORTED:
        return repayment
    return _apply(loan, repayment, actor)


@transaction.atomic
def repayment_reject(*, actor: User, repayment: Repayment, reason: str) -> Repayment:
    loan = _locked(repayment.loan)
    _check_staff(actor, loan)
    repayment = Repayment.objects.select_for_update().get(pk=repayment.pk)
    if repayment.status != Repayment.Status.REPORTED:
        raise ValidationError("Only a reported payment that is not applied can be refused.")
    reason = str(reason or "").strip()
    if not reason:
        raise ValidationError({"reason": "Tell the borrower why."})
    repayment.status, repayment.rejection_reason = Repayment.Status.REJECTED, reason[:300]
    repayment.recorded_by = actor
    repayment.save()
    _audit(
        loan,
        actor=actor,
        action="repayment_refused",
        changes={"reference": repayment.reference, "reason": reason},
    )
    _notify_borrower(
        loan,
        f"Your payment {repayment.reference} was not found",
        f"{loan.organization.name} did not receive the payment you reported "
        f"({loan.money(repayment.amount)} {loan.currency}, {repayment.reference}): {reason}",
    )
    return repayment


def _apply(loan: Loan, payment: Repayment, actor: User) -> Repayment:
    """Allocate PAYMENT over the loan's rows (fees, interest, principal; oldest first), close the
    loan when nothing is owed, and publish. The loan row is locked by the caller."""
    _check_repayable(loan)
    rows = list(Installment.objects.filter(loan=loan).order_by("number"))
    result = allocation.allocate([row.as_due() for row in rows], payment.amount)
    by_number = {row.number: row for row in rows}
    for part in result.rows:
        row = by_number[part.number]
        row.paid_fee += part.fee
        row.paid_interest += part.interest
        row.paid_principal += part.principal
        if part.settles_row:
            row.paid_off_on = payment.paid_on
    # A payment touches one or two rows: plain updates cost less than bulk_update's CASEs.
    for part in result.rows:
        by_number[part.number].save(
            update_fields=["paid_fee", "paid_interest", "paid_principal", "paid_off_on"]
        )
    payment.fee, payment.interest = result.total("fee"), result.total("interest")
    payment.principal, payment.overpaid = result.total("principal"), result.overpaid
    payment.status, payment.applied_at = Repayment.Status.APPLIED, timezone.now()
    payment.recorded_by = payment.recorded_by or actor
    payment.save()
    loan.fees_repaid += payment.fee
    loan.interest_repaid += payment.interest
    loan.principal_repaid += payment.principal
    loan.overpaid += payment.overpaid
    _arrears_set(loan, allocation.days_past_due(result.dues_after, timezone.localdate()))
    _audit(loan, actor=actor, action="repayment_applied",
           changes={"reference": payment.reference, "amount": loan.money(payment.amount),
                    "fee": loan.money(payment.fee), "interest": loan.money(payment.interest),
                    "principal": loan.money(payment.principal),
                    "overpaid": loan.money(payment.overpaid)})  # fmt: skip
    _publish_payment(
        loan,
        payment_id=payment.public_id,
        kind="repayment",
        amount=payment.amount,
        on=payment.paid_on,
        parts=payment,
    )
    repayment_applied.send(sender=Loan, loan=loan, payment=payment)
    if allocation.outstanding(result.dues_after) == 0:
        _close(loan, actor, closed_on=payment.paid_on)
    else:
        _published_changed(loan)
    _notify_borrower(
        loan,
        f"Payment received on {loan.reference}",
        f"{loan.organization.name} applied your payment of {loan.money(payment.amount)} "
        f"{loan.currency} ({payment.reference}).",
    )
    return payment


def _publish_payment(loan: Loan, *, payment_id: uuid.UUID, kind: str, amount: Decimal,
                     on: date, parts: Repayment | None = None) -> None:  # fmt: skip
    """A movement of money on LOAN, in the public payments book."""
    value = {
        "payment": str(payment_id),
        "loan": str(loan.public_id),
        "project": str(loan.project_id),
        "kind": kind,
        "amount": loan.money(amount),
        "currency": loan.currency,
        "on": on.isoformat(),
    }
    if parts is not None:
        value |= {
            "principal": loan.money(parts.principal),
            "interest": loan.money(parts.interest),
            "fees": loan.money(parts.fee),
            "overpaid": loan.money(parts.overpaid),
        }
    book_publish(
        book=Book.PAYMENTS, entry_type="growr/payment", version=1, key=f"payment:{payment_id}",
        value=value,
    )  # fmt: skip


def _close(loan: Loan, actor: User, *, closed_on: date) -> None:
    """Obligations met: closed, or over-paid until the excess is refunded. Either way the
    borrower's credit record gains a repayment history credential from the originator."""
    loan.closed_on = closed_on
    if loan.overpaid > 0:
        _transition(
            loan,
            to=LoanStatus.OVERPAID,
            actor=actor,
            action="overpaid",
            changes={"overpaid": loan.money(loan.overpaid)},
        )
    else:
        _transition(loan, to=LoanStatus.CLOSED, actor=actor, action="closed")
    _issue_repayment_history(loan, actor)


@transaction.atomic
def overpayment_refund(*, actor: User, loan: Loan, rail: object, reference: object) -> Loan:
    """Record that the over-paid amount went back to the borrower; the loan closes."""
    loan = _locked(loan)
    _check_staff(actor, loan)
    rail, reference = _rail(rail), _reference(reference)
    if loan.status != LoanStatus.OVERPAID:
        raise ValidationError("Only an over-paid loan has a refund due.")
    _transition(loan, to=LoanStatus.CLOSED, actor=actor, action="overpayment_refunded",
                changes={"amount": loan.money(loan.overpaid), "rail": rail,
                         "reference": reference})  # fmt: skip
    _notify_borrower(
        loan,
        f"Refund of your over-payment on {loan.reference}",
        f"{loan.organization.name} refunded {loan.money(loan.overpaid)} {loan.currency} "
        f"({Rail(rail).label}, reference {reference}). Your loan is closed.",
    )
    return loan


@transaction.atomic
def loan_write_off(*, actor: User, loan: Loan, reason: str) -> Loan:
    loan = _locked(loan)
    _check_admin(actor, loan)
    reason = str(reason or "").strip()
    if not reason:
        raise ValidationError({"reason": "Say why the loan is written off."})
    owed = Installment.objects.filter(loan=loan).aggregate(
        principal=Sum("principal"), paid=Sum("paid_principal")
    )
    loan.written_off_amount = (owed["principal"] or 0) - (owed["paid"] or 0)
    loan.closed_on = timezone.localdate()
    _transition(
        loan,
        to=LoanStatus.WRITTEN_OFF,
        actor=actor,
        action="written_off",
        changes={"reason": reason, "principal": loan.money(loan.written_off_amount)},
    )
    payment_id = uuid.uuid4()
    _publish_payment(
        loan, payment_id=payment_id, kind="write_off", amount=loan.written_off_amount,
        on=loan.closed_on,
    )  # fmt: skip
    loan_written_off.send(
        sender=Loan, loan=loan, payment_id=payment_id, amount=loan.written_off_amount,
        on=loan.closed_on,
    )  # fmt: skip
    return loan


# --- the repayment history credential --------------------------------------------------------


def amount_band(amount: Decimal, currency: str) -> str:
    """A band of 1-2-5 steps that holds AMOUNT, e.g. "10000-20000 KES": enough for a lender to
    judge experience, without the exact amount."""
    whole = max(int(amount), 1)
    scale = 1
    while scale * 10 <= whole:
        scale *= 10
    low = max(step * scale for step in (1, 2, 5) if step * scale <= whole)
    high = {1: 2, 2: 5, 5: 10}[low // scale] * scale
    return f"{low}-{high} {currency}"


def _issue_repayment_history(loan: Loan, actor: User) -> None:
    mine = Loan.objects.filter(borrower=loan.borrower, organization=loan.organization)
    repaid = mine.filter(status__in=[LoanStatus.CLOSED, LoanStatus.OVERPAID])
    rows = list(
        Installment.objects.filter(loan=loan, number__gt=0).values_list("due_on", "paid_off_on")
    )
    on_time, count = allocation.on_time_ratio(rows)
    repaid_on_time = sum(
        1 for other in repaid.prefetch_related("installments")
        if all(i.paid_off_on and i.paid_off_on <= i.due_on
               for i in other.installments.all() if i.number > 0)
    )  # fmt: skip
    total = repaid.filter(currency=loan.currency).aggregate(
        total=Sum("principal_repaid") + Sum("interest_repaid") + Sum("fees_repaid")
    )["total"] or Decimal(0)
    credential_issue(
        issuer=actor,
        holder=loan.borrower,
        credential_type="repayment_history",
        claims={
            "loansRepaid": repaid.count(),
            "loansRepaidOnTime": repaid_on_time,
            "loansWrittenOff": mine.filter(status=LoanStatus.WRITTEN_OFF).count(),
            "totalRepaid": {"amount": loan.money(total), "currency": loan.currency},
            "lastLoanClosedOn": loan.closed_on.isoformat(),
            "lastLoanAmountBand": amount_band(loan.amount, loan.currency),
            "lastLoanInstallments": count,
            "lastLoanOnTimeRatio": str((Decimal(on_time) / count).quantize(Decimal("0.01")))
            if count
            else "0",
        },
    )
    _audit(
        loan, actor=actor, action="credential_issued", changes={"credential": "repayment_history"}
    )


# --- arrears and reminders -------------------------------------------------------------------


def _arrears_set(loan: Loan, days: int) -> bool:
    bucket = allocation.bucket(days)
    changed = bucket != loan.arrears_bucket
    if changed:
        _audit(
            loan,
            actor=None,
            action="arrears",
            changes={"from": loan.arrears_bucket, "to": bucket, "days_past_due": days},
        )
    loan.days_past_due, loan.arrears_bucket = days, bucket
    return changed


def loans_arrears_update(*, today: date | None = None) -> int:
    """Days past due and delinquency bucket of every active loan (beat, daily). A loan whose
    bucket changes gets an audit entry and a new version in the loan book. Returns how many
    changed bucket."""
    today = today or timezone.localdate()
    changed = 0
    for pk in Loan.objects.filter(status=LoanStatus.ACTIVE).values_list("pk", flat=True):
        with transaction.atomic():
            loan = _locked(Loan(pk=pk))
            if loan.status != LoanStatus.ACTIVE:
                continue
            dues = [row.as_due() for row in Installment.objects.filter(loan=loan)]
            days = allocation.days_past_due(dues, today)
            if _arrears_set(loan, days):
                _published_changed(loan)
                changed += 1
            else:
                Loan.objects.filter(pk=pk).update(days_past_due=days)
    return changed


def _remind(row: Installment, kinds: list[str], subject: str, text: str) -> bool:
    """Send one reminder about ROW unless every one of KINDS was sent already."""
    new = [
        kind for kind in kinds
        if not Reminder.objects.filter(installment=row, kind=kind).exists()
    ]  # fmt: skip
    if not new:
        return False
    Reminder.objects.bulk_create(
        [Reminder(installment=row, kind=kind) for kind in new], ignore_conflicts=True
    )
    notify(user=row.loan.borrower, subject=subject, text=text)
    return True


def reminders_send(*, today: date | None = None) -> int:
    """Remind borrowers of installments due within GROWR_REMINDER_DAYS_BEFORE days, and of unpaid
    ones GROWR_REMINDER_DAYS_AFTER days after their due date (beat, daily). Each reminder is
    sent once; a loan found late for the first time gets one reminder, not one per step."""
    from django.conf import settings

    today = today or timezone.localdate()
    before = timedelta(days=settings.GROWR_REMINDER_DAYS_BEFORE)
    steps = sorted(settings.GROWR_REMINDER_DAYS_AFTER)
    unpaid = Installment.objects.filter(
        loan__status=LoanStatus.ACTIVE, paid_off_on__isnull=True, due_on__lte=today + before
    ).select_related("loan__borrower", "loan__organization")
    sent = 0
    for row in unpaid:
        loan, owed = row.loan, f"{row.loan.money(row.outstanding)} {row.loan.currency}"
        with transaction.atomic():
            if row.due_on >= today:
                sent += _remind(
                    row, ["before"],
                    f"{loan.reference}: {owed} due on {row.due_on}",
                    f"Installment {row.number} of your loan from {loan.organization.name} is due "
                    f"on {row.due_on}: {owed}.",
                )  # fmt: skip
                continue
            late = (today - row.due_on).days
            passed = [f"after_{step}" for step in steps if step <= late]
            if passed:
                sent += _remind(
                    row, passed,
                    f"{loan.reference}: {owed} is {late} days late",
                    f"Installment {row.number} of your loan from {loan.organization.name} was due "
                    f"on {row.due_on} and {owed} is still unpaid. Please pay, or write to "
                    "your loan officer on the loan's page.",
                )  # fmt: skip
    return sent
