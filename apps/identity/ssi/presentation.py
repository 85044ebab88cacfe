"""Presentations: a holder proves, for one verifier's single-use challenge, that trusted issuers
said these things about them, showing only the claims asked for.

A Growr presentation is a JSON envelope:

    {"presentation": "<JWT VP: iss = holder DID, nonce = challenge, aud = domain,
                       vp.verifiableCredential = LDP credentials>",
     "sd_jwt": ["<SD-JWT with only the chosen disclosures>~<key-binding JWT: same nonce, aud>"]}

Browsers (WebCrypto) and the command-line wallet build it with nothing but Ed25519 and SHA-256.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from . import ldp, sdjwt
from .credential_types import CREDENTIAL_TYPES, CREDENTIALS_V1_CONTEXT
from .credentials import (
    CHALLENGE,
    FORMAT,
    HOLDER_BINDING,
    REQUEST,
    SIGNATURE,
    CheckFailed,
    Credential,
    TrustContext,
    check_trust_validity_status,
    read_ldp,
    read_sd_jwt,
    verify_ldp_proof,
)
from .didkey import Ed25519Key
from .jose import InvalidJws, ParsedJws, parse_jws, sign_jws

MAX_CREDENTIALS = 10
ENVELOPE_KEYS = frozenset({"presentation", "sd_jwt"})


@dataclass(frozen=True)
class VerifiedPresentation:
    holder: str
    credentials: tuple[Credential, ...]

    def disclosed(self, request: Mapping[str, Iterable[str]]) -> dict[str, dict]:
        """Only the claims the request asked for, by credential type: what a node keeps."""
        kept: dict[str, dict] = {}
        for credential in self.credentials:
            wanted = request.get(credential.type.slug)
            if wanted is not None:
                kept[credential.type.slug] = {
                    name: credential.claims[name] for name in wanted if name in credential.claims
                }
        return kept


def validate_request(request: object) -> dict[str, list[str]]:
    """A presentation request: {credential type: [claim names]}, at most one entry per type."""
    if not isinstance(request, dict) or not 0 < len(request) <= MAX_CREDENTIALS:
        raise ValueError(f"a request names 1 to {MAX_CREDENTIALS} credential types")
    cleaned = {}
    for slug, claims in request.items():
        credential_type = CREDENTIAL_TYPES.get(slug)
        if credential_type is None:
            raise ValueError(f"unknown credential type {slug!r}")
        if not isinstance(claims, list) or not claims:
            raise ValueError(f"{slug}: list the claims wanted")
        unknown = [c for c in claims if c not in credential_type.claim_names]
        if unknown:
            raise ValueError(f"{slug} has no claim {unknown[0]!r}")
        cleaned[slug] = sorted(set(claims))
    return cleaned


@dataclass(frozen=True)
class _Envelope:
    vp: ParsedJws
    token: str
    ldp_documents: list
    sd_jwts: list[str]


def _parse_envelope(envelope: object) -> _Envelope:
    if not isinstance(envelope, dict) or not set(envelope) <= ENVELOPE_KEYS:
        raise CheckFailed(FORMAT, 'a presentation is {"presentation": "<JWT>", "sd_jwt": [...]}')
    token = envelope.get("presentation")
    try:
        vp = parse_jws(token)  # type: ignore[arg-type]
    except InvalidJws as exc:
        raise CheckFailed(FORMAT, f"presentation: {exc}") from exc
    body = vp.payload.get("vp")
    if not isinstance(body, dict) or "VerifiablePresentation" not in (body.get("type") or []):
        raise CheckFailed(FORMAT, "the JWT carries no verifiable presentation (vp)")
    documents = body.get("verifiableCredential", [])
    documents = documents if isinstance(documents, list) else [documents]
    sd_jwts = envelope.get("sd_jwt", [])
    if not isinstance(sd_jwts, list) or not all(isinstance(t, str) for t in sd_jwts):
        raise CheckFailed(FORMAT, "sd_jwt is a list of SD-JWT strings")
    if not 0 < len(documents) + len(sd_jwts) <= MAX_CREDENTIALS:
        raise CheckFailed(FORMAT, f"a presentation carries 1 to {MAX_CREDENTIALS} credentials")
    return _Envelope(vp, token, documents, sd_jwts)  # type: ignore[arg-type]


def presentation_nonce(envelope: object) -> str:
    """The challenge a presentation claims to answer, read before anything is verified, so the
    verifier can find it; verify_presentation then checks the signature over it."""
    nonce = _parse_envelope(envelope).vp.payload.get("nonce")
    if not isinstance(nonce, str) or not 0 < len(nonce) <= 200:
        raise CheckFailed(CHALLENGE, "the presentation answers no challenge (nonce)")
    return nonce


def _check_holder(parsed: _Envelope, credentials: list[Credential]) -> str:
    holder = parsed.vp.payload.get("iss")
    body = parsed.vp.payload["vp"]
    kid = parsed.vp.header.get("kid")
    if body.get("holder", holder) != holder or not isinstance(kid, str):
        raise CheckFailed(HOLDER_BINDING, "the presentation's holder is not its signer")
    if kid.split("#", 1)[0] != holder:
        raise CheckFailed(HOLDER_BINDING, "the presentation is signed by a key not the holder's")
    for credential in credentials:
        if credential.holder != holder:
            raise CheckFailed(
                HOLDER_BINDING,
                f"{credential.type.title} was issued to another holder, not to {holder}",
            )
    return holder


def _check_request(credentials: list[Credential], request: Mapping[str, Iterable[str]]) -> None:
    by_type: dict[str, Credential] = {}
    for credential in credentials:
        if credential.type.slug in by_type:
            raise CheckFailed(REQUEST, f"two {credential.type.title} credentials; present one")
        by_type[credential.type.slug] = credential
    for slug, claims in request.items():
        credential = by_type.get(slug)
        title = CREDENTIAL_TYPES[slug].title
        if credential is None:
            raise CheckFailed(REQUEST, f"the request asks for a {title} credential")
        missing = [c for c in claims if c not in credential.claims]
        if missing:
            raise CheckFailed(REQUEST, f"{title}: the request asks for {', '.join(missing)}")


def verify_presentation(
    envelope: object,
    *,
    challenge: str,
    domain: str,
    context: TrustContext,
    request: Mapping[str, Iterable[str]] | None = None,
) -> VerifiedPresentation:
    """Every check, in order: format, challenge, signature, holder binding, schema, issuer
    trust, validity, revocation, request. Raises CheckFailed at the first that fails."""
    parsed = _parse_envelope(envelope)
    if parsed.vp.payload.get("nonce") != challenge:
        raise CheckFailed(CHALLENGE, "the presentation answers another challenge")
    if parsed.vp.payload.get("aud") != domain:
        audience = parsed.vp.payload.get("aud")
        raise CheckFailed(CHALLENGE, f"the presentation is meant for {audience!r}, not {domain}")
    errors = ldp.verify_presentation_jwt(parsed.token, challenge=challenge, domain=domain)
    if errors:
        raise CheckFailed(SIGNATURE, f"the presentation's signature does not verify: {errors[0]}")
    credentials = [read_ldp(document) for document in parsed.ldp_documents]
    for credential in credentials:
        verify_ldp_proof(credential)
    credentials += [read_sd_jwt(t, nonce=challenge, audience=domain) for t in parsed.sd_jwts]
    holder = _check_holder(parsed, credentials)
    if context.prefetch is not None:
        context.prefetch([c.status for c in credentials if c.status is not None])
    for credential in credentials:
        check_trust_validity_status(credential, context)
    if request is not None:
        _check_request(credentials, request)
    return VerifiedPresentation(holder, tuple(credentials))


def build_presentation(
    *,
    holder_key: Ed25519Key,
    ldp_documents: Iterable[dict],
    sd_jwt_disclosures: Iterable[tuple[str, Iterable[str]]],
    challenge: str,
    domain: str,
) -> dict:
    """The envelope a wallet sends: LDP credentials whole, each SD-JWT with only the chosen
    claims, all bound to the challenge by the holder's key."""
    body = {
        "@context": [CREDENTIALS_V1_CONTEXT],
        "type": ["VerifiablePresentation"],
        "holder": holder_key.did,
        "verifiableCredential": list(ldp_documents),
    }
    token = sign_jws(
        header={"kid": holder_key.verification_method},
        payload={"iss": holder_key.did, "aud": domain, "nonce": challenge, "vp": body},
        key=holder_key,
    )
    sd_jwts = [
        sdjwt.present_sd_jwt(
            issuance=issuance,
            disclose=claims,
            holder_key=holder_key,
            nonce=challenge,
            audience=domain,
        )
        for issuance, claims in sd_jwt_disclosures
    ]
    return {"presentation": token, "sd_jwt": sd_jwts}
