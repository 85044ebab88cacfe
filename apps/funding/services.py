"""Writes for funding: commitments, their confirmation, cancellation and refund, the
distribution of every repayment and loss among a project's funders, and invitations to
invite-only projects with their investment agreements.

A commitment is made with the project row locked (`_locked_project`), so commitments racing for
the last part of a target are served one after the other and never oversubscribe it. Every
change of a commitment goes through `_move`, which checks it, and is published to the public
funding book under the investor's pseudonym for that project, through the outbox. Every step of
an invitation goes through `_invitation_move`, which checks it against INVITATION_MOVES (what may
follow what, and whose step it is) and audits it. Once a transaction commits, the project's open
pages hear its new funding figures (`_progress_changed`).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
import uuid
from collections.abc import Sequence
from datetime import date
from decimal import Decimal, InvalidOperation
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.urls import reverse
from django.utils import timezone

from apps.applications import agreement as agreements
from apps.applications.services import agreement_signed_by_organization
from apps.identity.credential_selectors import credit_record, node_domain
from apps.identity.models import STAFF_ROLES, CredentialRecord, Custody, Role, User, WalletEvent
from apps.identity.notifications import notify_user
from apps.identity.notifiers import notify
from apps.identity.wallet_services import custodial_key, wallet_of_user
from apps.ledger.models import Book
from apps.ledger.replication import HttpSource, ReplicationError
from apps.ledger.selectors import followed_entries, log_key
from apps.ledger.services import book_publish
from apps.projects.models import CloseReason, Project, ProjectStatus, money_text
from apps.projects.schedule import minor_units
from apps.projects.services import project_close_funded

from . import distribution, progress, remote, selectors
from .models import (
    COUNTED,
    INVITABLE,
    OPEN_INVITATION,
    Commitment,
    CommitmentStatus,
    Distribution,
    FirstLossUse,
    InvestmentAgreement,
    Invitation,
    InvitationEvent,
    InvitationStatus,
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


def _progress_changed(project: Project) -> None:
    """After commit, send PROJECT's new funding figures to its open pages; a failure to send
    never undoes the change (robust; a lambda, since Django names a failed callback by its
    __qualname__, which a partial lacks)."""
    transaction.on_commit(lambda: progress.progress_send(project_id=project.pk), robust=True)


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
    if project.invite_only and not _invited(project, investor, did):
        raise ValidationError({"project": INVITATION_NEEDED})
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
    if commitment.investor_id is not None:  # one from another node hears of it from its book
        notify_user(
            user_id=commitment.investor_id,
            kind="commitment",
            text=confirmed_text(
                project_name=project.name, amount=commitment.amount, currency=commitment.currency
            ),
            link=reverse("invest:commitment", args=[commitment.pk]),
        )
    confirmed = project.commitments.filter(status=CommitmentStatus.CONFIRMED).aggregate(
        total=Sum("amount")
    )["total"]
    if confirmed >= project.target_amount and project.status != ProjectStatus.CLOSED:
        project_close_funded(project=project)
    return commitment


def confirmed_text(*, project_name: str, amount: Decimal, currency: str) -> str:
    return (
        f"Your commitment of {_money(amount, currency)} to {project_name} is confirmed: "
        "the originator received the funds."
    )


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
    _move(commitment, CommitmentStatus.REFUNDED)
    _progress_changed(commitment.project)
    return commitment


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
    parts = _distributions_save(
        Distribution(
            commitment=commitment, kind=Distribution.Kind.REPAYMENT,
            loan_public_id=loan_public_id, payment_public_id=payment_public_id, on=on,
            principal=principals[commitment], interest=interests[commitment],
        )
        for commitment in funders
    )  # fmt: skip
    _notify_shares(project_id, parts)
    return parts


def repayment_text(
    *, project_name: str, principal: Decimal, interest: Decimal, currency: str
) -> str:
    return (
        f"Repayment received on {project_name}: principal {money_text(principal, currency)}, "
        f"interest {money_text(interest, currency)} {currency}"
    )


def loss_text(*, project_name: str, loss: Decimal, currency: str) -> str:
    return (
        f"A loan under {project_name} was written off: your share of the loss is "
        f"{money_text(loss, currency)} {currency}"
    )


def _share_news(
    *,
    kind: str,
    project_name: str,
    principal: Decimal,
    interest: Decimal,
    loss: Decimal,
    currency: str,
) -> tuple[str, str] | None:
    """The kind and text of an investor's notification of their share of a repayment or a
    loss, or None when the share is nothing (a loss the first-loss cover took whole)."""
    if kind == Distribution.Kind.REPAYMENT and (principal or interest):
        return "repayment", repayment_text(
            project_name=project_name, principal=principal, interest=interest, currency=currency
        )
    if kind == Distribution.Kind.LOSS and loss:
        return "loss", loss_text(project_name=project_name, loss=loss, currency=currency)
    return None


def _notify_shares(project_id, parts: list[Distribution]) -> None:
    """Each local investor hears of their share of a repayment or a loss; an investor of
    another node hears of it from the funding book their node follows
    (remote_funding_indexed)."""
    local = [part for part in parts if part.commitment.investor_id is not None]
    if not local:
        return
    project_name = Project.objects.values_list("name", flat=True).get(pk=project_id)
    for part in local:
        commitment = part.commitment
        news = _share_news(
            kind=part.kind, project_name=project_name, principal=Decimal(part.principal),
            interest=Decimal(part.interest), loss=Decimal(part.loss),
            currency=commitment.currency,
        )  # fmt: skip
        if news is not None:
            notify_user(
                user_id=commitment.investor_id, kind=news[0], text=news[1],
                link=reverse("invest:commitment", args=[commitment.pk]),
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
    parts = _distributions_save(
        Distribution(
            commitment=commitment, kind=Distribution.Kind.LOSS, loan_public_id=loan_public_id,
            payment_public_id=payment_public_id, on=on, loss=split.funders[commitment],
        )
        for commitment in funders
    )  # fmt: skip
    _notify_shares(project.pk, parts)
    return parts


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
        # An originator's node of an older version leaves the book out: its answer is then all
        # the commitment shows.
        funding_book = bytes.fromhex(str(answer.get("funding_book", "")))
    except ValueError as exc:
        raise ValidationError({"amount": "The originator's node answered nonsense."}) from exc
    if len(funding_book) not in (0, 32):
        raise ValidationError({"amount": "The originator's node answered nonsense."})
    remote_commitment, _ = RemoteCommitment.objects.get_or_create(
        commitment_id=commitment_id,
        defaults={
            "investor": investor, "origin_url": project.origin_url,
            "project_id": project_id, "project_name": str(terms.get("name", ""))[:200],
            "request_id": request_id, "currency": currency, "amount": amount,
            "answered_status": str(answer.get("status", ""))[:16],
            "funding_book_key": funding_book,
        },
    )  # fmt: skip
    return remote_commitment


FUNDING_EVENT, DISTRIBUTION = "growr/funding-event", "growr/distribution"


def remote_funding_indexed(*, log_id: int, rows: Sequence[tuple[int, str, str, bool]]) -> int:
    """On an investor's node, after blocks of a followed book were indexed (in the worker that
    pulls it): this node's investors hear what the originator's funding book says of their
    remote commitments, that the funds were confirmed and their share of every repayment. Once
    each, however often a book is indexed again. Returns how many notifications were made."""
    wanted = {}
    for index, key, entry_type, deleted in rows:
        parts = key.split(":")
        if deleted or (entry_type, parts[0], len(parts)) not in {
            (FUNDING_EVENT, "commitment", 2),
            (DISTRIBUTION, "distribution", 3),
        }:
            continue
        try:
            wanted[index] = (entry_type, uuid.UUID(parts[1]), key)
        except ValueError:
            continue
    book = log_key(log_id=log_id) if wanted else None
    if book is None:
        return 0
    # Any node may write a commitment's id into a book of its own: only the book its originator
    # named when it accepted the commitment speaks for it.
    commitments = {
        c.commitment_id: c
        for c in RemoteCommitment.objects.filter(
            commitment_id__in={cid for _, cid, _ in wanted.values()}, funding_book_key=book
        )
    }
    mine = [index for index, (_, cid, _) in wanted.items() if cid in commitments]
    if not mine:
        return 0
    entries = followed_entries(log_id=log_id, book=Book.FUNDING, indexes=mine)
    made = 0
    for index in sorted(entries):
        entry_type, cid, key = wanted[index]
        value = entries[index].get("value")
        if not isinstance(value, dict):
            continue
        notify = _remote_news(commitments[cid], entry_type, key, value)
        if notify is not None and notify_user(**notify) is not None:
            made += 1
    return made


def _remote_news(
    commitment: RemoteCommitment, entry_type: str, key: str, value: dict
) -> dict | None:
    """The notification the funding book's entry KEY makes for COMMITMENT, or None."""
    base = {"user_id": commitment.investor_id, "link": reverse("invest:network-commitments")}
    if entry_type == FUNDING_EVENT and value.get("event") == "confirmed":
        return base | {
            "kind": "commitment",
            "text": confirmed_text(
                project_name=commitment.project_name,
                amount=commitment.amount,
                currency=commitment.currency,
            ),
            "dedupe_key": f"confirmed:{commitment.commitment_id}",
        }
    if entry_type != DISTRIBUTION:
        return None
    principal, interest, loss = (
        _book_amount(value.get(name, "0")) for name in ("principal", "interest", "loss")
    )
    if principal is None or interest is None or loss is None:
        return None
    news = _share_news(
        kind=value.get("kind"), project_name=commitment.project_name, principal=principal,
        interest=interest, loss=loss, currency=commitment.currency,
    )  # fmt: skip
    if news is None:
        return None
    return base | {"kind": news[0], "text": news[1], "dedupe_key": key}


def _book_amount(text: object) -> Decimal | None:
    """An amount as another node's book writes it, or None: never an error that would stop
    the indexing of a book over one odd entry."""
    if not isinstance(text, str) or not remote.AMOUNT.fullmatch(text):
        return None
    return Decimal(text)


# --- invitations to invite-only projects ------------------------------------------------------

INVITATION_NEEDED = (
    "This project takes commitments by invitation only: request an invitation, and sign the "
    "investment agreement once you are invited."
)
_S = InvitationStatus
# Every step an invitation may take ("" before it exists), and whose step it is.
INVITATION_MOVES = {
    ("", _S.REQUESTED): "investor",
    ("", _S.INVITED): "staff",
    (_S.REQUESTED, _S.INVITED): "staff",
    (_S.INVITED, _S.CONFIRMED): "investor",
    (_S.REQUESTED, _S.WITHDRAWN): "investor",
    (_S.INVITED, _S.WITHDRAWN): "investor",
    (_S.REQUESTED, _S.DECLINED): "staff",
    (_S.INVITED, _S.DECLINED): "staff",
}
NOTE_LENGTH = 1000
REASON_LENGTH = 300


def _invited(project: Project, investor: User | None, did: str) -> bool:
    """Whether the investor (a local account, or a DID from another node) holds a confirmed
    invitation to PROJECT."""
    confirmed = Invitation.objects.filter(project=project, status=InvitationStatus.CONFIRMED)
    if investor is not None:
        return confirmed.filter(investor=investor).exists()
    return confirmed.filter(agreement__investor_did=did).exists()


def _check_investor(user: User, invitation: Invitation | None = None) -> None:
    if not (user.is_active and user.role == Role.INVESTOR):
        raise PermissionDenied("Only an investor asks for and signs invitations.")
    if invitation is not None and invitation.investor_id != user.pk:
        raise PermissionDenied("This invitation is another investor's.")


def _check_project_staff(user: User, project: Project) -> None:
    if not (user.is_active and user.role in STAFF_ROLES):
        raise PermissionDenied("Only originator staff answer and send invitations.")
    if project.organization_id != user.organization_id:
        raise PermissionDenied("This project is another organization's.")


def _check_invitable(project: Project) -> None:
    if not project.invite_only:
        raise ValidationError(
            {"project": "This project is open to every investor: no invitation is needed."}
        )
    if project.status not in INVITABLE:
        raise ValidationError({"project": "This project takes no new investors."})


def _words(value: object, limit: int, field: str, what: str) -> str:
    text = str(value or "").strip()
    if len(text) > limit:
        raise ValidationError({field: f"{what} is at most {limit} characters."})
    return text


def _check_move(invitation: Invitation, to: str, side: str) -> str:
    """The status INVITATION moves from, if SIDE may move it to TO; refused otherwise."""
    before = invitation.status if invitation.pk else ""
    if INVITATION_MOVES.get((before, to)) != side:
        now = InvitationStatus(before).label.lower() if before else "not made yet"
        raise ValidationError(
            f"An invitation that is {now} cannot become {InvitationStatus(to).label.lower()}."
        )
    return before


def _invitation_move(
    invitation: Invitation, to: str, *, actor: User, side: str, action: str, changes=None
) -> InvitationEvent:
    """The one way an invitation is made or changes state: checks the step and whose it is,
    saves and audits it. Call in a transaction with the project and invitation rows locked."""
    before = _check_move(invitation, to, side)
    invitation.status = to
    invitation.updated_at = timezone.now()
    try:
        with transaction.atomic():
            invitation.save()
    except IntegrityError as exc:  # another request opened one for the pair a moment ago
        raise ValidationError(
            {"project": "This investor has an open invitation to this project already."}
        ) from exc
    return InvitationEvent.objects.create(
        invitation=invitation, actor=actor, action=action, from_status=before, to_status=to,
        changes=changes or {}, at=invitation.updated_at,
    )  # fmt: skip


def _locked_invitation(invitation: Invitation) -> Invitation:
    """INVITATION with its project's row locked, then its own (the order commitments and every
    invitation step take, so they never wait for each other in a circle)."""
    Project.objects.select_for_update().defer("image").filter(pk=invitation.project_id).get()
    return (
        Invitation.objects.select_for_update(of=("self",))
        .select_related("project", "project__organization", "investor")
        .defer("project__image")
        .get(pk=invitation.pk)
    )


def _open_invitation(project: Project, investor: User) -> Invitation | None:
    return (
        Invitation.objects.select_for_update()
        .filter(project=project, investor=investor, status__in=OPEN_INVITATION)
        .first()
    )


def _notify_organization(invitation: Invitation, text: str) -> None:
    link = reverse("funding_invitations:detail", args=[invitation.pk])
    members = invitation.project.organization.members.filter(is_active=True)
    for user_id in members.values_list("pk", flat=True):
        notify_user(user_id=user_id, kind="invitation", text=text, link=link)


def _notify_investor(invitation: Invitation, subject: str, text: str) -> None:
    link = reverse("invest:invitation", args=[invitation.pk])
    notify_user(user_id=invitation.investor_id, kind="invitation", text=subject, link=link)
    notify(user=invitation.investor, subject=subject, text=text)


def _shared_kyc(investor: User, credential_id: object) -> CredentialRecord | None:
    """The KYC credential INVESTOR chose to show with a request: theirs, valid today."""
    if credential_id in (None, ""):
        return None
    entry = next(
        (
            entry
            for entry in credit_record(holder=investor)
            if str(entry.record.pk) == str(credential_id) and entry.record.credential_type == "kyc"
        ),
        None,
    )
    if entry is None or not entry.usable:
        raise ValidationError({"kyc_credential": "Choose one of your valid KYC credentials."})
    return entry.record


@transaction.atomic
def invitation_request(
    *, investor: User, project: Project, note: object = "", kyc_credential_id: object = None
) -> Invitation:
    """INVESTOR asks the organization of an invite-only PROJECT for an invitation, with a note
    and, if they choose, one of their KYC credentials for the organization's staff to see."""
    _check_investor(investor)
    project = _locked_project(project)
    _check_invitable(project)
    note = _words(note, NOTE_LENGTH, "note", "A note")
    kyc = _shared_kyc(investor, kyc_credential_id)
    existing = _open_invitation(project, investor)
    if existing is not None:
        raise ValidationError(
            {
                _S.REQUESTED: "You asked for an invitation already: "
                f"{project.organization.name} will answer.",
                _S.INVITED: "You are invited already: read and sign the investment agreement.",
                _S.CONFIRMED: "You are invited and signed the investment agreement already.",
            }[existing.status]
        )
    invitation = Invitation(
        project=project,
        investor=investor,
        note=note,
        kyc_credential=kyc,
        requested_at=timezone.now(),
    )
    _invitation_move(invitation, _S.REQUESTED, actor=investor, side="investor", action="requested")
    _notify_organization(
        invitation,
        f"{investor.full_name or investor.email} asks for an invitation to {project.name}.",
    )
    return invitation


def _investment_document(invitation: Invitation, investor_did: str, organization_did: str) -> dict:
    project = invitation.project
    currency = project.currency

    def money(amount: Decimal) -> str:
        return money_text(Decimal(amount), currency)

    def percent(value: Decimal) -> str:
        return format(value.normalize(), "f")

    return {
        "format": agreements.INVESTMENT_FORMAT,
        "format_version": agreements.FORMAT_VERSION,
        "agreement_id": str(uuid.uuid4()),
        "node": node_domain(),
        "made_on": timezone.localdate().isoformat(),
        "invitation": str(invitation.public_id),
        "reference": invitation.reference,
        "parties": {
            "originator": {"name": project.organization.name, "did": organization_did},
            "investor": {"name": invitation.investor.full_name, "did": investor_did},
        },
        "project": {"id": str(project.pk), "name": project.name, "version": project.version},
        "terms": {
            "currency": currency,
            "target_amount": money(project.target_amount),
            "min_ticket": money(project.min_ticket),
            "max_ticket": money(project.max_ticket) if project.max_ticket else None,
            "first_loss_percent": percent(project.first_loss_percent),
            "annual_rate_percent": percent(project.annual_rate),
            "interest_method": project.interest_method,
            "repayment_frequency": project.repayment_frequency,
            "distributions": "pro_rata_largest_remainder",
            "losses": "first_loss_then_pro_rata",
        },
        "clauses": [
            "The investor may commit to the project amounts of at least the minimum ticket and, "
            "with all their commitments to it, at most the cap per investor when there is one, "
            "never beyond what is left of the target. A commitment counts once the originator "
            "confirms it received the funds.",
            "The originator lends the confirmed funds to borrowers on the project's terms, as "
            "published in its public projects book.",
            "Every repayment's principal and interest is split among the funders in proportion "
            "to their confirmed commitments, rounded to the currency's smallest unit by largest "
            "remainder so that the parts add up to the repayment exactly; fees stay with the "
            "originator.",
            "A written-off loan's principal is taken first by the originator's first-loss "
            "cover, its percentage of the confirmed funding less what earlier losses took, and "
            "the rest by the funders in proportion to their confirmed commitments.",
            "If the project closes before its target is funded, commitments whose funds were "
            "not received are cancelled and funds received are refunded.",
            "The investor's commitments are published in the originator's public funding book "
            "under a pseudonym, another one in every project, never with the investor's name.",
        ],
    }


def _investment_agreement_create(invitation: Invitation, actor: User) -> InvestmentAgreement:
    """The investment agreement of INVITATION, signed for the organization with its key by
    ACTOR's act, as a loan agreement is."""
    signed = agreement_signed_by_organization(
        organization=invitation.project.organization,
        counterparty=invitation.investor,
        build=lambda investor_did, organization_did: _investment_document(
            invitation, investor_did, organization_did
        ),
        document_format=agreements.INVESTMENT_FORMAT,
    )
    InvestmentAgreement.objects.filter(invitation=invitation).delete()
    return InvestmentAgreement.objects.create(
        invitation=invitation,
        investor_did=signed.counterparty_did,
        **signed.fields(signed_by=actor),
    )


def _invite(invitation: Invitation, actor: User) -> Invitation:
    invitation.invited_at, invitation.invited_by = timezone.now(), actor
    event = _invitation_move(invitation, _S.INVITED, actor=actor, side="staff", action="invited")
    # Made once the move is allowed and the invitation saved (the document names it).
    agreement = _investment_agreement_create(invitation, actor)
    event.changes = {"hash": agreement.hash}
    event.save(update_fields=["changes"])
    project = invitation.project
    _notify_investor(
        invitation,
        f"{project.organization.name} invites you to fund {project.name}",
        f"{project.organization.name} invites you to fund {project.name}. Read and sign the "
        "investment agreement on your invitations page to commit to it.",
    )
    return invitation


@transaction.atomic
def invitation_invite(*, actor: User, invitation: Invitation) -> Invitation:
    """Staff of the project's organization invite the investor who asked: the investment
    agreement is made and signed for the organization."""
    invitation = _locked_invitation(invitation)
    _check_project_staff(actor, invitation.project)
    _check_invitable(invitation.project)
    return _invite(invitation, actor)


@transaction.atomic
def invitation_invite_by_email(*, actor: User, project: Project, email: object) -> Invitation:
    """Staff of PROJECT's organization invite the investor account with EMAIL, or answer the
    request it made already."""
    _check_project_staff(actor, project)
    project = _locked_project(project)
    _check_invitable(project)
    address = str(email or "").strip().lower()
    investor = User.objects.filter(email=address, role=Role.INVESTOR, is_active=True).first()
    if not address or investor is None:
        raise ValidationError({"email": "No investor account with this e-mail address."})
    invitation = _open_invitation(project, investor)
    if invitation is None:
        return _invite(Invitation(project=project, investor=investor), actor)
    if invitation.status != _S.REQUESTED:
        raise ValidationError(
            {"email": "This investor is invited already."
             if invitation.status == _S.INVITED
             else "This investor is invited and signed the agreement already."}
        )  # fmt: skip
    return _invite(invitation, actor)


def _stale(agreement: InvestmentAgreement, invitation: Invitation, did: str) -> str:
    """Why the agreement must be made again before the investor signs it, or ""."""
    if agreement.investor_did != did:
        return "the investor's DID changed"
    if agreement.document.get("project", {}).get("version") != invitation.project.version:
        return "the project's terms changed"
    return ""


@transaction.atomic
def invitation_agreement_refresh(*, investor: User, invitation: Invitation) -> Invitation:
    """The agreement INVESTOR is asked to sign, made again (and signed again for the
    organization by the one who invited) when their DID or the project's terms changed since."""
    invitation = _locked_invitation(invitation)
    _check_investor(investor, invitation)
    if invitation.status != _S.INVITED:
        return invitation
    agreement = InvestmentAgreement.objects.select_for_update().get(invitation=invitation)
    reason = _stale(agreement, invitation, wallet_of_user(user=investor).did)
    if reason:
        agreement = _investment_agreement_create(invitation, agreement.originator_signed_by)
        InvitationEvent.objects.create(
            invitation=invitation, actor=investor, action="agreement_remade",
            changes={"reason": reason, "hash": agreement.hash},
        )  # fmt: skip
    return invitation


@transaction.atomic
def invitation_accept(
    *, investor: User, invitation: Invitation, password: str = "", signature: str = ""
) -> Invitation:
    """The investor signs the investment agreement, which confirms the invitation. A custodial
    wallet is signed by the node on the investor's password; a self-custody one brings its own
    signature (the browser, as for a loan agreement)."""
    invitation = _locked_invitation(invitation)
    _check_investor(investor, invitation)
    _check_move(invitation, _S.CONFIRMED, "investor")  # before anything is signed
    _check_invitable(invitation.project)
    agreement = InvestmentAgreement.objects.select_for_update().get(invitation=invitation)
    wallet = wallet_of_user(user=investor)
    reason = _stale(agreement, invitation, wallet.did)
    if reason:
        raise ValidationError(
            {"signature": f"Since the agreement was made, {reason}: open it again."}
        )
    if wallet.custody == Custody.CUSTODIAL:
        if not investor.check_password(password or ""):
            raise ValidationError({"password": "Your password, to sign, is not right."})
        signature = agreements.sign_agreement(
            key=custodial_key(wallet=wallet),
            document_hash=agreement.hash,
            role="investor",
            document_format=agreements.INVESTMENT_FORMAT,
        )
        WalletEvent.objects.create(
            wallet=wallet, kind=WalletEvent.Kind.AGREEMENT_SIGNED, did=wallet.did, actor=investor,
            detail=f"investment agreement {invitation.reference} {agreement.hash[:16]}…",
        )  # fmt: skip
    check = agreements.check_signature(
        jws=signature,
        document_hash=agreement.hash,
        role="investor",
        did=agreement.investor_did,
        document_format=agreements.INVESTMENT_FORMAT,
    )
    if not check.valid:
        raise ValidationError({"signature": f"The signature is refused: {check.reason}."})
    agreement.investor_signature, agreement.investor_signed_at = signature, timezone.now()
    agreement.save()
    invitation.confirmed_at = agreement.investor_signed_at
    _invitation_move(
        invitation, _S.CONFIRMED, actor=investor, side="investor", action="agreement_signed",
        changes={"hash": agreement.hash},
    )  # fmt: skip
    _notify_organization(
        invitation,
        f"{investor.full_name or investor.email} signed the investment agreement of "
        f"{invitation.project.name}.",
    )
    return invitation


def _close(invitation: Invitation, to: str, *, actor: User, side: str, reason: object) -> None:
    reason = _words(reason, REASON_LENGTH, "reason", "The reason")
    invitation.closed_at, invitation.closed_by, invitation.close_reason = (
        timezone.now(), actor, reason
    )  # fmt: skip
    _invitation_move(
        invitation,
        to,
        actor=actor,
        side=side,
        action=to,
        changes={"reason": reason} if reason else None,
    )


@transaction.atomic
def invitation_withdraw(
    *, investor: User, invitation: Invitation, reason: object = ""
) -> Invitation:
    """The investor takes back a request, or turns down an invitation before signing it."""
    invitation = _locked_invitation(invitation)
    _check_investor(investor, invitation)
    _close(invitation, _S.WITHDRAWN, actor=investor, side="investor", reason=reason)
    return invitation


@transaction.atomic
def invitation_decline(*, actor: User, invitation: Invitation, reason: object = "") -> Invitation:
    """Staff of the project's organization decline a request, or take back an invitation the
    investor has not signed."""
    invitation = _locked_invitation(invitation)
    _check_project_staff(actor, invitation.project)
    requested = invitation.status == _S.REQUESTED
    _close(invitation, _S.DECLINED, actor=actor, side="staff", reason=reason)
    project = invitation.project
    _notify_investor(
        invitation,
        f"{project.organization.name} declined your "
        f"{'request for an invitation' if requested else 'invitation'} to {project.name}",
        f"{project.organization.name} will not take your funds in {project.name} for now."
        + (f" Their reason: {invitation.close_reason}" if invitation.close_reason else ""),
    )
    return invitation
