"""Writes for credentials: issuing (one or a CSV of many), revoking through signed status lists
in the public credential status book, importing, and presentations."""

from __future__ import annotations

import csv
import io
import secrets
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.ledger.entries import InvalidEntry, decode_entry
from apps.ledger.models import Block, Book
from apps.ledger.services import book_publish

from . import credential_selectors as selectors
from .models import (
    STAFF_ROLES,
    Challenge,
    CredentialRecord,
    Custody,
    Role,
    StatusList,
    StatusListSeen,
    TrustedIssuer,
    User,
    WalletEvent,
)
from .ssi import credentials as vc
from .ssi.credential_types import CREDENTIAL_TYPES, SD_JWT, CredentialType
from .ssi.didkey import InvalidDid, public_key_from_did
from .ssi.presentation import (
    VerifiedPresentation,
    build_presentation,
    presentation_nonce,
    validate_request,
    verify_presentation,
)
from .ssi.statuslist import (
    LIST_BITS,
    PURPOSES,
    Bitstring,
    InvalidStatusList,
    StatusRef,
    sign_status_list,
    status_list_signature_valid,
)
from .wallet_services import (
    ChallengeError,
    challenge_issue,
    challenge_take,
    custodial_key,
    wallet_of_organization,
    wallet_of_user,
)

MAX_CSV_BYTES = 1024 * 1024
MAX_CSV_ROWS = 1000
MAX_UPLOAD_BYTES = 64 * 1024
DUPLICATE_CREDENTIAL = "This credential is in a credit record already."


# --- status lists ---------------------------------------------------------------------------


def _publish_status_list(status_list: StatusList) -> None:
    wallet = wallet_of_organization(organization=status_list.organization)
    encoded = Bitstring(bytes(status_list.bits)).encode()
    signature = sign_status_list(
        key=custodial_key(wallet=wallet),
        list_number=status_list.number,
        purpose=status_list.purpose,
        encoded=encoded,
        seq=status_list.seq,
    )
    book_publish(
        book=Book.CREDENTIAL_STATUS,
        entry_type="growr/credential-status-list",
        version=2,
        key=selectors.status_key(
            issuer=wallet.did, number=status_list.number, purpose=status_list.purpose
        ),
        value={
            "issuer": wallet.did,
            "list": status_list.number,
            "purpose": status_list.purpose,
            "encoded_list": encoded,
            "seq": status_list.seq,
            "signature": signature,
        },
    )


def _status_slot(organization) -> tuple[StatusList, int]:
    """A fresh bit for a new credential, in the organization's current list (locked until the
    caller commits). Bits are handed out in a shuffled order, so a credential's position says
    nothing about when it was issued."""
    status_list = (
        StatusList.objects.select_for_update()
        .filter(organization=organization, purpose="revocation")
        .order_by("-number")
        .first()
    )
    if status_list is None or status_list.issued >= LIST_BITS:
        number = 0 if status_list is None else status_list.number + 1
        status_list = StatusList.objects.create(
            organization=organization,
            number=number,
            bits=Bitstring().to_bytes(),
            multiplier=secrets.randbelow(LIST_BITS // 2) * 2 + 1,
            offset=secrets.randbelow(LIST_BITS),
        )
        _publish_status_list(status_list)
    # An odd multiplier makes n -> (a*n + b) mod 2^17 a permutation of the list's bits.
    index = (status_list.multiplier * status_list.issued + status_list.offset) % LIST_BITS
    status_list.issued += 1
    status_list.save(update_fields=["issued"])
    return status_list, index


STATUS_LIST_ENTRY = "growr/credential-status-list"


def status_lists_seen_record(*, log_id: int, rows: Sequence[tuple]) -> int:
    """Remember, from blocks just indexed, the newest validly signed version of each issuer's
    status list: a book that later serves an older version (a replay) cannot undo a revocation
    on this node. Blocks that are not valid lists prove nothing and are passed over."""
    indexes = [
        index
        for index, _, entry_type, deleted in rows
        if entry_type == STATUS_LIST_ENTRY and not deleted
    ]
    if not indexes:
        return 0
    newest: dict[tuple[str, int, str], tuple[int, str]] = {}
    for data in Block.objects.filter(log_id=log_id, index__in=indexes).values_list(
        "data", flat=True
    ):
        version = _signed_status_list(bytes(data))
        if version is not None:
            ref, seq, encoded = version
            if ref not in newest or newest[ref][0] < seq:
                newest[ref] = (seq, encoded)
    recorded = 0
    for (issuer, number, purpose), (seq, encoded) in newest.items():
        seen = (
            StatusListSeen.objects.select_for_update()
            .filter(issuer=issuer, number=number, purpose=purpose)
            .first()
        )
        if seen is None:
            StatusListSeen.objects.create(
                issuer=issuer, number=number, purpose=purpose, seq=seq, encoded_list=encoded
            )
        elif seen.seq < seq:
            seen.seq, seen.encoded_list, seen.seen_at = seq, encoded, timezone.now()
            seen.save(update_fields=["seq", "encoded_list", "seen_at"])
        else:
            continue
        recorded += 1
    return recorded


def _signed_status_list(data: bytes) -> tuple[tuple[str, int, str], int, str] | None:
    try:
        value = decode_entry(data)["value"]
        ref = (value["issuer"], value["list"], value["purpose"])
        seq, encoded, signature = value["seq"], value["encoded_list"], value["signature"]
        if not (
            isinstance(ref[0], str)
            and type(ref[1]) is int
            and 0 <= ref[1] < 2**31
            and type(seq) is int
            and 0 <= seq < 2**62
            and ref[2] in PURPOSES
            and isinstance(encoded, str)
        ):
            return None
        valid = status_list_signature_valid(
            issuer=ref[0],
            list_number=ref[1],
            purpose=ref[2],
            encoded=encoded,
            seq=seq,
            signature=signature,
        )
        Bitstring.decode(encoded)
    except (InvalidEntry, InvalidStatusList, KeyError, TypeError, ValueError):
        return None
    return (ref, seq, encoded) if valid else None


# --- issuing --------------------------------------------------------------------------------


def _check_issuer(issuer: User) -> None:
    if not (issuer.is_active and issuer.role in STAFF_ROLES and issuer.organization_id):
        raise PermissionDenied("Only originator staff issue credentials.")


# An investor may hold an identity check, for an originator deciding on an invitation; every
# other type is about borrowing.
INVESTOR_CREDENTIAL_TYPES = frozenset({"kyc"})


def _check_holder(holder: User, credential_type: CredentialType) -> None:
    if not holder.is_active or holder.role not in (Role.BORROWER, Role.INVESTOR):
        raise ValidationError({"holder": "Credentials are issued to borrowers with an account."})
    if holder.role == Role.INVESTOR and credential_type.slug not in INVESTOR_CREDENTIAL_TYPES:
        raise ValidationError(
            {"holder": "An investor is issued a KYC credential only; the other types go to "
                       "borrowers."}
        )  # fmt: skip


def _credential_type(slug: str) -> CredentialType:
    credential_type = CREDENTIAL_TYPES.get(slug)
    if credential_type is None:
        raise ValidationError({"credential_type": f"Unknown credential type {slug!r}."})
    return credential_type


def _validity(credential_type: CredentialType, valid_until: datetime | None, now: datetime):
    if valid_until is None:
        return now + credential_type.validity if credential_type.validity else None
    if valid_until <= now:
        raise ValidationError({"valid_until": "The end of validity must be in the future."})
    return valid_until


def _issue_one(
    *,
    issuer: User,
    holder: User,
    credential_type: CredentialType,
    claims: dict,
    valid_until: datetime | None,
    now: datetime,
) -> CredentialRecord:
    errors = credential_type.claim_errors(claims)
    if errors:
        raise ValidationError({"claims": errors})
    organization = issuer.organization
    issuer_key = custodial_key(wallet=wallet_of_organization(organization=organization))
    holder_did = wallet_of_user(user=holder).did
    expires_at = _validity(credential_type, valid_until, now)
    status_list, index = _status_slot(organization)
    credential_id = f"urn:uuid:{uuid.uuid4()}"
    document = vc.issue(
        credential_type=credential_type,
        issuer_key=issuer_key,
        holder_did=holder_did,
        claims=claims,
        credential_id=credential_id,
        issued_at=now,
        expires_at=expires_at,
        status=StatusRef(issuer_key.did, status_list.number, index),
    )
    return CredentialRecord.objects.create(
        holder=holder,
        holder_did=holder_did,
        credential_type=credential_type.slug,
        format=credential_type.format,
        credential_id=credential_id,
        issuer_did=issuer_key.did,
        issuer_organization=organization,
        issued_by=issuer,
        source=CredentialRecord.Source.ISSUED,
        document=document,
        claims=claims,
        valid_from=now.replace(microsecond=0),
        valid_until=expires_at.replace(microsecond=0) if expires_at else None,
        status_list=status_list,
        status_list_number=status_list.number,
        status_index=index,
    )


@transaction.atomic
def credential_issue(
    *,
    issuer: User,
    holder: User,
    credential_type: str,
    claims: dict,
    valid_until: datetime | None = None,
) -> CredentialRecord:
    """Originator staff issue a credential to a borrower (or a KYC credential to an investor),
    after checking documents offline. Signed with the organization's key; its revocation bit is
    in the organization's list."""
    _check_issuer(issuer)
    kind = _credential_type(credential_type)
    _check_holder(holder, kind)
    return _issue_one(
        issuer=issuer,
        holder=holder,
        credential_type=kind,
        claims=claims,
        valid_until=valid_until,
        now=timezone.now(),
    )


@dataclass
class BulkIssue:
    issued: list[CredentialRecord] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def _claims_from_row(credential_type: CredentialType, row: Mapping[str, str]) -> dict:
    """Claims from CSV columns; nested claims are dotted (monthlyIncome.amount)."""
    claims: dict = {}
    for column, text in row.items():
        value = (text or "").strip()
        head, _, tail = (column or "").partition(".")
        if not value or head not in credential_type.claim_names:
            continue
        kind = credential_type.claims_schema["properties"][head].get("type")
        if tail:
            claims.setdefault(head, {})[tail] = value
        elif kind == "integer":
            claims[head] = int(value) if value.isdigit() else value
        else:
            claims[head] = value
    return claims


def _parse_valid_until(text: str) -> datetime | None:
    if not text.strip():
        return None
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError as exc:
        raise ValidationError({"valid_until": f"{text!r} is not a date (YYYY-MM-DD)."}) from exc
    return moment if timezone.is_aware(moment) else timezone.make_aware(moment)


def _row_errors(error: ValidationError) -> str:
    if hasattr(error, "message_dict"):
        return "; ".join(
            f"{name}: {', '.join(messages)}" for name, messages in error.message_dict.items()
        )
    return "; ".join(error.messages)


def credentials_issue_csv(*, issuer: User, data: bytes) -> BulkIssue:
    """Issue one credential per CSV row (columns: email, type, valid_until, then the claims).
    All or nothing: if any row is wrong, nothing is issued and every wrong row is reported."""
    _check_issuer(issuer)
    if len(data) > MAX_CSV_BYTES:
        return BulkIssue(errors=[f"The file is larger than {MAX_CSV_BYTES // 1024} KB."])
    try:
        rows = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))
    except (UnicodeDecodeError, csv.Error) as exc:
        return BulkIssue(errors=[f"The file is not a UTF-8 CSV: {exc}"])
    if not rows:
        return BulkIssue(errors=["The file has no rows under its header."])
    if len(rows) > MAX_CSV_ROWS:
        return BulkIssue(errors=[f"At most {MAX_CSV_ROWS} rows per file."])
    if not {"email", "type"} <= set(rows[0]):
        return BulkIssue(errors=["The header must name the columns email and type."])
    holders = {
        u.email: u
        for u in User.objects.filter(
            email__in={(r.get("email") or "").strip().lower() for r in rows}
        )
    }
    result = BulkIssue()
    now = timezone.now()
    try:
        with transaction.atomic():
            for line, row in enumerate(rows, start=2):
                try:
                    holder = holders.get((row.get("email") or "").strip().lower())
                    if holder is None:
                        raise ValidationError({"email": "No account with this e-mail address."})
                    credential_type = _credential_type((row.get("type") or "").strip())
                    _check_holder(holder, credential_type)
                    with transaction.atomic():
                        result.issued.append(
                            _issue_one(
                                issuer=issuer,
                                holder=holder,
                                credential_type=credential_type,
                                claims=_claims_from_row(credential_type, row),
                                valid_until=_parse_valid_until(row.get("valid_until") or ""),
                                now=now,
                            )
                        )
                except ValidationError as exc:
                    result.errors.append(f"Row {line}: {_row_errors(exc)}")
            if result.errors:
                raise _RollBack
    except _RollBack:
        result.issued = []
    return result


class _RollBack(Exception):
    pass


@transaction.atomic
def credential_revoke(*, actor: User, credential: CredentialRecord, reason: str) -> None:
    """Flip the credential's bit and publish the organization's list, signed, to the book."""
    _check_issuer(actor)
    record = CredentialRecord.objects.select_for_update().get(pk=credential.pk)
    if record.issuer_organization_id != actor.organization_id or record.status_list_id is None:
        raise PermissionDenied("Only the issuing organization revokes a credential.")
    if record.revoked_at is not None:
        return
    status_list = StatusList.objects.select_for_update().get(pk=record.status_list_id)
    bits = Bitstring(bytes(status_list.bits))
    bits.set(record.status_index, True)
    status_list.bits, status_list.seq = bits.to_bytes(), status_list.seq + 1
    status_list.updated_at = timezone.now()
    status_list.save(update_fields=["bits", "seq", "updated_at"])
    _publish_status_list(status_list)
    record.revoked_at, record.revoked_by = status_list.updated_at, actor
    record.revocation_reason = reason.strip()[:300]
    record.save(update_fields=["revoked_at", "revoked_by", "revocation_reason"])


# --- the holder's side ----------------------------------------------------------------------


def _refused(error: vc.CheckFailed) -> ValidationError:
    return ValidationError({"credential": f"{error.check}: {error.reason}"}, code=error.check)


@transaction.atomic
def credential_import(*, holder: User, credential: object) -> CredentialRecord:
    """Add a credential issued elsewhere to HOLDER's record, after verifying it: proof, holder
    (it must name the holder's DID), trusted issuer, validity and revocation."""
    try:
        parsed = vc.read_any(credential)
        if parsed.holder != wallet_of_user(user=holder).did:
            raise vc.CheckFailed(vc.HOLDER_BINDING, "the credential was issued to another DID")
        refs = [parsed.status] if parsed.status else []
        vc.check_trust_validity_status(parsed, selectors.trust_context(refs=refs))
    except vc.CheckFailed as exc:
        raise _refused(exc) from exc
    if CredentialRecord.objects.filter(credential_id=parsed.id).exists():
        raise ValidationError({"credential": DUPLICATE_CREDENTIAL})
    try:
        with transaction.atomic():
            return CredentialRecord.objects.create(
                holder=holder,
                holder_did=parsed.holder,
                credential_type=parsed.type.slug,
                format=parsed.format,
                credential_id=parsed.id,
                issuer_did=parsed.issuer,
                source=CredentialRecord.Source.IMPORTED,
                document=parsed.document,
                claims=parsed.claims,
                valid_from=parsed.valid_from,
                valid_until=parsed.valid_until,
                status_list_number=parsed.status.list if parsed.status else None,
                status_index=parsed.status.index if parsed.status else None,
            )
    except IntegrityError as exc:
        raise ValidationError(
            {"credential": "This credential is in a credit record already."}
        ) from exc


def presentation_challenge_issue(*, user: User | None, request: object) -> Challenge:
    try:
        cleaned = validate_request(request)
    except ValueError as exc:
        raise ValidationError({"request": str(exc)}) from exc
    return challenge_issue(user=user, purpose=Challenge.Purpose.PRESENTATION, request=cleaned)


@transaction.atomic
def presentation_build_custodial(
    *, holder: User, nonce: str, credential_ids: Sequence[int], disclose: Mapping[int, list[str]]
) -> dict:
    """Sign a presentation with a custodial holder's key, of exactly the credentials and (for
    SD-JWT ones) the claims the holder chose. Each such signature is logged in their wallet."""
    wallet = wallet_of_user(user=holder)
    if wallet.custody != Custody.CUSTODIAL:
        raise PermissionDenied("Your wallet is in self-custody: sign the presentation yourself.")
    challenge = Challenge.objects.filter(nonce=nonce, user=holder).first()
    if challenge is None or challenge.used_at is not None:
        raise ChallengeError("This challenge is not open for you.")
    records = selectors.holder_credentials(holder=holder, ids=credential_ids)
    if not records or len(records) != len(set(credential_ids)):
        raise ValidationError({"credentials": "Choose credentials from your own record."})
    ldp_documents, sd_jwts = [], []
    for record in records:
        if record.format == SD_JWT:
            chosen = disclose.get(record.pk, [])
            if not chosen:
                raise ValidationError({"disclose": f"Choose the {record.credential_type} claims."})
            sd_jwts.append((record.document, chosen))
        else:
            ldp_documents.append(record.document)
    envelope = build_presentation(
        holder_key=custodial_key(wallet=wallet),
        ldp_documents=ldp_documents,
        sd_jwt_disclosures=sd_jwts,
        challenge=challenge.nonce,
        domain=challenge.domain,
    )
    WalletEvent.objects.create(
        wallet=wallet,
        kind=WalletEvent.Kind.PRESENTED,
        did=wallet.did,
        actor=holder,
        detail=", ".join(sorted(r.credential_type for r in records))[:300],
    )
    return envelope


@dataclass(frozen=True)
class PresentationOutcome:
    verified: bool
    failed_check: str = ""
    reason: str = ""
    record: object = None  # PresentationRecord when verified
    presentation: VerifiedPresentation | None = None


def _holder_did(challenge: Challenge, user: User) -> str | None:
    """The DID of USER's wallet: challenge_take brings it along when the challenge is USER's."""
    if challenge.user_id == user.pk:
        return getattr(challenge, "holder_did", None)
    return selectors.wallet_did(user=user)


@transaction.atomic
def presentation_verify(*, envelope: object, user: User | None) -> PresentationOutcome:
    """Verify a presentation answering one of this node's challenges. Only a verified one is
    kept, and of it only the result and the claims the challenge's request asked for."""
    from .models import PresentationRecord

    try:
        nonce = presentation_nonce(envelope)
        challenge = challenge_take(nonce=nonce, purpose=Challenge.Purpose.PRESENTATION, user=user)
        context = selectors.trust_context()
        verified = verify_presentation(
            envelope,
            challenge=challenge.nonce,
            domain=challenge.domain,
            context=context,
            request=challenge.request,
        )
        if user is not None and verified.holder != _holder_did(challenge, user):
            raise vc.CheckFailed(vc.HOLDER_BINDING, "the presentation is another holder's")
    except ChallengeError as exc:
        return PresentationOutcome(False, vc.CHALLENGE, exc.messages[0])
    except vc.CheckFailed as exc:
        return PresentationOutcome(False, exc.check, exc.reason)
    record = PresentationRecord.objects.create(
        challenge=challenge,
        holder=user,
        holder_did=verified.holder,
        verified=True,
        disclosed=verified.disclosed(challenge.request or {}),
        issuers=sorted({c.issuer for c in verified.credentials}),
    )
    return PresentationOutcome(True, record=record, presentation=verified)


# --- trust ----------------------------------------------------------------------------------


@transaction.atomic
def trusted_issuer_add(*, actor: User, did: str, label: str) -> TrustedIssuer:
    if not (actor.is_active and actor.role == Role.NODE_OPERATOR):
        raise PermissionDenied("Only the node operator decides whose credentials are trusted.")
    try:
        public_key_from_did(did)
    except InvalidDid as exc:
        raise ValidationError({"did": str(exc)}) from exc
    issuer, _ = TrustedIssuer.objects.update_or_create(
        did=did, defaults={"label": label.strip()[:200] or did, "added_by": actor}
    )
    transaction.on_commit(_republish_profile, robust=True)
    return issuer


@transaction.atomic
def trusted_issuer_remove(*, actor: User, did: str) -> bool:
    if not (actor.is_active and actor.role == Role.NODE_OPERATOR):
        raise PermissionDenied("Only the node operator decides whose credentials are trusted.")
    removed, _ = TrustedIssuer.objects.filter(did=did).delete()
    transaction.on_commit(_republish_profile, robust=True)
    return bool(removed)


def _republish_profile() -> None:
    from apps.node.tasks import node_profile_sync_task

    node_profile_sync_task.delay()
