"""Loan agreements as canonical documents, signed by both parties, in plain Python.

The document is JSON of strings, whole numbers, booleans and nulls only (amounts are decimal
strings), so its canonical form is simply sorted keys, no whitespace, UTF-8: the same bytes as
RFC 8785 (JCS) for such values. Its SHA-256 is the agreement hash. Each party signs a compact
EdDSA JWS over {"agreement": hash, "role": ...} with the key of the DID the document names for
that role (did:key, so the DID alone gives the public key).

A signed agreement file is {"document": …, "signatures": {"originator": jws, "borrower": jws}};
`verify_signed_agreement` checks it from that file alone.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from apps.identity.ssi.didkey import Ed25519Key, InvalidDid, public_key_from_did
from apps.identity.ssi.jose import InvalidJws, parse_jws, sign_jws

FORMAT = "growr/loan-agreement"
FORMAT_VERSION = 1
JWS_TYPE = "growr-agreement+jwt"
ROLES = ("originator", "borrower")
MAX_DOCUMENT_BYTES = 512 * 1024


class InvalidAgreement(ValueError):
    """A signed agreement file that is malformed or whose signatures do not hold."""


def _check_values(value: object, path: str = "document") -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise InvalidAgreement(f"{path}: keys are strings")
            _check_values(item, f"{path}.{key}")
    elif isinstance(value, list):
        for number, item in enumerate(value):
            _check_values(item, f"{path}[{number}]")
    elif isinstance(value, float):
        raise InvalidAgreement(f"{path}: numbers with a fraction are written as strings")
    elif not (value is None or isinstance(value, str | int | bool)):
        raise InvalidAgreement(f"{path}: not a JSON value")


def canonical_bytes(document: dict) -> bytes:
    _check_values(document)
    text = json.dumps(
        document, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError as exc:  # a lone surrogate, e.g. from a "\ud800" escape
        raise InvalidAgreement("the document holds text that is not valid Unicode") from exc


def agreement_hash(document: dict) -> str:
    return hashlib.sha256(canonical_bytes(document)).hexdigest()


def sign_agreement(*, key: Ed25519Key, document_hash: str, role: str) -> str:
    if role not in ROLES:
        raise ValueError(f"role is one of {ROLES}")
    return sign_jws(
        header={"kid": key.verification_method, "typ": JWS_TYPE},
        payload={"agreement": document_hash, "role": role},
        key=key,
    )


@dataclass(frozen=True)
class SignatureCheck:
    role: str
    did: str
    valid: bool
    reason: str = ""


def check_signature(*, jws: object, document_hash: str, role: str, did: str) -> SignatureCheck:
    """Whether JWS is ROLE's signature, by DID, of the agreement with DOCUMENT_HASH."""

    def refused(reason: str) -> SignatureCheck:
        return SignatureCheck(role, did, False, reason)

    try:
        parsed = parse_jws(jws)
        public_key = public_key_from_did(did)
    except (InvalidJws, InvalidDid) as exc:
        return refused(str(exc))
    kid = parsed.header.get("kid")
    if not isinstance(kid, str) or kid.split("#")[0] != did:
        return refused(f"signed by {kid!r}, not by the {role}'s DID")
    if parsed.payload.get("role") != role:
        return refused(f"the signature is the {parsed.payload.get('role')!r}'s, not the {role}'s")
    if parsed.payload.get("agreement") != document_hash:
        return refused("the signature is for another document")
    if not parsed.verify_with(public_key):
        return refused("the signature does not verify")
    return SignatureCheck(role, did, True)


@dataclass(frozen=True)
class VerifiedAgreement:
    document: dict
    hash: str
    signatures: tuple[SignatureCheck, ...]

    @property
    def fully_signed(self) -> bool:
        return len(self.signatures) == len(ROLES) and all(s.valid for s in self.signatures)


def _party_did(document: dict, role: str) -> str:
    party = document.get("parties", {}).get(role) if isinstance(document, dict) else None
    did = party.get("did") if isinstance(party, dict) else None
    if not isinstance(did, str):
        raise InvalidAgreement(f"the document names no {role} DID")
    return did


def verify_signed_agreement(signed: object) -> VerifiedAgreement:
    """Check a signed agreement file from itself alone: its form, and each party's signature
    against the DID the document names. A missing signature is reported, not an error."""
    if not isinstance(signed, dict) or set(signed) - {"document", "signatures", "hash"}:
        raise InvalidAgreement('an agreement file is {"document": …, "signatures": …}')
    document, signatures = signed.get("document"), signed.get("signatures", {})
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise InvalidAgreement(f"the document is not a {FORMAT}")
    if not isinstance(signatures, dict) or set(signatures) - set(ROLES):
        raise InvalidAgreement(f"signatures are given by role: {', '.join(ROLES)}")
    data = canonical_bytes(document)
    if len(data) > MAX_DOCUMENT_BYTES:
        raise InvalidAgreement("the document is too large")
    document_hash = hashlib.sha256(data).hexdigest()
    if "hash" in signed and signed["hash"] != document_hash:
        raise InvalidAgreement("the file's hash is not the hash of its document")
    checks = []
    for role in ROLES:
        did = _party_did(document, role)
        if role in signatures:
            checks.append(
                check_signature(
                    jws=signatures[role], document_hash=document_hash, role=role, did=did
                )
            )
        else:
            checks.append(SignatureCheck(role, did, False, "not signed"))
    return VerifiedAgreement(document, document_hash, tuple(checks))
