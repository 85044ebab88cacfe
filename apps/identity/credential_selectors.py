"""Reads for wallets and credentials: whom this node trusts, status bits, credit records."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

from django.conf import settings
from django.db.models import Q, QuerySet
from django.utils import timezone

from apps.ledger.entries import InvalidEntry, decode_entry
from apps.ledger.models import Block, Book, BookKey

from .models import CredentialRecord, StatusList, TrustedIssuer, User, Wallet, WalletEvent
from .ssi.credentials import TrustContext
from .ssi.statuslist import Bitstring, InvalidStatusList, StatusRef, status_list_signature_valid


def node_domain() -> str:
    """The security domain presentations to this node are bound to: its public host[:port]."""
    return urlsplit(settings.GROWR_PUBLIC_URL).netloc


def trusted_issuer_dids() -> set[str]:
    """Organizations on this node, GROWR_TRUSTED_ISSUERS, and the issuers the operator added."""
    own = Wallet.objects.filter(organization__isnull=False).values_list("did", flat=True)
    added = TrustedIssuer.objects.values_list("did", flat=True)
    return {*own, *added, *settings.GROWR_TRUSTED_ISSUERS}


def status_key(*, issuer: str, number: int, purpose: str) -> str:
    """The book key of one issuer's list (book keys are lower case; a DID is not)."""
    return f"status:{purpose}:{number}:{hashlib.sha256(issuer.encode()).hexdigest()[:40]}"


def _replicated_lists(refs: set[tuple[str, int, str]]) -> dict[tuple[str, int, str], Bitstring]:
    """The newest validly signed version of each list, from every credential status book this
    node holds (its own and the ones it follows)."""
    keys = {status_key(issuer=i, number=n, purpose=p): (i, n, p) for i, n, p in refs}
    rows = list(
        BookKey.objects.filter(
            log__book=Book.CREDENTIAL_STATUS, key__in=keys, is_deleted=False
        ).values_list("log_id", "block_index", "key")
    )
    if not rows:
        return {}
    wanted = Q()
    for log_id, index, _ in rows:
        wanted |= Q(log_id=log_id, index=index)
    best: dict[tuple[str, int, str], tuple[int, str]] = {}
    for data in Block.objects.filter(wanted).values_list("data", flat=True):
        try:
            value = decode_entry(bytes(data))["value"] or {}
            ref = (value["issuer"], value["list"], value["purpose"])
            fields = {k: value[k] for k in ("encoded_list", "seq", "signature")}
            newer = ref in refs and (ref not in best or best[ref][0] < fields["seq"])
        except (InvalidEntry, KeyError, TypeError):
            continue  # not a status list entry this node can read: it proves nothing
        if not newer:
            continue
        if status_list_signature_valid(
            issuer=ref[0],
            list_number=ref[1],
            purpose=ref[2],
            encoded=fields["encoded_list"],
            seq=fields["seq"],
            signature=fields["signature"],
        ):
            best[ref] = (fields["seq"], fields["encoded_list"])
    lists = {}
    for ref, (_, encoded) in best.items():
        try:
            lists[ref] = Bitstring.decode(encoded)
        except InvalidStatusList:
            continue
    return lists


def status_lookup(refs: Iterable[StatusRef]) -> Callable[[StatusRef], bool | None]:
    """Status bits for REFS: this node's own lists from its tables (current the moment a
    revocation commits), everyone else's from the replicated books. Three queries at most."""
    wanted = {(r.issuer, r.list, r.purpose) for r in refs}
    lists: dict[tuple[str, int, str], Bitstring] = {}
    if wanted:
        own = StatusList.objects.filter(
            organization__wallet__did__in={i for i, _, _ in wanted}
        ).values_list("organization__wallet__did", "number", "purpose", "bits")
        for did, number, purpose, bits in own:
            if (did, number, purpose) in wanted:
                lists[(did, number, purpose)] = Bitstring(bytes(bits))
        missing = wanted - lists.keys()
        if missing:
            lists.update(_replicated_lists(missing))

    def status_bit(ref: StatusRef) -> bool | None:
        bits = lists.get((ref.issuer, ref.list, ref.purpose))
        return None if bits is None else bits[ref.index]

    return status_bit


def trust_context(*, refs: Iterable[StatusRef], now: datetime | None = None) -> TrustContext:
    trusted = trusted_issuer_dids()
    return TrustContext(
        now=now or timezone.now(),
        is_trusted_issuer=trusted.__contains__,
        status_bit=status_lookup(refs),
    )


def wallet_did(*, user: User) -> str | None:
    return Wallet.objects.filter(user=user).values_list("did", flat=True).first()


CREDENTIAL_STATE_LABELS = {
    "valid": "Valid",
    "expired": "Expired",
    "revoked": "Revoked",
    "not_yet_valid": "Not yet valid",
    "status_unknown": "Status unknown",
}


@dataclass(frozen=True)
class CreditRecordEntry:
    record: CredentialRecord
    issuer_name: str
    state: str  # valid | expired | not_yet_valid | revoked | status_unknown

    @property
    def usable(self) -> bool:
        return self.state == "valid"

    @property
    def state_label(self) -> str:
        return CREDENTIAL_STATE_LABELS.get(self.state, self.state)


def _state(record: CredentialRecord, now: datetime, status_bit) -> str:
    if record.revoked_at is not None:
        return "revoked"
    if record.valid_from > now:
        return "not_yet_valid"
    if record.valid_until is not None and record.valid_until <= now:
        return "expired"
    if record.status_index is not None:
        bit = status_bit(
            StatusRef(record.issuer_did, record.status_list_number, record.status_index)
        )
        if bit is None:
            return "status_unknown"
        if bit:
            return "revoked"
    return "valid"


def credit_record(*, holder: User) -> list[CreditRecordEntry]:
    """Every credential of HOLDER with its issuer and current state; constant queries."""
    records = list(
        CredentialRecord.objects.filter(holder=holder).select_related("issuer_organization")
    )
    refs = [
        StatusRef(r.issuer_did, r.status_list_number, r.status_index)
        for r in records
        if r.status_index is not None
    ]
    status_bit = status_lookup(refs)
    labels = dict(TrustedIssuer.objects.values_list("did", "label"))
    now = timezone.now()
    return [
        CreditRecordEntry(
            record=r,
            issuer_name=(
                r.issuer_organization.name
                if r.issuer_organization
                else labels.get(r.issuer_did, r.issuer_did)
            ),
            state=_state(r, now, status_bit),
        )
        for r in records
    ]


def organization_credentials(*, organization) -> QuerySet[CredentialRecord]:
    return CredentialRecord.objects.filter(
        issuer_organization=organization, source=CredentialRecord.Source.ISSUED
    ).select_related("holder", "issued_by", "revoked_by")


def holder_credentials(*, holder: User, ids: Iterable[int]) -> list[CredentialRecord]:
    return list(CredentialRecord.objects.filter(holder=holder, pk__in=list(ids)))


def holder_credential(*, holder: User, pk: int) -> CredentialRecord | None:
    """One credential of HOLDER's record, or None when it is not theirs."""
    return CredentialRecord.objects.filter(holder=holder, pk=pk).first()


def holder_credential_documents(*, holder: User) -> list[CredentialRecord]:
    """Every credential of HOLDER's record with its document, for a download of the record."""
    return list(CredentialRecord.objects.filter(holder=holder).order_by("valid_from", "id"))


def wallet_history(*, wallet: Wallet) -> QuerySet[WalletEvent]:
    """What happened to WALLET, newest first, with who did it."""
    return WalletEvent.objects.filter(wallet=wallet).select_related("actor")


def credit_record_size(*, holder: User) -> int:
    return CredentialRecord.objects.filter(holder=holder).count()
