"""Writes for funding: commitments, their confirmation, cancellation and refund, and the
distribution of every repayment and loss among a project's funders.

A commitment is made with the project row locked (`_locked_project`), so commitments racing for
the last part of a target are served one after the other and never oversubscribe it. Every
change of a commitment goes through `_move`, which checks it, and is published to the public
funding book under the investor's pseudonym for that project, through the outbox; once the
transaction commits, the project's open pages hear its new funding figures (`_progress_changed`).
"""

from __future__ import annotations

import hashlib
import hmac
import re
from datetime import date
from decimal import Decimal, InvalidOperation
from functools import partial

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.utils import timezone

from apps.identity.models import STAFF_ROLES, Role, User
from apps.identity.wallet_services import wallet_of_user
from apps.ledger.models import Book
from apps.ledger.services import book_publish
from apps.projects.models import CloseReason, Project, ProjectStatus, money_text
from apps.projects.schedule import minor_units
from apps.projects.services import project_close_funded

from . import distribution, progress, selectors
from .models import COUNTED, Commitment, CommitmentStatus, Distribution, FirstLossUse

ALLOWED = {
    CommitmentStatus.PENDING: {
        CommitmentStatus.CONFIRMED,
        CommitmentStatus.CANCELLED,
    },
    CommitmentStatus.CONFIRMED: {CommitmentStatus.REFUND_DUE},
    CommitmentStatus.REFUND_DUE: {CommitmentStatus.REFUNDED},
    CommitmentStatus.CANCELLED: set(),
    CommitmentStatus.REFUNDED: set(),
}
# The funding book's word for each state a commitment enters.
EVENTS = {
    CommitmentStatus.PENDING: "committed",
    CommitmentStatus.CONFIRMED: "confirmed",
    CommitmentStatus.CANCELLED: "cancelled",
    CommitmentStatus.REFUNDED: "refunded",
}
REQUEST_ID = re.compile(r"^[A-Za-z0-9_-]{8,64}$")


def investor_pseudonym(*, project_id, investor_did: str) -> str:
    """The investor's name in the public funding book: a keyed hash, another one for every
    project, so the book cannot link an investor's commitments across projects."""
    message = f"growr-funding:{project_id}:{investor_did}".encode()
    return hmac.new(settings.SECRET_KEY.encode(), message, hashlib.sha256).hexdigest()


def _locked_project(project: Project) -> Project:
    return Project.objects.select_for_update().defer("image").get(pk=project.pk)


def _committed(project: Project) -> Decimal:
    total = project.commitments.filter(status__in=COUNTED).aggregate(total=Sum("amount"))
    return total["total"] or Decimal(0)


def _publish(commitment: Commitment) -> None:
    event = EVENTS.get(commitment.status)
    if event is None:  # refund due is private until the money is back
        return
    book_publish(
        book=Book.FUNDING,
        entry_type="growr/funding-event",
        version=1,
        key=f"commitment:{commitment.public_id}",
        value={
            "commitment": str(commitment.public_id),
            "project": str(commitment.project_id),
            "investor": commitment.pseudonym,
            "event": event,
            "amount": money_text(commitment.amount, commitment.currency),
            "currency": commitment.currency,
            "at": timezone.now().isoformat().replace("+00:00", "Z"),
        },
    )


def _progress_changed(project: Project) -> None:
    """After commit, send PROJECT's new funding figures to its open pages; a failure to send
    never undoes the change (robust)."""
    transaction.on_commit(partial(progress.progress_send, project_id=project.pk), robust=True)


def _move(commitment: Commitment, to: str) -> Commitment:
    """The one way a commitment changes state; call in a transaction with its project locked."""
    if to not in ALLOWED[commitment.status]:
        raise ValidationError(
            f"A commitment that is {commitment.get_status_display().lower()} cannot become "
            f"{CommitmentStatus(to).label.lower()}."
        )
    commitment.status = to
    commitment.save()
    _publish(commitment)
    return commitment


def _amount(value: object, currency: str) -> Decimal:
    try:
        amount = Decimal(str(value).strip())
    except (InvalidOperation, ValueError) as exc:
        raise ValidationError({"amount": "Enter an amount."}) from exc
    if not amount.is_finite() or amount <= 0:
        raise ValidationError({"amount": "Enter an amount above zero."})
    if amount >= Decimal(10) ** 15:
        raise ValidationError({"amount": "This amount is too large."})
    digits = minor_units(currency)
    if amount != amount.quantize(Decimal(1).scaleb(-digits)):
        raise ValidationError({"amount": f"{currency} amounts have at most {digits} decimals."})
    return amount


def _money(amount: Decimal, currency: str) -> str:
    return f"{money_text(amount, currency)} {currency}"


def _check_open(project: Project) -> None:
    if not selectors.commitments_open(project):
        raise ValidationError({"project": "This project is not taking commitments."})


@transaction.atomic
def commitment_create(
    *, investor: User, project: Project, amount: object, request_id: str
) -> Commitment:
    """Commit AMOUNT to PROJECT for a local investor: at least the minimum ticket, never beyond
    what is left of the target. REQUEST_ID, chosen by the investor's page, makes a retry the
    same commitment."""
    if not (investor.is_active and investor.role == Role.INVESTOR):
        raise PermissionDenied("Only an investor commits to projects.")
    if not REQUEST_ID.fullmatch(str(request_id or "")):
        raise ValidationError({"request_id": "A request id of 8 to 64 letters, digits, - or _."})
    did = wallet_of_user(user=investor).did
    return _commit(
        project=project, investor=investor, did=did, amount=amount, request_id=request_id
    )


def _commit(
    *, project: Project, investor: User | None, did: str, amount: object, request_id: str
) -> Commitment:
    project = _locked_project(project)
    again = Commitment.objects.filter(project=project, investor_did=did, request_id=request_id)
    if (existing := again.first()) is not None:
        if existing.amount != _amount(amount, project.currency):
            raise ValidationError({"request_id": "This request committed another amount."})
        return existing
    _check_open(project)
    if project.invite_only:
        raise ValidationError({"project": "This project takes commitments by invitation only."})
    amount = _amount(amount, project.currency)
    left = project.target_amount - _committed(project)
    if amount < project.min_ticket:
        minimum = _money(project.min_ticket, project.currency)
        raise ValidationError({"amount": f"The minimum ticket is {minimum}."})
    if project.max_ticket:
        own = project.commitments.filter(investor_did=did, status__in=COUNTED).aggregate(
            total=Sum("amount")
        )["total"] or Decimal(0)
        if own + amount > project.max_ticket:
            cap = _money(project.max_ticket, project.currency)
            raise ValidationError({"amount": f"One investor puts in at most {cap} here."})
    if amount > left:
        rest = _money(max(left, Decimal(0)), project.currency)
        raise ValidationError({"amount": f"Only {rest} of the target is left."})
    try:
        with transaction.atomic():
            commitment = Commitment.objects.create(
                project=project, investor=investor, investor_did=did,
                pseudonym=investor_pseudonym(project_id=project.pk, investor_did=did),
                request_id=request_id, currency=project.currency, amount=amount,
                status=CommitmentStatus.PENDING,
            )  # fmt: skip
    except IntegrityError as exc:
        raise ValidationError({"request_id": "This request was made already."}) from exc
    _publish(commitment)
    _progress_changed(project)
    return commitment


def _locked_commitment(commitment: Commitment) -> Commitment:
    _locked_project(commitment.project)
    return Commitment.objects.select_for_update().get(pk=commitment.pk)


@transaction.atomic
def commitment_cancel(*, investor: User, commitment: Commitment) -> Commitment:
    """An investor withdraws a commitment whose funds the originator has not received yet."""
    commitment = _locked_commitment(commitment)
    if commitment.investor_id != investor.pk:
        raise PermissionDenied("This commitment is another investor's.")
    commitment.closed_at = timezone.now()
    _move(commitment, CommitmentStatus.CANCELLED)
    _progress_changed(commitment.project)
    return commitment


def _check_staff(actor: User, commitment: Commitment) -> None:
    if not (actor.is_active and actor.role in STAFF_ROLES):
        raise PermissionDenied("Only originator staff confirm funds.")
    if commitment.project.organization_id != actor.organization_id:
        raise PermissionDenied("This commitment is to another organization's project.")


def _reference(value: object) -> str:
    text = str(value or "").strip()
    if not text or len(text) > 120:
        raise ValidationError({"reference": "Give the payment reference (at most 120 characters)."})
    return text


@transaction.atomic
def commitment_confirm(*, actor: User, commitment: Commitment, reference: object) -> Commitment:
    """Staff confirm they received the committed funds. When confirmed funds reach the target,
    the project is funded and closes. The same reference again changes nothing."""
    commitment = _locked_commitment(commitment)
    _check_staff(actor, commitment)
    reference = _reference(reference)
    if commitment.status == CommitmentStatus.CONFIRMED:
        if commitment.payment_reference == reference:
            return commitment
        raise ValidationError({"reference": "These funds were confirmed with another reference."})
    commitment.confirmed_at, commitment.confirmed_by = timezone.now(), actor
    commitment.payment_reference = reference
    _move(commitment, CommitmentStatus.CONFIRMED)
    project = commitment.project
    _progress_changed(project)
    confirmed = project.commitments.filter(status=CommitmentStatus.CONFIRMED).aggregate(
        total=Sum("amount")
    )["total"]
    if confirmed >= project.target_amount and project.status != ProjectStatus.CLOSED:
        project_close_funded(project=project)
    return commitment


def commitments_close_unfunded(*, project: Project, reason: str) -> int:
    """A project closed before its target was funded: commitments still pending are cancelled,
    confirmed ones are due back to their investors. Called in the closing transaction."""
    if reason == CloseReason.TARGET:
        return 0
    changed = 0
    now = timezone.now()
    for commitment in project.commitments.select_for_update().filter(status__in=COUNTED):
        commitment.closed_at = now
        to = (
            CommitmentStatus.REFUND_DUE
            if commitment.status == CommitmentStatus.CONFIRMED
            else CommitmentStatus.CANCELLED
        )
        _move(commitment, to)
        changed += 1
    _progress_changed(project)  # its figures, and that it takes no more commitments
    return changed


@transaction.atomic
def commitment_refund(*, actor: User, commitment: Commitment, reference: object) -> Commitment:
    """Staff record that a refund due went back to the investor."""
    commitment = _locked_commitment(commitment)
    _check_staff(actor, commitment)
    commitment.refund_reference = _reference(reference)
    _move(commitment, CommitmentStatus.REFUNDED)
    _progress_changed(commitment.project)
    return commitment


# --- distributions ---------------------------------------------------------------------------


def _funders(project_id) -> dict[Commitment, Decimal]:
    confirmed = Commitment.objects.filter(
        project_id=project_id, status=CommitmentStatus.CONFIRMED
    ).order_by("created_at", "pk")
    return {commitment: commitment.amount for commitment in confirmed}


def repayment_distribute(
    *,
    project_id,
    currency: str,
    loan_public_id,
    payment_public_id,
    principal: Decimal,
    interest: Decimal,
    on: date,
) -> list[Distribution]:
    """Split a repayment's principal and interest among the project's funders pro rata to their
    confirmed commitments (fees stay with the originator). Nothing when no one funded it."""
    funders = _funders(project_id)
    if not funders or not (principal or interest):
        return []
    places = minor_units(currency)
    principals = distribution.split_pro_rata(principal, funders, places)
    interests = distribution.split_pro_rata(interest, funders, places)
    return Distribution.objects.bulk_create(
        Distribution(
            commitment=commitment, kind=Distribution.Kind.REPAYMENT,
            loan_public_id=loan_public_id, payment_public_id=payment_public_id, on=on,
            principal=principals[commitment], interest=interests[commitment],
        )
        for commitment in funders
    )  # fmt: skip


def loss_distribute(
    *, project: Project, loan_public_id, payment_public_id, amount: Decimal, on: date
) -> list[Distribution]:
    """A written-off loan's principal: the originator's first-loss cover (its percentage of the
    confirmed funding, less what earlier losses took) takes it first, the funders the rest."""
    funders = _funders(project.pk)
    if not funders or not amount:
        return []
    places = minor_units(project.currency)
    funded = sum(funders.values(), Decimal(0))
    cover = (funded * project.first_loss_percent / 100).quantize(Decimal(1).scaleb(-places))
    used = project.cover_uses.aggregate(total=Sum("amount"))["total"] or Decimal(0)
    split = distribution.split_loss(amount, funders, max(cover - used, Decimal(0)), places)
    if split.covered:
        FirstLossUse.objects.create(
            project=project, payment_public_id=payment_public_id, amount=split.covered, on=on
        )
    return Distribution.objects.bulk_create(
        Distribution(
            commitment=commitment, kind=Distribution.Kind.LOSS, loan_public_id=loan_public_id,
            payment_public_id=payment_public_id, on=on, loss=split.funders[commitment],
        )
        for commitment in funders
    )  # fmt: skip
