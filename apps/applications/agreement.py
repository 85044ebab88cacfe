"""Agreements as canonical documents, signed by both parties, in plain Python: a loan agreement
(the originator and the borrower) and an investment agreement (the originator and an investor of
an invite-only project). The document's `format` says which, and so which roles sign it.

The document is JSON of strings, whole numbers, booleans and nulls only (amounts are decimal
strings), so its canonical form is simply sorted keys, no whitespace, UTF-8: the same bytes as
RFC 8785 (JCS) for such values. Its SHA-256 is the agreement hash. Each party signs a compact
EdDSA JWS over {"agreement": hash, "role": ...} with the key of the DID the document names for
that role (did:key, so the DID alone gives the public key).

A signed agreement file is {"document": …, "signatures": {"originator": jws, "borrower": jws}}
(an investment agreement: "investor" instead of "borrower"); `verify_signed_agreement` checks it
from that file alone. The signatures are the same JWS for both kinds: the hash they sign covers
the document, its format included.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from apps.identity.ssi.didkey import Ed25519Key, InvalidDid, public_key_from_did
from apps.identity.ssi.jose import InvalidJws, parse_jws, sign_jws

FORMAT = "growr/loan-agreement"
INVESTMENT_FORMAT = "growr/investment-agreement"
FORMAT_VERSION = 1
JWS_TYPE = "growr-agreement+jwt"
# Who signs each kind of agreement, in the order signatures are checked and shown.
FORMAT_ROLES = {
    FORMAT: ("originator", "borrower"),
    INVESTMENT_FORMAT: ("originator", "investor"),
}
ROLES = FORMAT_ROLES[FORMAT]  # a loan agreement's
MAX_DOCUMENT_BYTES = 512 * 1024
MAX_DEPTH = 32  # an agreement nests 5 deep; a file nested deeper is refused, not recursed into


class InvalidAgreement(ValueError):
    """A signed agreement file that is malformed or whose signatures do not hold."""


def _check_values(value: object, path: str = "document", depth: int = 0) -> None:
    if depth > MAX_DEPTH:
        raise InvalidAgreement(f"{path}: nested more than {MAX_DEPTH} deep")
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise InvalidAgreement(f"{path}: keys are strings")
            _check_values(item, f"{path}.{key}", depth + 1)
    elif isinstance(value, list):
        for number, item in enumerate(value):
            _check_values(item, f"{path}[{number}]", depth + 1)
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
    except UnicodeEncodeError as exc:  # a lone surrogate ("\ud800") has no UTF-8 form
        raise InvalidAgreement("document: strings are valid Unicode text") from exc


def agreement_hash(document: dict) -> str:
    return hashlib.sha256(canonical_bytes(document)).hexdigest()


def roles_of(document_format: object) -> tuple[str, ...]:
    """The roles that sign an agreement of DOCUMENT_FORMAT."""
    roles = FORMAT_ROLES.get(document_format) if isinstance(document_format, str) else None
    if roles is None:
        raise InvalidAgreement(f"the document is not a {' or '.join(FORMAT_ROLES)}")
    return roles


def sign_agreement(
    *, key: Ed25519Key, document_hash: str, role: str, document_format: str = FORMAT
) -> str:
    """ROLE's signature of the agreement with DOCUMENT_HASH, an agreement of DOCUMENT_FORMAT."""
    roles = FORMAT_ROLES.get(document_format, ())
    if role not in roles:
        raise ValueError(f"role is one of {roles} in a {document_format}")
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


def check_signature(
    *, jws: object, document_hash: str, role: str, did: str, document_format: str = FORMAT
) -> SignatureCheck:
    """Whether JWS is ROLE's signature, by DID, of the agreement of DOCUMENT_FORMAT with
    DOCUMENT_HASH."""

    def refused(reason: str) -> SignatureCheck:
        return SignatureCheck(role, did, False, reason)

    if role not in FORMAT_ROLES.get(document_format, ()):
        return refused(f"a {document_format} has no {role}")
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
    def format(self) -> str:
        return self.document["format"]

    @property
    def roles(self) -> tuple[str, ...]:
        return FORMAT_ROLES[self.format]

    @property
    def fully_signed(self) -> bool:
        return len(self.signatures) == len(self.roles) and all(s.valid for s in self.signatures)


def _party_did(document: dict, role: str) -> str:
    parties = document.get("parties") if isinstance(document, dict) else None
    party = parties.get(role) if isinstance(parties, dict) else None
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
    roles = roles_of(document.get("format") if isinstance(document, dict) else None)
    if not isinstance(signatures, dict) or set(signatures) - set(roles):
        raise InvalidAgreement(f"signatures are given by role: {', '.join(roles)}")
    data = canonical_bytes(document)
    if len(data) > MAX_DOCUMENT_BYTES:
        raise InvalidAgreement("the document is too large")
    document_hash = hashlib.sha256(data).hexdigest()
    if "hash" in signed and signed["hash"] != document_hash:
        raise InvalidAgreement("the file's hash is not the hash of its document")
    checks = []
    for role in roles:
        did = _party_did(document, role)
        if role in signatures:
            checks.append(
                check_signature(
                    jws=signatures[role],
                    document_hash=document_hash,
                    role=role,
                    did=did,
                    document_format=document["format"],
                )
            )
        else:
            checks.append(SignatureCheck(role, did, False, "not signed"))
    return VerifiedAgreement(document, document_hash, tuple(checks))
