"""Writes for funding: commitments, their confirmation, cancellation and refund, and the
distribution of every repayment and loss among a project's funders.

A commitment is made with the project row locked (`_locked_project`), so commitments racing for
the last part of a target are served one after the other and never oversubscribe it. Every
change of a commitment goes through `_move`, which checks it, and is published to the public
funding book under the investor's pseudonym for that project, through the outbox.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
import uuid
from datetime import date
from decimal import Decimal, InvalidOperation
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.utils import timezone

from apps.identity.credential_selectors import node_domain
from apps.identity.models import STAFF_ROLES, Custody, Role, User
from apps.identity.wallet_services import custodial_key, wallet_of_user
from apps.ledger.models import Book
from apps.ledger.replication import HttpSource, ReplicationError
from apps.ledger.services import book_publish
from apps.projects.models import CloseReason, Project, ProjectStatus, money_text
from apps.projects.schedule import minor_units
from apps.projects.services import project_close_funded

from . import distribution, remote
from .models import (
    COUNTED,
    Commitment,
    CommitmentStatus,
    Distribution,
    FirstLossUse,
    RemoteCommitment,
)
from .selectors import network_project

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
    try:
        digits = minor_units(currency)
    except ValueError as exc:  # a currency from another node's book
        raise ValidationError({"currency": f"{currency!r} is not a currency to lend in."}) from exc
    if amount != amount.quantize(Decimal(1).scaleb(-digits)):
        raise ValidationError({"amount": f"{currency} amounts have at most {digits} decimals."})
    return amount


def _money(amount: Decimal, currency: str) -> str:
    return f"{money_text(amount, currency)} {currency}"


def _check_open(project: Project) -> None:
    today = timezone.localdate()
    if project.status != ProjectStatus.PUBLISHED or not (
        project.starts_on <= today <= project.ends_on
    ):
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
    return _move(commitment, CommitmentStatus.CANCELLED)


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
    return changed


@transaction.atomic
def commitment_refund(*, actor: User, commitment: Commitment, reference: object) -> Commitment:
    """Staff record that a refund due went back to the investor, today (the day its statement
    and returns count the money back). The same reference again changes nothing."""
    commitment = _locked_commitment(commitment)
    _check_staff(actor, commitment)
    reference = _reference(reference)
    if commitment.status == CommitmentStatus.REFUNDED:
        if commitment.refund_reference == reference:
            return commitment
        raise ValidationError({"reference": "This refund was recorded with another reference."})
    commitment.refund_reference, commitment.closed_at = reference, timezone.now()
    return _move(commitment, CommitmentStatus.REFUNDED)


# --- distributions ---------------------------------------------------------------------------


def _funders(project_id) -> dict[Commitment, Decimal]:
    confirmed = Commitment.objects.filter(
        project_id=project_id, status=CommitmentStatus.CONFIRMED
    ).order_by("created_at", "pk")
    return {commitment: commitment.amount for commitment in confirmed}


def _distributions_save(parts) -> list[Distribution]:
    """Store PARTS and publish each in the funding book under its commitment, so the investor's
    own node finds its share (key distribution:<commitment>:<payment>)."""
    saved = Distribution.objects.bulk_create(list(parts))
    for part in saved:
        commitment = part.commitment
        currency = commitment.currency
        book_publish(
            book=Book.FUNDING,
            entry_type="growr/distribution",
            version=1,
            key=f"distribution:{commitment.public_id}:{part.payment_public_id}",
            value={
                "commitment": str(commitment.public_id),
                "project": str(commitment.project_id),
                "payment": str(part.payment_public_id),
                "loan": str(part.loan_public_id),
                "kind": part.kind,
                "on": part.on.isoformat(),
                "currency": currency,
                "principal": money_text(Decimal(part.principal), currency),
                "interest": money_text(Decimal(part.interest), currency),
                "loss": money_text(Decimal(part.loss), currency),
            },
        )
    return saved


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
    return _distributions_save(
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
    return _distributions_save(
        Distribution(
            commitment=commitment, kind=Distribution.Kind.LOSS, loan_public_id=loan_public_id,
            payment_public_id=payment_public_id, on=on, loss=split.funders[commitment],
        )
        for commitment in funders
    )  # fmt: skip


# --- commitments from investors' own nodes ---------------------------------------------------


@transaction.atomic
def commitment_from_node(*, token: object) -> tuple[Commitment, bool]:
    """A commitment an investor's own node sent, signed with the investor's DID (remote.py):
    checked, then handled as a local one, under the DID. The same token or request id again is
    the same commitment. Returns it and whether it is new."""
    try:
        signed = remote.read_commitment(token, audience=node_domain(), now=int(time.time()))
    except remote.InvalidCommitment as exc:
        raise ValidationError({"token": f"The commitment is refused: {exc}."}) from exc
    project = Project.objects.filter(pk=signed.project).defer("image").first()
    if project is None:
        raise ValidationError({"project": "This node has no such project."})
    if signed.currency != project.currency:
        raise ValidationError({"currency": f"This project lends in {project.currency}."})
    known = Commitment.objects.filter(
        project=project, investor_did=signed.investor_did, request_id=signed.request_id
    ).exists()
    commitment = _commit(
        project=project,
        investor=None,
        did=signed.investor_did,
        amount=signed.amount,
        request_id=signed.request_id,
    )
    return commitment, not known


# --- commitments sent from this node (investor nodes) ----------------------------------------


def _origin_refusal(answer: dict) -> ValidationError:
    error = answer.get("error") if isinstance(answer.get("error"), dict) else {}
    fields = error.get("fields") if isinstance(error.get("fields"), dict) else {}
    messages = [str(m) for values in fields.values() if isinstance(values, list) for m in values]
    text = "; ".join(messages[:3]) or str(error.get("message", "refused"))[:300]
    return ValidationError({"amount": f"The originator's node refused it: {text}"})


def remote_commitment_send(
    *, investor: User, book_key: str, project_id, amount: object, request_id: str
) -> RemoteCommitment:
    """Commit to a project of another node from here: signed with the investor's key for that
    node's domain and sent to its API. Nothing is stored unless it accepts; a resend of the same
    REQUEST_ID is the same commitment there and here. No transaction is held while the other
    node answers."""
    if not (investor.is_active and investor.role == Role.INVESTOR):
        raise PermissionDenied("Only an investor commits to projects.")
    if not REQUEST_ID.fullmatch(str(request_id or "")):
        raise ValidationError({"request_id": "A request id of 8 to 64 letters, digits, - or _."})
    sent = RemoteCommitment.objects.filter(investor=investor, request_id=request_id).first()
    if sent is not None:
        return sent
    project = network_project(book_key=book_key, project_id=project_id)
    if project is None or not project.origin_url:
        raise ValidationError({"project": "This node holds no such project, or not its origin."})
    terms = project.project.value.get("terms") or {}
    currency = str(terms.get("currency", ""))
    if not currency:
        raise ValidationError({"project": "The project's entry names no currency."})
    amount = _amount(amount, currency)
    wallet = wallet_of_user(user=investor)
    if wallet.custody != Custody.CUSTODIAL:
        raise ValidationError({"amount": "Your key is in your own wallet: sign with it there."})
    origin = urlsplit(project.origin_url)
    token = remote.sign_commitment(
        key=custodial_key(wallet=wallet),
        project=uuid.UUID(str(project_id)),
        amount=amount,
        currency=currency,
        request_id=request_id,
        audience=origin.netloc,
        now=int(time.time()),
    )
    client = HttpSource(project.origin_url, allow_private=settings.GROWR_FOLLOW_PRIVATE_SOURCES)
    try:
        status, answer = client.post_json("/api/remote-commitments/", {"token": token})
    except ReplicationError as exc:
        raise ValidationError({"amount": f"The originator's node did not answer: {exc}"}) from exc
    finally:
        client.close()
    if status not in (200, 201):
        raise _origin_refusal(answer)
    try:
        commitment_id = uuid.UUID(str(answer.get("commitment")))
    except ValueError as exc:
        raise ValidationError({"amount": "The originator's node answered nonsense."}) from exc
    remote_commitment, _ = RemoteCommitment.objects.get_or_create(
        commitment_id=commitment_id,
        defaults={
            "investor": investor, "origin_url": project.origin_url,
            "project_id": project_id, "project_name": str(terms.get("name", ""))[:200],
            "request_id": request_id, "currency": currency, "amount": amount,
            "answered_status": str(answer.get("status", ""))[:16],
        },
    )  # fmt: skip
    return remote_commitment
