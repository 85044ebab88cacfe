"""Reads for wallets and credentials: whom this node trusts, status bits, credit records."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

import pycountry
from django.conf import settings
from django.db.models import Case, CharField, Count, QuerySet, Value, When
from django.utils import timezone

from .models import (
    CredentialRecord,
    Organization,
    StatusList,
    StatusListSeen,
    TrustedIssuer,
    User,
    Wallet,
    WalletEvent,
)
from .ssi.credential_types import COUNTRY_CODES, CREDENTIAL_TYPES, CredentialType
from .ssi.credentials import TrustContext
from .ssi.statuslist import Bitstring, InvalidStatusList, StatusRef


def node_domain() -> str:
    """The security domain presentations to this node are bound to: its public host[:port]."""
    return urlsplit(settings.GROWR_PUBLIC_URL).netloc


def trusted_issuer_dids() -> set[str]:
    """Organizations on this node, GROWR_TRUSTED_ISSUERS, and the issuers the operator added."""
    own = Wallet.objects.filter(organization__isnull=False).values_list("did", flat=True)
    added = TrustedIssuer.objects.order_by().values_list("did", flat=True)
    return {*own.union(added), *settings.GROWR_TRUSTED_ISSUERS}


def status_key(*, issuer: str, number: int, purpose: str) -> str:
    """The book key of one issuer's list (book keys are lower case; a DID is not)."""
    return f"status:{purpose}:{number}:{hashlib.sha256(issuer.encode()).hexdigest()[:40]}"


ListRef = tuple[str, int, str]  # issuer, list number, purpose


def _replicated_lists(refs: set[ListRef]) -> dict[ListRef, Bitstring]:
    """The newest validly signed version of each list that this node's credential status books
    ever held (credential_services.status_lists_seen_record keeps them as blocks are indexed)."""
    lists = {}
    rows = StatusListSeen.objects.filter(issuer__in={i for i, _, _ in refs}).values_list(
        "issuer", "number", "purpose", "encoded_list"
    )
    for issuer, number, purpose, encoded in rows:
        if (issuer, number, purpose) in refs:
            try:
                lists[(issuer, number, purpose)] = Bitstring.decode(encoded)
            except InvalidStatusList:
                continue
    return lists


def _status_lists(refs: Iterable[StatusRef]) -> tuple[dict[ListRef, Bitstring], set[str]]:
    """The lists REFS point into, and which of their issuers are organizations on this node.
    Own lists come from this node's tables (current the moment a revocation commits), everyone
    else's from the replicated books. Three queries at most."""
    wanted = {(r.issuer, r.list, r.purpose) for r in refs}
    lists: dict[ListRef, Bitstring] = {}
    own_issuers: set[str] = set()
    if wanted:
        own = StatusList.objects.filter(
            organization__wallet__did__in={i for i, _, _ in wanted}
        ).values_list("organization__wallet__did", "number", "purpose", "bits")
        for did, number, purpose, bits in own:
            own_issuers.add(did)
            if (did, number, purpose) in wanted:
                lists[(did, number, purpose)] = Bitstring(bytes(bits))
        missing = wanted - lists.keys()
        if missing:
            lists.update(_replicated_lists(missing))
    return lists, own_issuers


def status_lookup(refs: Iterable[StatusRef]) -> Callable[[StatusRef], bool | None]:
    """Status bits for REFS: True (revoked), False, or None (no such list here)."""
    lists, _ = _status_lists(refs)

    def status_bit(ref: StatusRef) -> bool | None:
        bits = lists.get((ref.issuer, ref.list, ref.purpose))
        return None if bits is None else bits[ref.index]

    return status_bit


class _NodeTrust:
    """Trust and status answers for a TrustContext, from what the last prefetch read. An issuer
    with a status list on this node is one of its organizations, so the common case (this
    node's own credentials) costs no query beyond the status lists."""

    def __init__(self) -> None:
        self._lists: dict[ListRef, Bitstring] = {}
        self._own_issuers: set[str] = set()
        self._trusted: set[str] | None = None

    def prefetch(self, refs: list[StatusRef]) -> None:
        self._lists, self._own_issuers = _status_lists(refs)

    def is_trusted_issuer(self, did: str) -> bool:
        if did in self._own_issuers:
            return True
        if self._trusted is None:
            self._trusted = trusted_issuer_dids()
        return did in self._trusted

    def status_bit(self, ref: StatusRef) -> bool | None:
        bits = self._lists.get((ref.issuer, ref.list, ref.purpose))
        return None if bits is None else bits[ref.index]


def trust_context(*, refs: Iterable[StatusRef] = (), now: datetime | None = None) -> TrustContext:
    """What this node trusts now. Status lists of REFS are fetched at once; a presentation's
    verification fetches those of its credentials through `prefetch`."""
    trust = _NodeTrust()
    trust.prefetch(list(refs))
    return TrustContext(
        now=now or timezone.now(),
        is_trusted_issuer=trust.is_trusted_issuer,
        status_bit=trust.status_bit,
        prefetch=trust.prefetch,
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


# --- the originator staff's credentials pages ------------------------------------------------

# What the staff pages show of a credential their organization issued. Revocation is read from
# revoked_at: for this node's own credentials it is set in the transaction that flips the bit.
ISSUED_STATES = ("valid", "expired", "revoked")


def _with_state(records: QuerySet[CredentialRecord], now: datetime) -> QuerySet[CredentialRecord]:
    return records.annotate(
        state=Case(
            When(revoked_at__isnull=False, then=Value("revoked")),
            When(valid_until__lte=now, then=Value("expired")),
            default=Value("valid"),
            output_field=CharField(),
        )
    )


def organization_credentials_listed(
    *,
    organization: Organization,
    credential_type: str = "",
    state: str = "",
    email: str = "",
    now: datetime | None = None,
) -> QuerySet[CredentialRecord]:
    """The credentials ORGANIZATION issued, newest first, each annotated with its `state`
    (valid | expired | revoked), filtered by type, state and a part of the holder's e-mail."""
    records = _with_state(
        organization_credentials(organization=organization), now or timezone.now()
    )
    if credential_type:
        records = records.filter(credential_type=credential_type)
    if state:
        records = records.filter(state=state)
    if email.strip():
        records = records.filter(holder__email__icontains=email.strip())
    return records.order_by("-valid_from", "-id")


def organization_credential(
    *, organization: Organization, pk: int, now: datetime | None = None
) -> CredentialRecord | None:
    """One credential ORGANIZATION issued, with its `state`; None for anyone else's."""
    records = organization_credentials(organization=organization)
    return _with_state(records, now or timezone.now()).filter(pk=pk).first()


def organization_credential_counts(*, organization: Organization) -> dict[str, int]:
    """How many credentials ORGANIZATION issued, and how many of them are revoked."""
    # Columns of the credential_issuer index only (COUNT counts the non-null revoked_at), so
    # the counts come from the index alone.
    return organization_credentials(organization=organization).aggregate(
        issued=Count("*"), revoked=Count("revoked_at")
    )


def holder_by_email(*, email: str) -> User | None:
    """The account a credential is issued to, by its e-mail address (the login, lower case)."""
    return User.objects.filter(email=email.strip().lower()).first()


def csv_columns(*, credential_type: CredentialType) -> list[str]:
    """The header of a bulk-issue CSV for one type: nested claims dotted (monthlyIncome.amount),
    as credentials_issue_csv reads them."""
    columns = ["email", "type", "valid_until"]
    for name, schema in credential_type.claims_schema["properties"].items():
        if schema.get("type") == "object":
            columns.extend(f"{name}.{part}" for part in schema["properties"])
        else:
            columns.append(name)
    return columns


def _claim_text(schema: dict, value: object) -> str:
    if schema.get("type") == "object" and isinstance(value, dict):
        if set(schema["properties"]) == {"amount", "currency"}:
            return f"{value.get('amount', '')} {value.get('currency', '')}".strip()
        return ", ".join(f"{k}: {v}" for k, v in value.items())
    if schema.get("enum") == COUNTRY_CODES and isinstance(value, str):
        country = pycountry.countries.get(alpha_2=value)
        return f"{country.name} ({value})" if country else value
    return str(value)


def claim_rows(*, credential_type: str, claims: dict) -> list[tuple[str, str]]:
    """The claims of a credential (of the type named by its slug) as (label, text) pairs, in
    the order of the type's schema."""
    known = CREDENTIAL_TYPES.get(credential_type)
    properties = known.claims_schema["properties"] if known else {}
    labels = known.labels if known else {}
    ordered = [n for n in properties if n in claims] + [n for n in claims if n not in properties]
    return [
        (labels.get(name, name), _claim_text(properties.get(name, {}), claims[name]))
        for name in ordered
    ]


@dataclass(frozen=True)
class TrustedIssuerEntry:
    did: str
    label: str
    source: str  # organization | settings | operator


def trusted_issuers() -> list[TrustedIssuerEntry]:
    """Whom this node trusts, and why: its own organizations, GROWR_TRUSTED_ISSUERS, and the
    issuers the operator added. Two queries."""
    added = dict(TrustedIssuer.objects.values_list("did", "label"))
    entries: dict[str, TrustedIssuerEntry] = {}
    for did, name in Wallet.objects.filter(organization__isnull=False).values_list(
        "did", "organization__name"
    ):
        entries[did] = TrustedIssuerEntry(did, name, "organization")
    for did in settings.GROWR_TRUSTED_ISSUERS:
        entries.setdefault(did, TrustedIssuerEntry(did, added.get(did, ""), "settings"))
    for did, label in added.items():
        entries.setdefault(did, TrustedIssuerEntry(did, label, "operator"))
    order = {"organization": 0, "settings": 1, "operator": 2}
    return sorted(entries.values(), key=lambda e: (order[e.source], e.label.lower(), e.did))


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
