"""Wanjiru's credit record and wallet pages: her credentials and their states, downloads, imports
checked by the node, key export, the move to self-custody and presenting to this node."""

from __future__ import annotations

import copy
import json
import uuid
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from apps.identity import credential_services, wallet_services
from apps.identity.credential_selectors import node_domain
from apps.identity.forms_wallet import CredentialImportForm
from apps.identity.models import (
    Challenge,
    CredentialRecord,
    PresentationRecord,
    TrustedIssuer,
    Wallet,
    WalletEvent,
)
from apps.identity.ssi import credentials as vc
from apps.identity.ssi import did_control
from apps.identity.ssi.credential_types import CREDENTIAL_TYPES
from apps.identity.ssi.didkey import Ed25519Key
from apps.identity.ssi.presentation import build_presentation
from apps.identity.ssi.statuslist import StatusRef
from tests.factories import PASSWORD
from tests.queries import page_queries

from .conftest import KYC_CLAIMS
from .test_presentations import deeply_nested_jws

CREDENTIALS = reverse("borrow:credentials")
IMPORT = reverse("borrow:credential-import")
PRESENT = reverse("borrow:present")
PRESENT_VERIFY = reverse("borrow:present-verify")
WALLET = reverse("borrow:wallet")
EXPORT = reverse("borrow:wallet-export")
SELF_CUSTODY = reverse("borrow:wallet-self-custody")
CHALLENGE = reverse("borrow:wallet-challenge")
REGISTER = reverse("borrow:wallet-self-custody-register")
RECORD_DOWNLOAD = reverse("borrow:credentials-download")


def _download_url(record) -> str:
    return reverse("borrow:credential-download", args=[record.pk])


@pytest.fixture
def as_wanjiru(client, wanjiru):
    client.force_login(wanjiru)
    return client


@pytest.fixture
def outside_issuer(db):
    """An issuer on another node whom this node's operator trusts."""
    key = Ed25519Key.generate()
    TrustedIssuer.objects.create(did=key.did, label="Rift Valley SACCO")
    return key


def _did_of(user) -> str:
    return wallet_services.wallet_of_user(user=user).did


def _outside_credential(
    issuer_key, holder_did, slug="age", claims=None, *, issued_at=None, expires_at=None, status=None
):
    return vc.issue(
        credential_type=CREDENTIAL_TYPES[slug],
        issuer_key=issuer_key,
        holder_did=holder_did,
        claims=claims or {"birthDate": "1990-02-03"},
        credential_id=f"urn:uuid:{uuid.uuid4()}",
        issued_at=issued_at or timezone.now() - timedelta(days=1),
        expires_at=expires_at,
        status=status,
    )


def _store(holder, document, issuer_key) -> CredentialRecord:
    """A credential put in the record directly, bypassing the import checks (for states the
    import would refuse: expired, not yet valid, unknown status)."""
    parsed = vc.read_any(document)
    return CredentialRecord.objects.create(
        holder=holder,
        holder_did=parsed.holder,
        credential_type=parsed.type.slug,
        format=parsed.format,
        credential_id=parsed.id,
        issuer_did=issuer_key.did,
        source="imported",
        document=document,
        claims=parsed.claims,
        valid_from=parsed.valid_from,
        valid_until=parsed.valid_until,
        status_list_number=parsed.status.list if parsed.status else None,
        status_index=parsed.status.index if parsed.status else None,
    )


# --- the record -----------------------------------------------------------------------------


def test_the_record_lists_every_credential_with_its_state(
    as_wanjiru, issue, amina, wanjiru, outside_issuer
):
    issue(amina, wanjiru)
    issue(amina, wanjiru, "kyc", KYC_CLAIMS)
    revoked = issue(amina, wanjiru, "citizenship", {"citizenship": "KE"})
    credential_services.credential_revoke(actor=amina, credential=revoked, reason="wrong country")
    did, now = _did_of(wanjiru), timezone.now()
    _store(
        wanjiru,
        _outside_credential(
            outside_issuer,
            did,
            "land_size",
            {"landSizeHectares": "2.5"},
            issued_at=now - timedelta(days=400),
            expires_at=now - timedelta(days=10),
        ),
        outside_issuer,
    )
    _store(
        wanjiru,
        _outside_credential(
            outside_issuer,
            did,
            "cooperative_membership",
            {"cooperative": "Nakuru Dairy", "memberSince": "2019-05-01"},
            issued_at=now + timedelta(days=3),
        ),
        outside_issuer,
    )
    _store(
        wanjiru,
        _outside_credential(
            outside_issuer,
            did,
            "monthly_income",
            {"monthlyIncome": {"amount": "25000", "currency": "KES"}},
            status=StatusRef(outside_issuer.did, 0, 7),
        ),
        outside_issuer,
    )

    page = as_wanjiru.get(CREDENTIALS).content.decode()

    for state, label in [
        ("valid", "Valid"),
        ("revoked", "Revoked"),
        ("expired", "Expired"),
        ("not_yet_valid", "Not yet valid"),
        ("status_unknown", "Status unknown"),
    ]:
        assert f'data-state="{state}">{label}</span>' in page, state
    assert page.count('data-state="valid"') == 2
    for text in [
        "Age (date of birth)",
        "KYC (identity check)",
        "Kijani Microfinance",
        "Rift Valley SACCO",
        "1990-02-03",
        "Plot 12, Nakuru",
        "25000 KES",
        "Land size (hectares)",
        "Imported by you",
        "Issued on this node",
        "wrong country",
        did,
    ]:
        assert text in page, text


def test_the_record_costs_the_same_queries_for_2_or_12_credentials(
    as_wanjiru, issue, amina, wanjiru, outside_issuer
):
    for _ in range(2):
        issue(amina, wanjiru)
    as_wanjiru.get(CREDENTIALS)  # the wallet and status lists exist from here on
    few = page_queries(as_wanjiru, CREDENTIALS)
    for _ in range(5):
        issue(amina, wanjiru, "kyc", KYC_CLAIMS)
    for _ in range(5):
        credential_services.credential_import(
            holder=wanjiru, credential=_outside_credential(outside_issuer, _did_of(wanjiru))
        )

    many = page_queries(as_wanjiru, CREDENTIALS)

    assert CredentialRecord.objects.filter(holder=wanjiru).count() == 12
    assert many == few


def test_an_empty_record_says_so(as_wanjiru):
    assert "Your credit record is empty" in as_wanjiru.get(CREDENTIALS).content.decode()


# --- downloads ------------------------------------------------------------------------------


def test_a_downloaded_credential_verifies(as_wanjiru, issue, amina, wanjiru):
    age = issue(amina, wanjiru)

    response = as_wanjiru.get(_download_url(age))

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response["Content-Disposition"] == f'attachment; filename="growr-age-{age.pk}.json"'
    document = json.loads(response.content)
    parsed = vc.read_any(document)
    assert (parsed.holder, parsed.claims) == (_did_of(wanjiru), {"birthDate": "1990-02-03"})


def test_a_downloaded_sd_jwt_says_its_format_and_verifies(as_wanjiru, issue, amina, wanjiru):
    kyc = issue(amina, wanjiru, "kyc", KYC_CLAIMS)

    downloaded = json.loads(as_wanjiru.get(_download_url(kyc)).content)

    assert downloaded["format"] == "sd-jwt"
    assert vc.read_any(downloaded["credential"]).claims == KYC_CLAIMS


def test_the_whole_record_downloads_with_its_holder(as_wanjiru, issue, amina, wanjiru):
    issue(amina, wanjiru)
    issue(amina, wanjiru, "kyc", KYC_CLAIMS)

    response = as_wanjiru.get(RECORD_DOWNLOAD)

    assert response["Content-Disposition"].startswith("attachment;")
    record = json.loads(response.content)
    assert record["holder"] == _did_of(wanjiru)
    parsed = [
        vc.read_any(c["credential"] if isinstance(c, dict) and "format" in c else c)
        for c in record["credentials"]
    ]
    assert sorted(p.type.slug for p in parsed) == ["age", "kyc"]
    assert {p.holder for p in parsed} == {record["holder"]}


def test_otieno_cannot_download_wanjirus_credential(client, issue, amina, wanjiru, otieno):
    age = issue(amina, wanjiru)
    client.force_login(otieno)

    assert client.get(_download_url(age)).status_code == 404
    assert json.loads(client.get(RECORD_DOWNLOAD).content)["credentials"] == []


# --- import ---------------------------------------------------------------------------------


def test_a_credential_from_a_trusted_issuer_is_imported(as_wanjiru, wanjiru, outside_issuer):
    document = _outside_credential(outside_issuer, _did_of(wanjiru))

    response = as_wanjiru.post(IMPORT, {"text": json.dumps(document)}, follow=True)

    assert response.redirect_chain == [(CREDENTIALS, 302)]
    record = CredentialRecord.objects.get(holder=wanjiru)
    assert (record.source, record.issuer_did, record.document) == (
        "imported",
        outside_issuer.did,
        document,
    )
    page = response.content.decode()
    assert "Age (date of birth) added to your record." in page
    assert "Rift Valley SACCO" in page


def test_a_downloaded_sd_jwt_file_is_imported(as_wanjiru, wanjiru, outside_issuer):
    token = _outside_credential(outside_issuer, _did_of(wanjiru), "kyc", KYC_CLAIMS)
    upload = SimpleUploadedFile(
        "kyc.json", json.dumps({"format": "sd-jwt", "credential": token}).encode()
    )

    response = as_wanjiru.post(IMPORT, {"file": upload})

    assert response.status_code == 302
    record = CredentialRecord.objects.get(holder=wanjiru)
    assert (record.format, record.claims) == ("sd-jwt", KYC_CLAIMS)


def test_a_bare_sd_jwt_is_imported(as_wanjiru, wanjiru, outside_issuer):
    token = _outside_credential(outside_issuer, _did_of(wanjiru), "kyc", KYC_CLAIMS)

    assert as_wanjiru.post(IMPORT, {"text": token}).status_code == 302
    assert CredentialRecord.objects.filter(holder=wanjiru, format="sd-jwt").exists()


def _tampered(document):
    tampered = copy.deepcopy(document)
    tampered["credentialSubject"]["birthDate"] = "1970-01-01"
    return tampered


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("untrusted", "issuer_trust: Age (date of birth): issuer did:key:"),
        ("other_holder", "holder_binding: the credential was issued to another DID"),
        ("tampered", "signature: the credential&#x27;s proof does not verify"),
        ("expired", "validity: Age (date of birth) expired on"),
    ],
)
def test_a_credential_failing_a_check_is_refused_with_the_reason(
    as_wanjiru, wanjiru, otieno, outside_issuer, case, expected
):
    did = _did_of(wanjiru)
    if case == "untrusted":
        document = _outside_credential(Ed25519Key.generate(), did)
    elif case == "other_holder":
        document = _outside_credential(outside_issuer, _did_of(otieno))
    elif case == "tampered":
        document = _tampered(_outside_credential(outside_issuer, did))
    else:
        now = timezone.now()
        document = _outside_credential(
            outside_issuer, did, issued_at=now - timedelta(days=9), expires_at=now - timedelta(1)
        )

    response = as_wanjiru.post(IMPORT, {"text": json.dumps(document)})

    assert response.status_code == 200
    page = response.content.decode()
    assert "The credential was not imported" in page
    assert expected in page
    assert not CredentialRecord.objects.exists()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"@context": [', "This is not valid JSON: Expecting value (line 1, column 15)."),
        ("[" * 50_000, "nested too deeply"),
        ("[1, 2]", "A credential is a JSON object (LDP) or an SD-JWT string."),
        ("a credential, trust me", "neither JSON nor an SD-JWT"),
        ('{"format": "sd-jwt", "credential": 7}', "A downloaded SD-JWT reads"),
        ('{"holder": "did:key:z", "credentials": []}', "import its credentials one at a time"),
        ('{"type": ["VerifiableCredential"]}', "format: the credential&#x27;s @context"),
        ("eyJhbGciOiJFZERTQSJ9.e30.c2ln~", "signature: "),
        ("", "Paste a credential or choose a file."),
    ],
)
def test_malformed_input_is_a_form_error_never_a_500(as_wanjiru, text, expected):
    response = as_wanjiru.post(IMPORT, {"text": text})

    assert response.status_code == 200
    assert expected in response.content.decode()
    assert not CredentialRecord.objects.exists()


def test_an_oversized_file_is_refused_unread(as_wanjiru):
    upload = SimpleUploadedFile("big.json", b"{" + b" " * (64 * 1024) + b"}")

    response = as_wanjiru.post(IMPORT, {"file": upload})

    assert "The file is larger than 64 KB." in response.content.decode()
    assert not CredentialRecord.objects.exists()


class _Unreadable(SimpleUploadedFile):
    def read(self, *args):
        raise AssertionError("an oversized upload was read")

    def chunks(self, *args):
        raise AssertionError("an oversized upload was read")


def test_the_form_refuses_an_oversized_file_on_its_size_alone():
    upload = _Unreadable("big.json", b"{" + b" " * (64 * 1024) + b"}")

    form = CredentialImportForm(data={}, files={"file": upload})

    assert form.errors == {"file": ["The file is larger than 64 KB."]}


def test_text_and_file_together_are_refused(as_wanjiru):
    upload = SimpleUploadedFile("a.json", b"{}")

    response = as_wanjiru.post(IMPORT, {"text": "{}", "file": upload})

    assert "Paste a credential or upload a file, not both." in response.content.decode()


def test_a_credential_already_in_a_record_is_not_imported_twice(as_wanjiru, issue, amina, wanjiru):
    age = issue(amina, wanjiru)

    response = as_wanjiru.post(IMPORT, {"text": json.dumps(age.document)})

    assert "This credential is in a credit record already." in response.content.decode()
    assert CredentialRecord.objects.count() == 1


# --- who may open the pages -----------------------------------------------------------------

BORROWER_PAGES = [CREDENTIALS, IMPORT, PRESENT, WALLET, EXPORT, SELF_CUSTODY, RECORD_DOWNLOAD]
BORROWER_POSTS = [CHALLENGE, REGISTER, PRESENT_VERIFY]


@pytest.mark.parametrize("persona", ["amina", "juma", "ines"])
def test_staff_and_investors_are_refused_the_borrower_pages(client, request, persona):
    client.force_login(request.getfixturevalue(persona))

    for url in BORROWER_PAGES:
        assert client.get(url).status_code == 403, url
    for url in BORROWER_POSTS:
        assert client.post(url, "{}", content_type="application/json").status_code == 403, url
    assert client.get(reverse("borrow:credential-download", args=[1])).status_code == 403
    assert not Wallet.objects.filter(user__isnull=False).exists()
    assert not Challenge.objects.exists()


def test_anonymous_visitors_are_sent_to_sign_in(client, db):
    for url in BORROWER_PAGES:
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_the_json_endpoints_take_posts_only(as_wanjiru):
    for url in BORROWER_POSTS:
        assert as_wanjiru.get(url).status_code == 405, url


# --- the wallet -----------------------------------------------------------------------------


def test_the_wallet_page_shows_the_did_custody_and_history(as_wanjiru, wanjiru):
    page = as_wanjiru.get(WALLET).content.decode()

    assert _did_of(wanjiru) in page
    assert "Custodial: this node keeps your key" in page
    assert "Wallet created" in page


def test_export_needs_the_right_password(as_wanjiru, wanjiru):
    as_wanjiru.get(WALLET)

    response = as_wanjiru.post(EXPORT, {"password": "not my password"})

    assert "The password is not right." in response.content.decode()
    assert '"d"' not in response.content.decode()
    assert not WalletEvent.objects.filter(kind=WalletEvent.Kind.KEY_EXPORTED).exists()


def test_export_shows_the_key_once_and_writes_it_in_the_history(as_wanjiru, wanjiru):
    response = as_wanjiru.post(EXPORT, {"password": PASSWORD})

    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    jwk = json.loads(response.context["jwk_text"])
    wallet = Wallet.objects.get(user=wanjiru)
    assert Ed25519Key.from_jwk(jwk).did == wallet.did
    assert jwk["kid"].startswith(wallet.did + "#")
    assert "data:application/json" in response.content.decode()
    event = WalletEvent.objects.get(kind=WalletEvent.Kind.KEY_EXPORTED)
    assert (event.wallet, event.actor) == (wallet, wanjiru)
    assert "Private key exported" in as_wanjiru.get(WALLET).content.decode()
    # Showing the form again shows no key: the page with the key was a one-off answer.
    assert '"d"' not in as_wanjiru.get(EXPORT).content.decode()


def _switch_to_self_custody(client, key: Ed25519Key):
    nonce = client.post(CHALLENGE).json()["nonce"]
    proof = did_control.sign_proof(key=key, nonce=nonce, domain=node_domain())
    return client.post(REGISTER, {"proof": proof}, content_type="application/json")


def test_the_wallet_moves_to_self_custody_with_a_signed_challenge(as_wanjiru, wanjiru):
    old_did = _did_of(wanjiru)
    challenge = as_wanjiru.post(CHALLENGE).json()
    assert challenge["domain"] == node_domain() and challenge["purpose"] == "did_control"
    key = Ed25519Key.generate()

    response = _switch_to_self_custody(as_wanjiru, key)

    assert response.status_code == 200, response.content
    assert response.json() == {"did": key.did, "custody": "self", "wallet_url": WALLET}
    wallet = Wallet.objects.get(user=wanjiru)
    assert (wallet.did, wallet.custody, wallet.sealed_key) == (key.did, "self", None)
    page = as_wanjiru.get(WALLET).content.decode()
    assert "Self-custody: you keep the key" in page and key.did in page
    assert f"DID changed from {old_did}" in page
    export = as_wanjiru.post(EXPORT, {"password": PASSWORD}).content.decode()
    assert "nothing to export" in export


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("not json", "The request is not JSON."),
        ({"proof": 7}, 'Send {"proof": "<compact JWS>"}.'),
        ({"proof": "a.b.c"}, "the JWS header is not base64url JSON"),
    ],
)
def test_a_bad_proof_of_control_is_refused(as_wanjiru, wanjiru, body, expected):
    as_wanjiru.get(WALLET)
    payload = body if isinstance(body, str) else json.dumps(body)

    response = as_wanjiru.post(REGISTER, payload, content_type="application/json")

    assert response.status_code == 400
    assert expected in response.json()["error"]
    assert Wallet.objects.get(user=wanjiru).custody == "custodial"


def test_a_proof_for_an_unknown_challenge_is_refused(as_wanjiru, wanjiru):
    key = Ed25519Key.generate()
    proof = did_control.sign_proof(key=key, nonce="made-up", domain=node_domain())

    response = as_wanjiru.post(REGISTER, {"proof": proof}, content_type="application/json")

    assert response.json() == {"error": "This challenge was not issued by this node."}


def test_credentials_of_an_earlier_did_are_marked(as_wanjiru, issue, amina, wanjiru):
    issue(amina, wanjiru)
    _switch_to_self_custody(as_wanjiru, Ed25519Key.generate())

    page = as_wanjiru.get(CREDENTIALS).content.decode()

    assert "Issued to an earlier DID of yours" in page


def test_the_self_custody_page_warns_that_a_new_did_strands_credentials(
    as_wanjiru, issue, amina, wanjiru
):
    issue(amina, wanjiru)

    page = as_wanjiru.get(SELF_CUSTODY).content.decode()

    assert "A new key means a new DID." in page
    assert "(you have 1)" in page
    assert "js/wallet.js" in page


# --- presenting to this node ----------------------------------------------------------------


@pytest.fixture
def record_of(issue, amina, wanjiru):
    return {"age": issue(amina, wanjiru), "kyc": issue(amina, wanjiru, "kyc", KYC_CLAIMS)}


def test_the_present_page_lists_the_record_with_kyc_claims_to_choose(as_wanjiru, record_of):
    page = as_wanjiru.get(PRESENT).content.decode()

    kyc = record_of["kyc"].pk
    assert f'name="credentials" value="{record_of["age"].pk}"' in page
    assert f'name="disclose_{kyc}" value="nationality"' in page
    assert "Presented whole: Date of birth." in page


def test_a_custodial_wallet_presents_and_the_node_keeps_only_the_chosen_claims(
    as_wanjiru, wanjiru, record_of
):
    age, kyc = record_of["age"], record_of["kyc"]

    response = as_wanjiru.post(
        PRESENT, {"credentials": [age.pk, kyc.pk], f"disclose_{kyc.pk}": ["nationality"]}
    )

    page = response.content.decode()
    result = page[page.index('id="present-result"') : page.index("Present something else")]
    assert 'data-verified="true"' in result and "Verified" in result
    assert "1990-02-03" in result and "Nationality" in result and "KE" in result
    assert "Kamau" not in result and "Nakuru" not in result
    kept = PresentationRecord.objects.get()
    assert kept.disclosed == {"age": {"birthDate": "1990-02-03"}, "kyc": {"nationality": "KE"}}
    assert Challenge.objects.get().request == {"age": ["birthDate"], "kyc": ["nationality"]}
    history = as_wanjiru.get(WALLET).content.decode()
    assert "Presentation signed by the node for the holder" in history
    assert "age, kyc" in history


def test_a_kyc_credential_alone_is_presented(as_wanjiru, record_of):
    kyc = record_of["kyc"]

    response = as_wanjiru.post(
        PRESENT, {"credentials": [kyc.pk], f"disclose_{kyc.pk}": ["given_name", "birthdate"]}
    )

    assert 'data-verified="true"' in response.content.decode(), response.content.decode()
    assert PresentationRecord.objects.get().disclosed == {
        "kyc": {"birthdate": "1990-02-03", "given_name": "Wanjiru"}
    }


def test_a_revoked_credential_is_refused_with_the_check_that_failed(as_wanjiru, amina, record_of):
    credential_services.credential_revoke(actor=amina, credential=record_of["age"], reason="")

    response = as_wanjiru.post(PRESENT, {"credentials": [record_of["age"].pk]})

    page = response.content.decode()
    assert 'data-verified="false"' in page
    assert 'data-failed-check="revocation"' in page
    assert "Age (date of birth) has been revoked by its issuer" in page
    assert not PresentationRecord.objects.exists()


def test_a_credential_of_an_earlier_did_no_longer_presents(as_wanjiru, record_of):
    key = Ed25519Key.generate()
    _switch_to_self_custody(as_wanjiru, key)
    page = as_wanjiru.post(PRESENT, {"credentials": [record_of["age"].pk]})
    to_sign = page.context["to_sign"]
    envelope = build_presentation(
        holder_key=key,
        ldp_documents=to_sign["ldp"],
        sd_jwt_disclosures=[],
        challenge=to_sign["nonce"],
        domain=to_sign["domain"],
    )

    answer = as_wanjiru.post(PRESENT_VERIFY, envelope, content_type="application/json").json()

    assert (answer["verified"], answer["failed_check"]) == (False, "holder_binding")
    assert 'data-failed-check="holder_binding"' in answer["html"]


@pytest.mark.parametrize(
    ("choose", "expected"),
    [
        ("nothing", "Choose at least one credential."),
        ("kyc_without_claims", "Choose the claims you want to disclose."),
        ("two_ages", "Choose one Age (date of birth) credential, not two."),
        ("someone_elses", "Select a valid choice."),
    ],
)
def test_an_incomplete_choice_is_explained_and_asks_nothing(
    as_wanjiru, issue, amina, wanjiru, otieno, record_of, choose, expected
):
    data = {
        "nothing": lambda: {},
        "kyc_without_claims": lambda: {"credentials": [record_of["kyc"].pk]},
        "two_ages": lambda: {"credentials": [record_of["age"].pk, issue(amina, wanjiru).pk]},
        "someone_elses": lambda: {"credentials": [issue(amina, otieno).pk]},
    }[choose]()

    response = as_wanjiru.post(PRESENT, data)

    assert expected in response.content.decode()
    assert not Challenge.objects.exists()


def test_a_self_custody_wallet_signs_the_presentation_itself(as_wanjiru, amina, wanjiru):
    key = Ed25519Key.generate()
    _switch_to_self_custody(as_wanjiru, key)
    kyc = credential_services.credential_issue(
        issuer=amina, holder=wanjiru, credential_type="kyc", claims=KYC_CLAIMS
    )
    age = credential_services.credential_issue(
        issuer=amina, holder=wanjiru, credential_type="age", claims={"birthDate": "1990-02-03"}
    )

    page = as_wanjiru.post(
        PRESENT, {"credentials": [age.pk, kyc.pk], f"disclose_{kyc.pk}": ["nationality"]}
    )
    to_sign = page.context["to_sign"]
    assert to_sign["did"] == key.did and to_sign["verify_url"] == PRESENT_VERIFY
    assert to_sign["ldp"] == [age.document]
    assert to_sign["sd_jwt"] == [{"credential": kyc.document, "disclose": ["nationality"]}]
    envelope = build_presentation(
        holder_key=key,
        ldp_documents=to_sign["ldp"],
        sd_jwt_disclosures=[(s["credential"], s["disclose"]) for s in to_sign["sd_jwt"]],
        challenge=to_sign["nonce"],
        domain=to_sign["domain"],
    )

    answer = as_wanjiru.post(PRESENT_VERIFY, envelope, content_type="application/json").json()

    assert answer["verified"] is True, answer
    assert answer["disclosed"] == {"age": {"birthDate": "1990-02-03"}, "kyc": {"nationality": "KE"}}
    assert 'data-verified="true"' in answer["html"]
    # The node signed nothing for her: no presentation in her wallet's history.
    assert not WalletEvent.objects.filter(kind=WalletEvent.Kind.PRESENTED).exists()
    replay = as_wanjiru.post(PRESENT_VERIFY, envelope, content_type="application/json").json()
    assert (replay["verified"], replay["failed_check"]) == (False, "challenge")


def test_a_deeply_nested_presentation_is_refused_not_a_500(as_wanjiru):
    envelope = {"presentation": deeply_nested_jws()}

    answer = as_wanjiru.post(PRESENT_VERIFY, envelope, content_type="application/json")

    assert answer.json()["failed_check"] == "format"


def test_an_unreadable_presentation_is_answered_with_the_format_check(as_wanjiru):
    answer = as_wanjiru.post(PRESENT_VERIFY, "{nope", content_type="application/json")

    assert answer.status_code == 400
    assert answer.json()["failed_check"] == "format"
    shapeless = as_wanjiru.post(PRESENT_VERIFY, "[]", content_type="application/json").json()
    assert (shapeless["verified"], shapeless["failed_check"]) == (False, "format")
