"""The identity API: staff issue and revoke, borrowers read their record, import, move to
self-custody and present; every refusal says why."""

from __future__ import annotations

import io
import json

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from apps.identity.models import CredentialRecord, PresentationRecord, TrustedIssuer, Wallet
from apps.identity.ssi import did_control
from apps.identity.ssi.didkey import Ed25519Key
from apps.identity.ssi.presentation import build_presentation

from .conftest import KYC_CLAIMS


@pytest.fixture
def as_():
    def client_for(person):
        client = APIClient()
        client.force_authenticate(person)
        return client

    return client_for


def _issue(client, email, credential_type="age", claims=None):
    return client.post(
        reverse("api-staff-credentials"),
        {
            "holder_email": email,
            "credential_type": credential_type,
            "claims": claims or {"birthDate": "1990-02-03"},
        },
        format="json",
    )


def test_juma_issues_and_wanjiru_sees_it_in_her_record(as_, juma, wanjiru):
    issued = _issue(as_(juma), wanjiru.email)
    assert issued.status_code == 201, issued.content

    record = as_(wanjiru).get(reverse("api-credentials")).json()

    [entry] = record
    assert entry["state"] == "valid" and entry["issuer_name"] == "Kijani Microfinance"
    assert entry["credential"]["claims"] == {"birthDate": "1990-02-03"}
    assert entry["document"]["proof"]["type"] == "Ed25519Signature2020"


def test_issuing_is_for_staff_and_to_known_borrowers(as_, amina, wanjiru, ines):
    assert _issue(as_(wanjiru), wanjiru.email).status_code == 403
    unknown = _issue(as_(amina), "nobody@example.org")
    assert unknown.status_code == 400
    assert unknown.json()["error"]["fields"]["holder_email"] == ["No account with this e-mail."]
    bad_claims = _issue(as_(amina), wanjiru.email, "citizenship", {"citizenship": "Kenya"})
    assert bad_claims.status_code == 400
    assert "'Kenya' is not a known code" in json.dumps(bad_claims.json())
    assert not CredentialRecord.objects.exists()


def test_only_admins_revoke(as_, amina, juma, wanjiru):
    pk = _issue(as_(juma), wanjiru.email).json()["id"]
    url = reverse("api-staff-credential-revoke", args=[pk])

    assert as_(juma).post(url, {"reason": "x"}, format="json").status_code == 403
    revoked = as_(amina).post(url, {"reason": "ID forged"}, format="json")

    assert revoked.status_code == 200 and revoked.json()["revoked_at"]
    assert as_(wanjiru).get(reverse("api-credentials")).json()[0]["state"] == "revoked"


def test_bulk_csv_reports_every_wrong_row(as_, amina, wanjiru):
    csv = f"email,type,birthDate\n{wanjiru.email},age,1990-02-03\nx@y.z,age,2000-01-01\n"
    upload = io.BytesIO(csv.encode())
    upload.name = "people.csv"

    refused = as_(amina).post(reverse("api-staff-credentials-bulk"), {"file": upload})

    assert refused.status_code == 400
    assert refused.json()["error"]["fields"]["file"] == [
        "Row 3: email: No account with this e-mail address."
    ]
    assert not CredentialRecord.objects.exists()


def test_a_borrower_moves_to_self_custody_and_presents_with_her_own_key(as_, amina, wanjiru):
    client = as_(wanjiru)
    key = Ed25519Key.generate()
    challenge = client.post(reverse("api-wallet-challenge")).json()
    proof = did_control.sign_proof(key=key, nonce=challenge["nonce"], domain=challenge["domain"])

    moved = client.post(reverse("api-wallet-self-custody"), {"proof": proof}, format="json")

    assert moved.status_code == 200, moved.content
    assert moved.json()["did"] == key.did and moved.json()["custody"] == "self"
    assert Wallet.objects.get(user=wanjiru).sealed_key is None
    # Credentials now go to her own DID; she presents them signing herself.
    _issue(as_(amina), wanjiru.email)
    _issue(as_(amina), wanjiru.email, "kyc", KYC_CLAIMS)
    documents = {
        e["credential"]["credential_type"]: e["document"]
        for e in client.get(reverse("api-credentials")).json()
    }
    asked = client.post(
        reverse("api-presentation-challenge"),
        {"request": {"age": ["birthDate"], "kyc": ["nationality"]}},
        format="json",
    ).json()
    envelope = build_presentation(
        holder_key=key,
        ldp_documents=[documents["age"]],
        sd_jwt_disclosures=[(documents["kyc"], ["nationality"])],
        challenge=asked["nonce"],
        domain=asked["domain"],
    )

    result = client.post(reverse("api-presentations"), {"presentation": envelope}, format="json")

    assert result.status_code == 200, result.content
    assert result.json()["disclosed"] == {
        "age": {"birthDate": "1990-02-03"},
        "kyc": {"nationality": "KE"},
    }
    # The node no longer signs for her.
    custodial = client.post(
        reverse("api-presentation-custodial"),
        {"nonce": asked["nonce"], "credentials": [1]},
        format="json",
    )
    assert custodial.status_code == 403


def test_a_self_custody_proof_for_another_challenge_or_node_is_refused(as_, wanjiru, otieno):
    key = Ed25519Key.generate()
    otienos = as_(otieno).post(reverse("api-wallet-challenge")).json()
    mine = as_(wanjiru).post(reverse("api-wallet-challenge")).json()

    def proof(nonce, aud):
        return did_control.sign_proof(key=key, nonce=nonce, domain=aud)

    for bad, words in [
        (proof(otienos["nonce"], otienos["domain"]), "issued to someone else"),
        (proof(mine["nonce"], "evil.example"), "must be meant for"),
        (proof("made-up", mine["domain"]), "not issued by this node"),
        ("not.a.jws", "not base64url JSON"),
    ]:
        answer = as_(wanjiru).post(
            reverse("api-wallet-self-custody"), {"proof": bad}, format="json"
        )
        assert answer.status_code == 400 and words in json.dumps(answer.json()), answer.json()
    assert not Wallet.objects.filter(user=wanjiru, custody="self").exists()


def test_exporting_the_key_needs_the_password(as_, wanjiru):
    client = as_(wanjiru)
    did = client.get(reverse("api-wallet")).json()["did"]

    wrong = client.post(reverse("api-wallet-export"), {"password": "guess"}, format="json")
    right = client.post(
        reverse("api-wallet-export"), {"password": "correct horse battery staple"}, format="json"
    )

    assert wrong.status_code == 400
    assert right.status_code == 200 and Ed25519Key.from_jwk(right.json()).did == did
    events = [e["kind"] for e in client.get(reverse("api-wallet")).json()["events"]]
    assert events == ["key_exported", "export_refused", "created"]


def test_importing_a_credential_from_a_trusted_outside_issuer(as_, ngozi, wanjiru):
    from datetime import timedelta

    from django.utils import timezone

    from apps.identity.ssi import credentials as vc
    from apps.identity.ssi.credential_types import CREDENTIAL_TYPES

    coop = Ed25519Key.generate()
    holder_did = as_(wanjiru).get(reverse("api-wallet")).json()["did"]
    document = vc.issue(
        credential_type=CREDENTIAL_TYPES["cooperative_membership"],
        issuer_key=coop,
        holder_did=holder_did,
        claims={"cooperative": "Nakuru Dairy SACCO", "memberSince": "2019-05-01"},
        credential_id="urn:uuid:0b7c8a52-0f3a-4b61-9a3e-1d2f3c4b5a69",
        issued_at=timezone.now() - timedelta(days=3),
        expires_at=None,
        status=None,
    )
    url = reverse("api-credential-import")

    untrusted = as_(wanjiru).post(url, {"credential": document}, format="json")
    assert untrusted.status_code == 400
    assert "issuer_trust" in json.dumps(untrusted.json())

    added = as_(ngozi).post(
        reverse("api-trusted-issuers"),
        {"did": coop.did, "label": "Nakuru Dairy SACCO"},
        format="json",
    )
    assert added.status_code == 201
    imported = as_(wanjiru).post(url, {"credential": document}, format="json")
    assert imported.status_code == 201, imported.content
    again = as_(wanjiru).post(url, {"credential": document}, format="json")
    assert again.status_code == 400 and "already" in json.dumps(again.json())


def test_only_the_node_operator_edits_the_trusted_issuers(as_, amina, ngozi):
    did = Ed25519Key.generate().did
    refused = as_(amina).post(
        reverse("api-trusted-issuers"), {"did": did, "label": "x"}, format="json"
    )
    assert refused.status_code == 403
    assert (
        as_(ngozi)
        .post(reverse("api-trusted-issuers"), {"did": "did:web:x", "label": "x"}, format="json")
        .status_code
        == 400
    )
    assert not TrustedIssuer.objects.exists()


@pytest.mark.parametrize(
    "body, content_type",
    [
        (b"{not json", "application/json"),
        (json.dumps({"credential": "x" * 70_000}).encode(), "application/json"),
        (json.dumps({"credential": {"@context": "nope"}}).encode(), "application/json"),
        (json.dumps({"credential": 17}).encode(), "application/json"),
    ],
)
def test_bad_imports_are_refused_and_store_nothing(as_, wanjiru, body, content_type):
    answer = as_(wanjiru).post(reverse("api-credential-import"), body, content_type=content_type)

    assert answer.status_code == 400
    assert answer.json()["error"]["message"]
    assert not CredentialRecord.objects.exists()


def test_a_refused_presentation_names_the_failed_check(as_, wanjiru):
    answer = as_(wanjiru).post(
        reverse("api-presentations"), {"presentation": {"presentation": "a.b.c"}}, format="json"
    )

    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "format"
    assert not PresentationRecord.objects.exists()


def test_credential_types_are_public_with_their_schemas(db):
    types = APIClient().get(reverse("api-credential-types")).json()

    assert [t["slug"] for t in types] == [
        "age",
        "citizenship",
        "kyc",
        "monthly_income",
        "land_size",
        "cooperative_membership",
        "repayment_history",
    ]
    assert types[2]["format"] == "sd-jwt"


@pytest.mark.parametrize(
    "url_name", ["api-credential-import", "api-presentations", "api-wallet-self-custody"]
)
def test_json_nested_too_deeply_is_a_clear_400(as_, wanjiru, url_name):
    answer = as_(wanjiru).post(reverse(url_name), b"[" * 50_000, content_type="application/json")

    assert answer.status_code == 400
    assert "nested too deeply" in answer.json()["error"]["message"]


def test_a_jws_nested_too_deeply_is_refused_on_its_format(as_, wanjiru):
    from apps.identity.ssi.didkey import b64url_encode

    header = b64url_encode(b'{"alg": "EdDSA"}')
    token = f"{header}.{b64url_encode(b'[' * 100_000)}.{b64url_encode(bytes(64))}"

    answer = as_(wanjiru).post(
        reverse("api-presentations"), {"presentation": {"presentation": token}}, format="json"
    )

    assert answer.status_code == 400 and answer.json()["error"]["code"] == "format"


def test_the_node_profile_names_whom_the_node_trusts(as_, ngozi, kijani, settings):
    from apps.identity.wallet_services import wallet_of_organization
    from apps.ledger.entries import decode_entry
    from apps.ledger.models import Book, OutboxEntry
    from apps.node.tasks import node_profile_sync_task

    kijani_did = wallet_of_organization(organization=kijani).did
    settings.GROWR_TRUSTED_ISSUERS = [Ed25519Key.generate().did]
    coop = Ed25519Key.generate().did
    as_(ngozi).post(reverse("api-trusted-issuers"), {"did": coop, "label": "SACCO"}, format="json")

    node_profile_sync_task()

    profile = OutboxEntry.objects.filter(book=Book.NODE_PROFILE).latest("id")
    trusted = decode_entry(bytes(profile.data))["value"]["trusted_issuers"]
    assert set(trusted) == {kijani_did, coop, *settings.GROWR_TRUSTED_ISSUERS}


def test_the_schema_builds_without_warnings(tmp_path):
    from django.core.management import call_command

    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "s.yml"))


def test_answers_have_the_shapes_the_openapi_schema_documents(as_, amina, wanjiru):
    from tests.openapi import schema_errors

    staff, borrower = as_(amina), as_(wanjiru)
    issued = _issue(staff, wanjiru.email)
    _issue(staff, wanjiru.email, "kyc", KYC_CLAIMS)
    asked = borrower.post(
        reverse("api-presentation-challenge"), {"request": {"age": ["birthDate"]}}, format="json"
    )
    envelope = borrower.post(
        reverse("api-presentation-custodial"),
        {"nonce": asked.json()["nonce"], "credentials": [issued.json()["id"]]},
        format="json",
    ).json()
    verified = borrower.post(
        reverse("api-presentations"), {"presentation": envelope}, format="json"
    )
    refused = borrower.post(reverse("api-presentations"), {"presentation": envelope}, format="json")
    answers = [
        ("/api/staff/credentials/", "post", issued),
        ("/api/staff/credentials/", "get", staff.get(reverse("api-staff-credentials"))),
        ("/api/credentials/", "get", borrower.get(reverse("api-credentials"))),
        ("/api/wallet/", "get", borrower.get(reverse("api-wallet"))),
        ("/api/credential-types/", "get", borrower.get(reverse("api-credential-types"))),
        ("/api/presentations/challenges/", "post", asked),
        ("/api/presentations/", "post", verified),
        ("/api/presentations/", "post", refused),
    ]
    assert [a.status_code for _, _, a in answers] == [201, 200, 200, 200, 200, 201, 200, 400]
    for path, method, answer in answers:
        assert schema_errors(borrower, path, answer, method) == [], (path, answer.json())


def test_export_waits_after_five_wrong_passwords_and_the_holder_sees_each(as_, wanjiru):
    client = as_(wanjiru)
    url = reverse("api-wallet-export")
    for _ in range(5):
        assert client.post(url, {"password": "guess"}, format="json").status_code == 400

    right = client.post(url, {"password": "correct horse battery staple"}, format="json")

    assert right.status_code == 400
    assert "Too many wrong passwords" in json.dumps(right.json())
    events = [e["kind"] for e in client.get(reverse("api-wallet")).json()["events"]]
    assert events.count("export_refused") == 5 and "key_exported" not in events
