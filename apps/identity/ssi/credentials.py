"""Issuing, reading and checking one credential, whichever its format.

Every check raises CheckFailed naming the check, so a verifier can say exactly which one failed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from . import ldp, sdjwt
from .credential_types import (
    CREDENTIAL_CONTEXTS,
    CREDENTIAL_TYPES,
    LDP,
    SD_JWT,
    SD_JWT_VCT,
    TYPES_BY_VC_TYPE,
    CredentialType,
)
from .didkey import Ed25519Key, InvalidDid, public_key_from_did
from .statuslist import StatusRef, parse_list_id

FORMAT = "format"
CHALLENGE = "challenge"
SIGNATURE = "signature"
HOLDER_BINDING = "holder_binding"
SCHEMA = "schema"
ISSUER_TRUST = "issuer_trust"
VALIDITY = "validity"
REVOCATION = "revocation"
REQUEST = "request"
CHECKS = (
    FORMAT,
    CHALLENGE,
    SIGNATURE,
    HOLDER_BINDING,
    SCHEMA,
    ISSUER_TRUST,
    VALIDITY,
    REVOCATION,
    REQUEST,
)
STATUS_ENTRY_TYPE = "BitstringStatusListEntry"


class CheckFailed(Exception):
    def __init__(self, check: str, reason: str) -> None:
        super().__init__(f"{check}: {reason}")
        self.check = check
        self.reason = reason


@dataclass(frozen=True)
class Credential:
    """What a verified credential says, in either format."""

    type: CredentialType
    format: str
    id: str
    issuer: str
    holder: str
    claims: dict
    valid_from: datetime
    valid_until: datetime | None
    status: StatusRef | None
    document: dict | str  # the LDP JSON object, or the SD-JWT string as issued


@dataclass(frozen=True)
class TrustContext:
    """What the verifying node knows: the moment, whom it trusts, and the status lists it holds.

    `status_bit` answers True (set), False (clear) or None (no list from that issuer here)."""

    now: datetime
    is_trusted_issuer: Callable[[str], bool]
    status_bit: Callable[[StatusRef], bool | None]
    # Told every status reference of a presentation before status_bit is asked about any, so
    # a node can fetch the lists they need at once.
    prefetch: Callable[[list[StatusRef]], None] | None = None


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def _parse_time(value: object, what: str) -> datetime:
    if not isinstance(value, str) or len(value) > 40:
        raise CheckFailed(FORMAT, f"{what} must be an RFC 3339 date-time")
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise CheckFailed(FORMAT, f"{what} {value!r} is not an RFC 3339 date-time") from exc
    if moment.tzinfo is None:
        raise CheckFailed(FORMAT, f"{what} must carry a time zone")
    return moment


def _epoch(value: object, what: str) -> datetime:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < 2**35:
        raise CheckFailed(FORMAT, f"{what} must be a number of seconds since 1970")
    return datetime.fromtimestamp(value, UTC)


def _did(value: object, what: str) -> str:
    try:
        public_key_from_did(value)  # type: ignore[arg-type]
    except InvalidDid as exc:
        raise CheckFailed(FORMAT, f"{what}: {exc}") from exc
    return value  # type: ignore[return-value]


def _check_claims(credential_type: CredentialType, claims: dict) -> None:
    errors = credential_type.claim_errors(claims)
    if errors:
        raise CheckFailed(SCHEMA, f"{credential_type.title}: {'; '.join(errors)}")


# --- issuing -------------------------------------------------------------------------------


def issue(
    *,
    credential_type: CredentialType,
    issuer_key: Ed25519Key,
    holder_did: str,
    claims: dict,
    credential_id: str,
    issued_at: datetime,
    expires_at: datetime | None,
    status: StatusRef | None,
) -> dict | str:
    """The signed credential: an LDP JSON object, or an SD-JWT string for bundled claims."""
    _check_claims(credential_type, claims)
    if credential_type.format == SD_JWT:
        status_claim = None
        if status is not None:
            status_claim = {"growr": {"list": status.list, "index": status.index}}
        return sdjwt.issue_sd_jwt(
            issuer_key=issuer_key,
            holder_did=holder_did,
            vct=credential_type.schema_id,
            claims=claims,
            issued_at=issued_at,
            expires_at=expires_at,
            credential_id=credential_id,
            status=status_claim,
        )
    document: dict = {
        "@context": CREDENTIAL_CONTEXTS,
        "id": credential_id,
        "type": ["VerifiableCredential", credential_type.vc_type],
        "issuer": issuer_key.did,
        "issuanceDate": _iso(issued_at),
        "credentialSchema": {"id": credential_type.schema_id, "type": "JsonSchema"},
        "credentialSubject": {"id": holder_did, **claims},
    }
    if expires_at is not None:
        document["expirationDate"] = _iso(expires_at)
    if status is not None:
        document["credentialStatus"] = {
            "id": f"{status.list_id}#{status.index}",
            "type": STATUS_ENTRY_TYPE,
            "statusPurpose": status.purpose,
            "statusListIndex": str(status.index),
            "statusListCredential": status.list_id,
        }
    return ldp.issue_credential(document, key=issuer_key)


# --- reading -------------------------------------------------------------------------------


def _ldp_status(entry: object, issuer: str) -> StatusRef | None:
    if entry is None:
        return None
    if not isinstance(entry, dict) or entry.get("type") != STATUS_ENTRY_TYPE:
        raise CheckFailed(FORMAT, f"credentialStatus must be a {STATUS_ENTRY_TYPE}")
    try:
        list_issuer, number, purpose = parse_list_id(entry.get("statusListCredential"))
        index = entry.get("statusListIndex")
        if not isinstance(index, str) or not index.isdigit() or len(index) > 7:
            raise ValueError("statusListIndex must be a decimal string")
        if list_issuer != issuer or purpose != entry.get("statusPurpose"):
            raise ValueError("the status list must be the issuer's own, for the stated purpose")
        return StatusRef(issuer, number, int(index), purpose)
    except ValueError as exc:
        raise CheckFailed(FORMAT, f"credentialStatus: {exc}") from exc


def read_ldp(document: object) -> Credential:
    """Shape checks and claims of an LDP credential; its proof is checked by verify_proof."""
    if not isinstance(document, dict):
        raise CheckFailed(FORMAT, "a credential is a JSON object")
    if document.get("@context") != CREDENTIAL_CONTEXTS:
        raise CheckFailed(FORMAT, "the credential's @context is not the Growr credential context")
    vc_types = document.get("type")
    credential_type = None
    if isinstance(vc_types, list) and len(vc_types) == 2 and vc_types[0] == "VerifiableCredential":
        credential_type = TYPES_BY_VC_TYPE.get(vc_types[1])
    if credential_type is None or credential_type.format != LDP:
        raise CheckFailed(FORMAT, f"unknown credential type {vc_types!r}")
    if not isinstance(document.get("proof"), dict):
        raise CheckFailed(SIGNATURE, "the credential has no proof")
    credential_id = document.get("id")
    if not isinstance(credential_id, str) or not 0 < len(credential_id) <= 200:
        raise CheckFailed(FORMAT, "the credential needs an id")
    issuer = _did(document.get("issuer"), "issuer")
    subject = document.get("credentialSubject")
    if not isinstance(subject, dict):
        raise CheckFailed(FORMAT, "credentialSubject must be an object")
    holder = _did(subject.get("id"), "credentialSubject.id")
    claims = {name: value for name, value in subject.items() if name != "id"}
    _check_claims(credential_type, claims)
    expiration = document.get("expirationDate")
    return Credential(
        type=credential_type,
        format=LDP,
        id=credential_id,
        issuer=issuer,
        holder=holder,
        claims=claims,
        valid_from=_parse_time(document.get("issuanceDate"), "issuanceDate"),
        valid_until=None if expiration is None else _parse_time(expiration, "expirationDate"),
        status=_ldp_status(document.get("credentialStatus"), issuer),
        document=document,
    )


def verify_ldp_proof(credential: Credential) -> None:
    errors = ldp.verify_credential_proof(credential.document)  # type: ignore[arg-type]
    if errors:
        raise CheckFailed(SIGNATURE, f"the credential's proof does not verify: {errors[0]}")
    verification_method = credential.document["proof"].get("verificationMethod", "")  # type: ignore[index]
    if not isinstance(verification_method, str) or (
        verification_method.split("#", 1)[0] != credential.issuer
    ):
        raise CheckFailed(SIGNATURE, "the credential is signed by a key that is not its issuer's")


def sd_jwt_status(claim: object, issuer: str) -> StatusRef | None:
    if claim is None:
        return None
    growr = claim.get("growr") if isinstance(claim, dict) else None
    try:
        if not isinstance(growr, dict) or set(growr) != {"list", "index"}:
            raise ValueError("status must be {growr: {list, index}}")
        if not all(type(growr[k]) is int for k in ("list", "index")):
            raise ValueError("status list and index are integers")
        return StatusRef(issuer, growr["list"], growr["index"])
    except ValueError as exc:
        raise CheckFailed(FORMAT, f"status: {exc}") from exc


def read_sd_jwt(
    token: object, *, nonce: str | None = None, audience: str | None = None
) -> Credential:
    """Verify an SD-JWT's signatures (and key binding, with NONCE and AUDIENCE) and read the
    claims it discloses. Claims not disclosed are simply absent."""
    try:
        payload, holder = sdjwt.verify_sd_jwt(token, nonce=nonce, audience=audience)  # type: ignore[arg-type]
    except sdjwt.InvalidSdJwt as exc:
        raise CheckFailed(SIGNATURE, str(exc)) from exc
    credential_type = SD_JWT_VCT.get(payload.get("vct"))
    if credential_type is None:
        raise CheckFailed(FORMAT, f"unknown SD-JWT credential type {payload.get('vct')!r}")
    issuer = _did(payload.get("iss"), "iss")
    credential_id = payload.get("jti")
    if not isinstance(credential_id, str) or not 0 < len(credential_id) <= 200:
        raise CheckFailed(FORMAT, "the SD-JWT needs a jti")
    claims = {k: v for k, v in payload.items() if k in credential_type.claim_names}
    extra = set(payload) - set(credential_type.claim_names) - set(sdjwt.ALWAYS_VISIBLE)
    if extra:
        raise CheckFailed(SCHEMA, f"unexpected claims {', '.join(sorted(extra))}")
    errors = [e for e in credential_type.claim_errors(claims) if "is a required property" not in e]
    if errors:
        raise CheckFailed(SCHEMA, f"{credential_type.title}: {'; '.join(errors)}")
    valid_from = _epoch(payload.get("nbf", payload.get("iat")), "nbf")
    return Credential(
        type=credential_type,
        format=SD_JWT,
        id=credential_id,
        issuer=issuer,
        holder=holder,
        claims=claims,
        valid_from=valid_from,
        valid_until=None if "exp" not in payload else _epoch(payload["exp"], "exp"),
        status=sd_jwt_status(payload.get("status"), issuer),
        document=token,  # type: ignore[arg-type]
    )


def read_any(value: object) -> Credential:
    """A credential as a holder uploads it: an LDP JSON object, or an SD-JWT string."""
    if isinstance(value, str):
        return read_sd_jwt(sdjwt.without_key_binding(value))
    credential = read_ldp(value)
    verify_ldp_proof(credential)
    return credential


# --- trust ---------------------------------------------------------------------------------


def check_trust_validity_status(credential: Credential, context: TrustContext) -> None:
    if not context.is_trusted_issuer(credential.issuer):
        raise CheckFailed(
            ISSUER_TRUST, f"{credential.type.title}: issuer {credential.issuer} is not trusted here"
        )
    if credential.valid_from > context.now:
        raise CheckFailed(
            VALIDITY, f"{credential.type.title} is not valid before {_iso(credential.valid_from)}"
        )
    if credential.valid_until is not None and credential.valid_until <= context.now:
        raise CheckFailed(
            VALIDITY, f"{credential.type.title} expired on {_iso(credential.valid_until)}"
        )
    if credential.status is not None:
        bit = context.status_bit(credential.status)
        if bit is None:
            raise CheckFailed(
                REVOCATION,
                f"{credential.type.title}: this node holds no status list "
                f"{credential.status.list} of its issuer, so it cannot tell whether it is revoked",
            )
        if bit:
            raise CheckFailed(REVOCATION, f"{credential.type.title} has been revoked by its issuer")


def credential_type(slug: str) -> CredentialType:
    try:
        return CREDENTIAL_TYPES[slug]
    except KeyError as exc:
        raise CheckFailed(FORMAT, f"unknown credential type {slug!r}") from exc
