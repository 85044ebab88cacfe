"""Proof of control of a DID: a compact EdDSA JWS by the DID's own key over a verifier's
challenge, so a node can move an account to a key it has never held."""

from __future__ import annotations

from .didkey import Ed25519Key, InvalidDid, public_key_from_did
from .jose import InvalidJws, parse_jws, sign_jws

PURPOSE = "did_control"


class InvalidProof(ValueError):
    """A proof that is malformed, signed by another key, or meant for another verifier."""


def sign_proof(*, key: Ed25519Key, nonce: str, domain: str) -> str:
    return sign_jws(
        header={"kid": key.verification_method},
        payload={"iss": key.did, "aud": domain, "nonce": nonce, "purpose": PURPOSE},
        key=key,
    )


def read_proof(proof: str, *, domain: str) -> tuple[str, str]:
    """The DID that signed PROOF and the challenge it answers, once every check passed."""
    try:
        parsed = parse_jws(proof)
        did = parsed.payload.get("iss")
        public_key = public_key_from_did(did)
    except (InvalidJws, InvalidDid) as exc:
        raise InvalidProof(str(exc)) from exc
    kid = parsed.header.get("kid")
    if not isinstance(kid, str) or kid.split("#", 1)[0] != did:
        raise InvalidProof("The proof's key id (kid) must be a key of its DID.")
    if parsed.payload.get("purpose") != PURPOSE:
        raise InvalidProof(f"The proof must say purpose: {PURPOSE}.")
    if parsed.payload.get("aud") != domain:
        raise InvalidProof(f"The proof must be meant for {domain}.")
    if not parsed.verify_with(public_key):
        raise InvalidProof("The signature does not verify with the DID's key.")
    nonce = parsed.payload.get("nonce")
    if not isinstance(nonce, str):
        raise InvalidProof("The proof answers no challenge (nonce).")
    return did, nonce
