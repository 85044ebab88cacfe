"""Borrowers present credentials for a node's single-use challenge; the node says which check
failed, and keeps only what the request asked for."""

from __future__ import annotations

import copy
import json
import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from apps.identity import credential_services, wallet_services
from apps.identity.models import Challenge, CredentialRecord, PresentationRecord, WalletEvent
from apps.identity.ssi import credentials as vc
from apps.identity.ssi.credential_types import CREDENTIAL_TYPES
from apps.identity.ssi.didkey import Ed25519Key, b64url_encode
from apps.identity.ssi.presentation import build_presentation

from .conftest import KYC_CLAIMS

AGE_AND_NATIONALITY = {"age": ["birthDate"], "kyc": ["nationality"]}


@pytest.fixture
def record_of(issue, amina, wanjiru):
    """Wanjiru's age credential and KYC, issued by Kijani."""
    return {
        "age": issue(amina, wanjiru),
        "kyc": issue(amina, wanjiru, "kyc", KYC_CLAIMS),
    }


def _challenge(user, request=AGE_AND_NATIONALITY) -> Challenge:
    return credential_services.presentation_challenge_issue(user=user, request=request)


def _custodial(holder, challenge, records, disclose=("nationality",)):
    return credential_services.presentation_build_custodial(
        holder=holder,
        nonce=challenge.nonce,
        credential_ids=[r.pk for r in records],
        disclose={r.pk: list(disclose) for r in records if r.format == "sd-jwt"},
    )


def _verify(envelope, user):
    return credential_services.presentation_verify(envelope=envelope, user=user)


def test_wanjiru_proves_age_and_nationality_and_the_node_keeps_only_those(wanjiru, record_of):
    challenge = _challenge(wanjiru)
    envelope = _custodial(wanjiru, challenge, record_of.values())

    outcome = _verify(envelope, wanjiru)

    assert outcome.verified, outcome.reason
    kept = PresentationRecord.objects.get()
    assert kept.disclosed == {"age": {"birthDate": "1990-02-03"}, "kyc": {"nationality": "KE"}}
    assert "Wanjiru" not in json.dumps(kept.disclosed)
    # The holder disclosed only the nationality: the name never reached the verifier.
    assert "Wanjiru" not in json.dumps(envelope) and "Kamau" not in json.dumps(envelope)
    # The node signed for her, and says so in her wallet's history.
    assert WalletEvent.objects.filter(kind="presented", wallet__user=wanjiru).count() == 1


def test_a_reused_challenge_is_refused(wanjiru, record_of):
    challenge = _challenge(wanjiru)
    envelope = _custodial(wanjiru, challenge, record_of.values())
    assert _verify(envelope, wanjiru).verified

    replay = _verify(envelope, wanjiru)

    assert (replay.verified, replay.failed_check) == (False, "challenge")
    assert "used already" in replay.reason
    assert PresentationRecord.objects.count() == 1


def test_otieno_cannot_use_wanjirus_presentation(wanjiru, otieno, record_of):
    challenge = _challenge(wanjiru)
    envelope = _custodial(wanjiru, challenge, record_of.values())

    stolen = _verify(envelope, otieno)

    assert (stolen.verified, stolen.failed_check) == (False, "challenge")
    assert "issued to someone else" in stolen.reason
    # The challenge was not burnt by the attempt: Wanjiru still uses it.
    assert _verify(envelope, wanjiru).verified


def test_a_presentation_for_another_holder_is_refused(wanjiru, otieno, record_of):
    # Otieno asks for a challenge and answers it with a presentation signed by Wanjiru's key.
    challenge = _challenge(otieno)
    wanjiru_key = wallet_services.custodial_key(wallet=wallet_services.wallet_of_user(user=wanjiru))
    envelope = build_presentation(
        holder_key=wanjiru_key,
        ldp_documents=[record_of["age"].document],
        sd_jwt_disclosures=[(record_of["kyc"].document, ["nationality"])],
        challenge=challenge.nonce,
        domain=challenge.domain,
    )

    outcome = _verify(envelope, otieno)

    assert (outcome.verified, outcome.failed_check) == (False, "holder_binding")


def test_an_expired_challenge_is_refused(wanjiru, record_of):
    challenge = _challenge(wanjiru)
    envelope = _custodial(wanjiru, challenge, record_of.values())
    Challenge.objects.filter(pk=challenge.pk).update(expires_at=timezone.now())

    outcome = _verify(envelope, wanjiru)

    assert (outcome.failed_check, outcome.reason) == (
        "challenge",
        "This challenge expired; ask for a new one.",
    )


def test_a_foreign_challenge_is_refused(wanjiru, record_of):
    key = wallet_services.custodial_key(wallet=wallet_services.wallet_of_user(user=wanjiru))
    envelope = build_presentation(
        holder_key=key,
        ldp_documents=[record_of["age"].document],
        sd_jwt_disclosures=[],
        challenge="a-nonce-some-other-verifier-chose",
        domain="other.example",
    )

    outcome = _verify(envelope, wanjiru)

    assert outcome.failed_check == "challenge"
    assert "not issued by this node" in outcome.reason


def test_a_presentation_bound_to_another_domain_is_refused(wanjiru, record_of):
    challenge = _challenge(wanjiru, {"age": ["birthDate"]})
    key = wallet_services.custodial_key(wallet=wallet_services.wallet_of_user(user=wanjiru))
    envelope = build_presentation(
        holder_key=key,
        ldp_documents=[record_of["age"].document],
        sd_jwt_disclosures=[],
        challenge=challenge.nonce,
        domain="phishing.example",
    )

    outcome = _verify(envelope, wanjiru)

    assert outcome.failed_check == "challenge"
    assert "phishing.example" in outcome.reason


def test_a_revoked_credential_is_refused(amina, wanjiru, record_of):
    credential_services.credential_revoke(actor=amina, credential=record_of["age"], reason="")
    challenge = _challenge(wanjiru)

    outcome = _verify(_custodial(wanjiru, challenge, record_of.values()), wanjiru)

    assert (outcome.failed_check, outcome.reason) == (
        "revocation",
        "Age (date of birth) has been revoked by its issuer",
    )


def test_a_tampered_claim_breaks_the_signature(wanjiru, record_of):
    challenge = _challenge(wanjiru, {"age": ["birthDate"]})
    tampered = copy.deepcopy(record_of["age"].document)
    tampered["credentialSubject"]["birthDate"] = "1970-01-01"
    key = wallet_services.custodial_key(wallet=wallet_services.wallet_of_user(user=wanjiru))
    envelope = build_presentation(
        holder_key=key,
        ldp_documents=[tampered],
        sd_jwt_disclosures=[],
        challenge=challenge.nonce,
        domain=challenge.domain,
    )

    outcome = _verify(envelope, wanjiru)

    assert outcome.failed_check == "signature"
    assert "Verification equation was not satisfied" in outcome.reason


def test_a_tampered_sd_jwt_disclosure_is_refused(wanjiru, record_of):
    challenge = _challenge(wanjiru)
    envelope = _custodial(wanjiru, challenge, record_of.values())
    issued, *_disclosures, binding = envelope["sd_jwt"][0].split("~")
    forged = b64url_encode(json.dumps(["salt", "nationality", "US"]).encode())
    envelope["sd_jwt"][0] = "~".join([issued, forged, binding])

    outcome = _verify(envelope, wanjiru)

    assert outcome.failed_check == "signature"


def _record_with(holder, *, issuer_key, issued_at, expires_at) -> CredentialRecord:
    """A credential from an issuer the test controls, put in the record directly."""
    document = vc.issue(
        credential_type=CREDENTIAL_TYPES["age"],
        issuer_key=issuer_key,
        holder_did=wallet_services.wallet_of_user(user=holder).did,
        claims={"birthDate": "1990-02-03"},
        credential_id=f"urn:uuid:{uuid.uuid4()}",
        issued_at=issued_at,
        expires_at=expires_at,
        status=None,
    )
    return CredentialRecord.objects.create(
        holder=holder,
        holder_did=document["credentialSubject"]["id"],
        credential_type="age",
        format="ldp",
        credential_id=document["id"],
        issuer_did=issuer_key.did,
        source="imported",
        document=document,
        claims={"birthDate": "1990-02-03"},
        valid_from=issued_at,
        valid_until=expires_at,
    )


@pytest.mark.parametrize(
    "issued, expires, check, words",
    [
        (-400, -30, "validity", "expired on"),
        (30, None, "validity", "is not valid before"),
    ],
)
def test_credentials_outside_their_validity_are_refused(
    kijani, wanjiru, issued, expires, check, words
):
    org_key = wallet_services.custodial_key(
        wallet=wallet_services.wallet_of_organization(organization=kijani)
    )
    now = timezone.now()
    record = _record_with(
        wanjiru,
        issuer_key=org_key,
        issued_at=now + timedelta(days=issued),
        expires_at=None if expires is None else now + timedelta(days=expires),
    )
    challenge = _challenge(wanjiru, {"age": ["birthDate"]})

    outcome = _verify(_custodial(wanjiru, challenge, [record]), wanjiru)

    assert outcome.failed_check == check and words in outcome.reason


def test_an_untrusted_issuer_is_refused(wanjiru):
    stranger = Ed25519Key.generate()
    now = timezone.now()
    record = _record_with(
        wanjiru, issuer_key=stranger, issued_at=now - timedelta(days=1), expires_at=None
    )
    challenge = _challenge(wanjiru, {"age": ["birthDate"]})

    outcome = _verify(_custodial(wanjiru, challenge, [record]), wanjiru)

    assert outcome.failed_check == "issuer_trust"
    assert stranger.did in outcome.reason


def test_a_presentation_missing_what_the_request_asks_is_refused(wanjiru, record_of):
    challenge = _challenge(wanjiru, {"age": ["birthDate"], "kyc": ["nationality", "given_name"]})

    outcome = _verify(_custodial(wanjiru, challenge, record_of.values()), wanjiru)

    assert outcome.failed_check == "request"
    assert "given_name" in outcome.reason


@pytest.mark.parametrize(
    "envelope",
    [
        None,
        "not an object",
        {},
        {"presentation": 7},
        {"presentation": "a.b.c"},
        {"presentation": "x" * 300_000},
        {"presentation": "eyJhbGciOiJub25lIn0.e30.", "sd_jwt": []},
        {"presentation": "ok", "extra": 1},
    ],
)
def test_malformed_presentations_are_refused_with_a_reason(wanjiru, envelope):
    outcome = _verify(envelope, wanjiru)

    assert not outcome.verified
    assert outcome.failed_check == "format" and outcome.reason
    assert not PresentationRecord.objects.exists()


def test_custodial_signing_is_refused_for_credentials_of_someone_else(wanjiru, otieno, record_of):
    challenge = _challenge(otieno)

    with pytest.raises(Exception, match="your own record"):
        _custodial(otieno, challenge, record_of.values())


def deeply_nested_jws() -> str:
    """A JWS whose payload is JSON nested deeper than Python's parser goes, far under the size
    cap (found by the borrower pages' tests: it used to end in a RecursionError, a 500)."""
    header = b64url_encode(json.dumps({"alg": "EdDSA"}).encode())
    payload = b64url_encode(b"[" * 100_000)
    return f"{header}.{payload}.{b64url_encode(bytes(64))}"


def test_a_deeply_nested_presentation_is_refused_on_its_format(wanjiru):
    outcome = _verify({"presentation": deeply_nested_jws()}, wanjiru)

    assert (outcome.verified, outcome.failed_check) == (False, "format")


def test_a_kyc_credential_presented_alone_verifies(wanjiru, record_of):
    # Its status reference sits in the SD-JWT beside the issuer's decoy digests: it is read from
    # the verified payload, never from the raw one.
    challenge = _challenge(wanjiru, {"kyc": ["nationality"]})

    outcome = _verify(_custodial(wanjiru, challenge, [record_of["kyc"]]), wanjiru)

    assert outcome.verified, f"{outcome.failed_check}: {outcome.reason}"
