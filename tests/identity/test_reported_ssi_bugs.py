"""Bugs found in the identity core while building the borrower's pages, reported rather than
worked around. Each test states the behaviour that should hold and fails today (strict xfail:
once the bug is fixed, the test passes and its marker has to go)."""

from __future__ import annotations

import json

import pytest

from apps.identity import credential_services, wallet_services
from apps.identity.ssi.didkey import b64url_encode
from apps.identity.ssi.jose import InvalidJws, parse_jws
from apps.identity.ssi.presentation import build_presentation, credential_status_refs
from apps.identity.ssi.statuslist import StatusRef

from .conftest import KYC_CLAIMS

STATUS_REFS_OF_SD_JWT = (
    "ssi/presentation.py credential_status_refs reads an SD-JWT's status from the raw issuer "
    "payload, where the issuer's decoy digests (_sd) sit inside status.growr, so sd_jwt_status "
    "refuses it and the ref is silently dropped: an SD-JWT whose list is not also named by an "
    "LDP credential in the same presentation fails the revocation check ('holds no status list')"
)
NESTED_JSON = (
    "ssi/jose.py _json_segment catches ValueError only: a JWS whose payload is deeply nested "
    "JSON (well under MAX_JWT_BYTES) raises RecursionError out of parse_jws, so "
    "presentation_verify and did_control_proof_check end in a 500 instead of a format refusal"
)


def _deeply_nested_jws() -> str:
    header = b64url_encode(json.dumps({"alg": "EdDSA"}).encode())
    payload = b64url_encode(b"[" * 100_000)
    return f"{header}.{payload}.{b64url_encode(bytes(64))}"


@pytest.mark.xfail(strict=True, reason=STATUS_REFS_OF_SD_JWT)
def test_the_status_ref_of_an_sd_jwt_is_found_before_verifying(issue, amina, wanjiru):
    kyc = issue(amina, wanjiru, "kyc", KYC_CLAIMS)
    key = wallet_services.custodial_key(wallet=wallet_services.wallet_of_user(user=wanjiru))
    envelope = build_presentation(
        holder_key=key,
        ldp_documents=[],
        sd_jwt_disclosures=[(kyc.document, ["nationality"])],
        challenge="nonce",
        domain="node.example",
    )

    refs = credential_status_refs(envelope)

    assert refs == [StatusRef(kyc.issuer_did, kyc.status_list_number, kyc.status_index)]


@pytest.mark.xfail(strict=True, reason=STATUS_REFS_OF_SD_JWT)
def test_a_kyc_credential_presented_alone_verifies(issue, amina, wanjiru):
    kyc = issue(amina, wanjiru, "kyc", KYC_CLAIMS)
    challenge = credential_services.presentation_challenge_issue(
        user=wanjiru, request={"kyc": ["nationality"]}
    )
    envelope = credential_services.presentation_build_custodial(
        holder=wanjiru,
        nonce=challenge.nonce,
        credential_ids=[kyc.pk],
        disclose={kyc.pk: ["nationality"]},
    )

    outcome = credential_services.presentation_verify(envelope=envelope, user=wanjiru)

    assert outcome.verified, f"{outcome.failed_check}: {outcome.reason}"


@pytest.mark.xfail(strict=True, reason=NESTED_JSON)
def test_a_deeply_nested_jws_is_an_invalid_jws():
    with pytest.raises(InvalidJws):
        parse_jws(_deeply_nested_jws())


@pytest.mark.xfail(strict=True, reason=NESTED_JSON)
def test_a_deeply_nested_presentation_is_refused_on_its_format(wanjiru):
    outcome = credential_services.presentation_verify(
        envelope={"presentation": _deeply_nested_jws()}, user=wanjiru
    )

    assert (outcome.verified, outcome.failed_check) == (False, "format")
