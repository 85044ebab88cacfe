"""The borrower's loan pages as stories: Wanjiru applies to Kijani's dairy goat project and sees
exactly what she discloses, answers Juma's question, signs the agreement, confirms the money with
her code and reports payments; Otieno cannot apply without the right credentials and cannot see
her loan; staff and investors stay out; anyone verifies a signed agreement file."""

from __future__ import annotations

import base64
import json
import re
import zlib
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db.models import F
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape

from apps.applications import services
from apps.applications.agreement import sign_agreement, verify_signed_agreement
from apps.applications.agreement_pdf import latin1
from apps.applications.consent import CONSENT_VERSION
from apps.applications.models import Agreement, Loan, LoanStatus, Repayment
from apps.identity import credential_services
from apps.identity.credential_selectors import node_domain
from apps.identity.models import Challenge, PresentationRecord, WalletEvent
from apps.identity.ssi import did_control
from apps.identity.ssi.didkey import Ed25519Key
from apps.identity.ssi.presentation import build_presentation
from apps.projects.services import project_create, project_publish
from tests.identity.conftest import KYC_CLAIMS
from tests.projects.conftest import goat_terms
from tests.queries import page_queries

from .conftest import PASSWORD

LOANS = reverse("borrower_loans:list")
HOME = reverse("borrow:home")
VERIFY = reverse("agreements:verify")
AGE_18 = {"credential": "age", "claim": "birthDate", "op": "age_at_least", "value": 18}
KENYAN_KYC = {"credential": "kyc", "claim": "nationality", "op": "in", "value": ["KE"]}


def _apply_url(project) -> str:
    return reverse("borrower_loans:apply", args=[project.pk])


def _detail(loan) -> str:
    return reverse("borrower_loans:detail", args=[loan.pk])


def _url(name: str, loan) -> str:
    return reverse(f"borrower_loans:{name}", args=[loan.pk])


def _form(project, **changes) -> dict:
    """The application form as a borrower sends it, with her newest credential of each type."""
    data = {
        "action": "apply",
        "amount": "20000",
        "duration": "12",
        "purpose": "Two in-calf goats and a shed.",
        "consent": CONSENT_VERSION,
    }
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


def _credential_fields(borrower, *slugs) -> dict:
    records = {r.credential_type: r for r in reversed(borrower.credentials.all())}
    return {f"credential_{slug}": str(records[slug].pk) for slug in slugs}


def _goat_form(project, borrower, **changes) -> dict:
    """The form for the goat projects: age and citizenship credentials presented."""
    return _form(project, **_credential_fields(borrower, "age", "citizenship"), **changes)


def _nothing_stored() -> None:
    assert not Loan.objects.exists()
    assert not PresentationRecord.objects.exists()
    assert not Challenge.objects.exists()
    assert not WalletEvent.objects.filter(kind=WalletEvent.Kind.PRESENTED).exists()


@pytest.fixture
def kyc_goats(juma, amina):
    """A goat project for adults whose KYC says they are Kenyan: the KYC is an SD-JWT, so only
    its nationality is disclosed."""
    terms = goat_terms(name="Goats for KYC'd Kenyans", eligibility={"all": [AGE_18, KENYAN_KYC]})
    return project_publish(actor=amina, project=project_create(actor=juma, terms=terms))


def _sd_jwt_claim_names(token: str) -> set[str]:
    names = set()
    for part in token.split("~")[1:]:
        if part and part.count(".") == 0:
            padded = part + "=" * (-len(part) % 4)
            names.add(json.loads(base64.urlsafe_b64decode(padded))[1])
    return names


# --- applying -----------------------------------------------------------------------------------


def test_wanjiru_applies_and_sees_exactly_what_she_discloses(
    client, wanjiru, amina, kyc_goats, monkeypatch
):
    age = credential_services.credential_issue(
        issuer=amina, holder=wanjiru, credential_type="age", claims={"birthDate": "1990-02-03"}
    )
    kyc = credential_services.credential_issue(
        issuer=amina, holder=wanjiru, credential_type="kyc", claims=KYC_CLAIMS
    )
    client.force_login(wanjiru)

    page = client.get(_apply_url(kyc_goats))
    html = page.content.decode()
    assert page.status_code == 200
    assert 'data-eligibility="yes"' in html
    # The KYC (SD-JWT) discloses its nationality and nothing else; the age credential is whole.
    kyc_option = re.search(rf'data-credential="{kyc.pk}">(.*?)</div>', html, re.S).group(1)
    assert "Discloses only" in kyc_option and "Kenya (KE)" in kyc_option
    assert kyc_option.count("data-disclosed") == 1
    present = re.search(r'<section[^>]*id="present">(.*?)</section>', html, re.S).group(1)
    for hidden in ("Plot 12, Nakuru", "23456789", "Kamau", "Family name", "Address"):
        assert hidden not in present
    age_option = re.search(rf'data-credential="{age.pk}">(.*?)</div>', html, re.S).group(1)
    assert "Presented whole" in age_option and "1990-02-03" in age_option
    assert 'value="apply"' in html and "consent" in html and CONSENT_VERSION in html
    assert page.context["preview"] is not None  # the schedule of the smallest loan, at once

    sent = []
    build = services.presentation_build_custodial

    def spy(**kwargs):
        sent.append(build(**kwargs))
        return sent[-1]

    monkeypatch.setattr(services, "presentation_build_custodial", spy)
    response = client.post(
        _apply_url(kyc_goats), _form(kyc_goats, **_credential_fields(wanjiru, "age", "kyc"))
    )

    loan = Loan.objects.get()
    assert response.status_code == 302 and response["Location"] == _detail(loan)
    assert (loan.borrower, loan.amount, loan.duration) == (wanjiru, Decimal("20000"), 12)
    assert loan.consent_version == CONSENT_VERSION
    assert loan.presentation.disclosed == {
        "age": {"birthDate": "1990-02-03"},
        "kyc": {"nationality": "KE"},
    }
    # What left the wallet: the SD-JWT carried the nationality disclosure only.
    (envelope,) = sent
    (token,) = envelope["sd_jwt"]
    assert _sd_jwt_claim_names(token) == {"nationality"}
    assert WalletEvent.objects.filter(kind=WalletEvent.Kind.PRESENTED).count() == 1

    detail = client.get(response["Location"]).content.decode()
    assert f"Your application {loan.reference} was sent to Kijani Microfinance." in detail
    assert "Kijani Microfinance is reviewing it" in detail
    assert "What you showed with your application" in detail
    # One open application per project: the apply page now points to it, with no form.
    again = client.get(_apply_url(kyc_goats)).content.decode()
    assert _detail(loan) in again and 'value="apply"' not in again


def test_the_schedule_preview_follows_the_chosen_amount_and_duration(
    client, wanjiru, credentials_of, goats
):
    credentials_of(wanjiru)
    client.force_login(wanjiru)

    page = client.post(_apply_url(goats), {"action": "preview", "amount": "12000", "duration": "6"})

    preview = page.context["preview"]
    assert preview.total_principal == Decimal("12000.00") and len(preview.installments) == 6
    html = page.content.decode()
    assert "12,000.00 KES" in html and 'data-row="6"' in html
    # A preview sends nothing, and asks for nothing but the terms.
    assert not Loan.objects.exists() and not page.context["form"].errors


def test_a_project_without_criteria_asks_for_no_credentials(client, otieno, juma, amina):
    terms = goat_terms(name="Goats for anyone", eligibility=None)
    open_to_all = project_publish(actor=amina, project=project_create(actor=juma, terms=terms))
    client.force_login(otieno)

    page = client.get(_apply_url(open_to_all)).content.decode()
    assert "You qualify: no credentials needed" in page and 'id="present"' not in page

    response = client.post(_apply_url(open_to_all), _form(open_to_all))

    loan = Loan.objects.get()
    assert response.status_code == 302 and loan.presentation is None
    assert not Challenge.objects.exists()


def test_otieno_from_uganda_sees_why_and_cannot_apply(client, otieno, credentials_of, goats):
    credentials_of(otieno, country="UG")
    client.force_login(otieno)

    page = client.get(_apply_url(goats))
    html = page.content.decode()
    assert 'data-eligibility="no"' in html and "You cannot apply yet" in html
    assert 'data-status="not_met"' in html
    assert 'value="apply"' not in html and 'name="purpose"' not in html

    # A forged application is refused by the service, and nothing of it is kept.
    forged = client.post(_apply_url(goats), _goat_form(goats, otieno))
    assert forged.status_code == 200
    errors = forged.context["form"].non_field_errors()
    assert any("Uganda" in error or "UG" in error for error in errors), errors
    _nothing_stored()


def test_otieno_without_credentials_sees_what_he_needs(client, otieno, goats):
    client.force_login(otieno)

    html = client.get(_apply_url(goats)).content.decode()
    assert 'data-eligibility="needs"' in html
    assert "Age (date of birth) credential" in html or "Age credential" in html
    assert 'value="apply"' not in html

    forged = client.post(
        _apply_url(goats), _form(goats, credential_age="1", credential_citizenship="2")
    )
    assert forged.status_code == 200
    assert "Choose one credential of each type, from your own record." in forged.content.decode()
    _nothing_stored()


@pytest.mark.parametrize(
    ("changes", "form_name", "field", "message"),
    [
        ({"duration": "twelve"}, "terms_form", "duration", "whole number"),
        ({"duration": ""}, "terms_form", "duration", "required"),
        ({"amount": "999999"}, "terms_form", "amount", "Between 5000.00 and 40000.00 KES"),
        ({"amount": "12000.345"}, "terms_form", "amount", "more decimals than the currency"),
        ({"amount": "1e400"}, "terms_form", "amount", ""),
        ({"amount": "NaN"}, "terms_form", "amount", ""),
        ({"consent": None}, "form", "consent", "Read and accept the consent"),
        ({"consent": "2020-01"}, "form", "consent", "Read and accept the consent"),
        ({"purpose": "x" * 5000}, "form", "purpose", "at most 1000 characters"),
        ({"purpose": "   "}, "form", "purpose", "Say what the loan is for"),
        ({"credential_age": "nope"}, "form", "credential_age", "Choose one of your"),
        ({"credential_age": ""}, "form", "credential_age", "Choose the Age"),
        ({"credential_age": "999999"}, "form", "presentation", "from your own record"),
    ],
)
def test_bad_applications_are_form_errors_never_a_500(
    client, wanjiru, credentials_of, goats, changes, form_name, field, message
):
    credentials_of(wanjiru)
    client.force_login(wanjiru)
    data = _goat_form(goats, wanjiru)
    data.update(changes)
    data = {k: v for k, v in data.items() if v is not None}

    response = client.post(_apply_url(goats), data)

    assert response.status_code == 200
    errors = " ".join(response.context[form_name].errors.get(field, []))
    assert errors and message in errors, response.context[form_name].errors
    assert 'role="alert"' in response.content.decode()
    _nothing_stored()


def test_anothers_credential_is_refused(client, wanjiru, otieno, credentials_of, goats):
    credentials_of(wanjiru)
    credentials_of(otieno)
    client.force_login(wanjiru)
    theirs = _credential_fields(otieno, "age", "citizenship")

    response = client.post(_apply_url(goats), _form(goats, **theirs))

    assert response.status_code == 200 and response.context["form"].errors
    _nothing_stored()


def test_a_closed_project_takes_no_application(client, wanjiru, credentials_of, goats, amina):
    from apps.projects.services import project_close

    credentials_of(wanjiru)
    project_close(actor=amina, project=goats)
    client.force_login(wanjiru)

    html = client.get(_apply_url(goats)).content.decode()
    assert "This project is not taking applications" in html and 'value="apply"' not in html
    forged = client.post(_apply_url(goats), _goat_form(goats, wanjiru))
    assert "This project is not taking applications." in forged.content.decode()
    assert not Loan.objects.exists()


def test_apply_links_on_the_project_list_and_the_project_page(client, wanjiru, goats):
    apply_url = _apply_url(goats)
    project_page = reverse("project-page", args=[goats.pk])
    assert apply_url not in client.get(project_page).content.decode()  # signed out

    client.force_login(wanjiru)
    assert f'href="{apply_url}"' in client.get(reverse("borrow:projects")).content.decode()
    assert f'href="{apply_url}"' in client.get(project_page).content.decode()


def _switch_to_self_custody(client, key: Ed25519Key) -> None:
    nonce = client.post(reverse("borrow:wallet-challenge")).json()["nonce"]
    proof = did_control.sign_proof(key=key, nonce=nonce, domain=node_domain())
    response = client.post(
        reverse("borrow:wallet-self-custody-register"),
        {"proof": proof},
        content_type="application/json",
    )
    assert response.status_code == 200, response.content


def test_a_self_custody_wallet_applies_with_the_presentation_it_signed(
    client, wanjiru, amina, goats
):
    key = Ed25519Key.generate()
    client.force_login(wanjiru)
    _switch_to_self_custody(client, key)
    credentials = {
        kind: credential_services.credential_issue(
            issuer=amina, holder=wanjiru, credential_type=kind, claims=claims
        )
        for kind, claims in (("age", {"birthDate": "1990-02-03"}), ("citizenship",
                                                                     {"citizenship": "KE"}))
    }  # fmt: skip

    page = client.get(_apply_url(goats))
    to_present = page.context["to_present"]
    assert to_present["did"] == key.did
    assert {c["type"] for c in to_present["credentials"].values()} == {"age", "citizenship"}
    # Without a signed presentation (no JavaScript), the service says what is missing.
    unsigned = client.post(_apply_url(goats), _goat_form(goats, wanjiru))
    assert "present them to apply" in unsigned.content.decode()
    garbage = client.post(_apply_url(goats), _form(goats, presentation="[" * 50_000))
    assert "nested too deeply" in garbage.content.decode()

    challenge = client.post(to_present["challenge_url"]).json()
    assert challenge["request"] == {"age": ["birthDate"], "citizenship": ["citizenship"]}
    envelope = build_presentation(
        holder_key=key,
        ldp_documents=[credentials["age"].document, credentials["citizenship"].document],
        sd_jwt_disclosures=[],
        challenge=challenge["nonce"],
        domain=challenge["domain"],
    )
    response = client.post(
        _apply_url(goats), _goat_form(goats, wanjiru, presentation=json.dumps(envelope))
    )

    loan = Loan.objects.get()
    assert response.status_code == 302
    assert loan.presentation.holder_did == key.did
    # The node signed nothing for her.
    assert not WalletEvent.objects.filter(kind=WalletEvent.Kind.PRESENTED).exists()


# --- my loans ------------------------------------------------------------------------------------


def test_otieno_cannot_see_or_touch_wanjirus_loan(client, apply, goats, wanjiru, otieno, juma):
    loan = apply(wanjiru, goats)
    services.application_approve(actor=juma, loan=loan)
    client.force_login(otieno)

    for name in ("detail", "agreement", "agreement-file", "agreement-pdf"):
        assert client.get(_url(name, loan)).status_code == 404, name
    for name, data in (
        ("message", {"body": "hello"}),
        ("withdraw", {}),
        ("agreement", {"password": PASSWORD}),
        ("disbursement-confirm", {"code": "123456"}),
        ("repayment-report", {"amount": "1", "reference": "X", "rail": "cash",
                              "paid_on": "2026-01-01"}),
    ):  # fmt: skip
        assert client.post(_url(name, loan), data).status_code == 404, name
    assert client.get(LOANS).context["rows"] == []
    loan.refresh_from_db()
    assert loan.status == LoanStatus.APPROVED and not loan.messages.exists()


def test_staff_and_investors_get_403_and_strangers_sign_in(client, juma, amina, ines):
    for person in (juma, amina, ines):
        client.force_login(person)
        assert client.get(LOANS).status_code == 403
        assert client.get(HOME).status_code == 403
    client.logout()
    response = client.get(LOANS)
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_the_list_says_where_each_loan_stands(client, apply, goats, simple_goats, wanjiru, juma):
    first = apply(wanjiru, goats)
    second = apply(wanjiru, simple_goats, amount="8000", duration=6)
    services.application_approve(actor=juma, loan=second)
    client.force_login(wanjiru)

    html = client.get(LOANS).content.decode()
    assert first.reference in html and second.reference in html
    assert "Kijani Microfinance is reviewing it" in html
    assert "Approved: read and sign the agreement" in html
    assert "8,000.00 KES" in html and "6 months" in html
    assert 'aria-current="page">My loans' in html


def test_the_list_costs_the_same_queries_for_2_and_20_loans(client, wanjiru, goats, kijani):
    now = timezone.now()

    def make(count: int) -> None:
        Loan.objects.bulk_create(
            Loan(project=goats, organization=kijani, borrower=wanjiru, currency="KES",
                 amount=Decimal("5000"), duration=6, purpose="goats", consent_version="2026-11",
                 consented_at=now, status=LoanStatus.WITHDRAWN)
            for _ in range(count)
        )  # fmt: skip

    client.force_login(wanjiru)
    make(2)
    two = page_queries(client, LOANS)
    make(18)
    assert Loan.objects.count() == 20
    assert page_queries(client, LOANS) == two


def test_juma_asks_and_wanjiru_answers_in_the_thread(client, apply, goats, wanjiru, juma):
    loan = apply(wanjiru, goats)
    services.application_request_information(
        actor=juma, loan=loan, question="Where will the goats live?"
    )
    client.force_login(wanjiru)

    html = client.get(_detail(loan)).content.decode()
    assert 'data-awaiting="borrower"' in html and "Kijani Microfinance asked you something" in html
    assert "Where will the goats live?" in html
    assert "Kijani Microfinance asked you something: answer to move on" in html

    empty = client.post(_url("message", loan), {"body": "  "})
    assert "Write a message." in empty.content.decode()
    huge = client.post(_url("message", loan), {"body": "x" * 5000})
    assert huge.status_code == 200 and huge.context["message_form"].errors
    answer = client.post(_url("message", loan), {"body": "In the new shed behind the house."})
    assert answer.status_code == 302

    loan.refresh_from_db()
    assert loan.awaiting == "staff"
    html = client.get(_detail(loan)).content.decode()
    assert 'data-awaiting="borrower"' not in html and "In the new shed" in html


def test_wanjiru_withdraws_while_it_is_not_paid_out(client, apply, goats, wanjiru):
    loan = apply(wanjiru, goats)
    client.force_login(wanjiru)
    assert "Withdraw my application" in client.get(_detail(loan)).content.decode()

    response = client.post(_url("withdraw", loan), {"reason": "I found the money elsewhere."})

    assert response.status_code == 302
    loan.refresh_from_db()
    assert loan.status == LoanStatus.WITHDRAWN
    html = client.get(_detail(loan)).content.decode()
    assert "Withdrawn by you" in html and "Withdraw my application" not in html
    again = client.post(_url("withdraw", loan), {}, follow=True)
    assert "cannot become withdrawn" in again.content.decode()


# --- the agreement -------------------------------------------------------------------------------


def test_a_wrong_password_keeps_the_agreement_unsigned(client, apply, goats, wanjiru, juma):
    loan = apply(wanjiru, goats)
    services.application_approve(actor=juma, loan=loan)
    client.force_login(wanjiru)

    detail = client.get(_detail(loan)).content.decode()
    assert "Read and sign the agreement" in detail
    page = client.get(_url("agreement", loan))
    html = page.content.decode()
    agreement = Agreement.objects.get()
    assert agreement.hash in html and "20000.00 KES" in html
    assert 'data-signature="originator" data-valid="true"' in html
    assert 'data-signature="borrower" data-valid="false"' in html
    assert all(escape(clause) in html for clause in agreement.document["clauses"])

    wrong = client.post(_url("agreement", loan), {"password": "not my password"})
    assert wrong.status_code == 200
    assert "Your password, to sign, is not right." in wrong.content.decode()
    agreement.refresh_from_db()
    assert agreement.borrower_signature == ""

    right = client.post(_url("agreement", loan), {"password": PASSWORD})
    assert right.status_code == 302 and right["Location"] == _detail(loan)
    agreement.refresh_from_db()
    assert verify_signed_agreement(agreement.signed_file()).fully_signed
    assert WalletEvent.objects.filter(kind=WalletEvent.Kind.AGREEMENT_SIGNED).count() == 1
    html = client.get(_detail(loan)).content.decode()
    assert "Signed: Kijani Microfinance will send the money" in html
    signed_again = client.post(_url("agreement", loan), {"password": PASSWORD}, follow=True)
    assert "signed this agreement already" in signed_again.content.decode()


def _pdf_text(data: bytes) -> str:
    """The text drawn in a PDF made by fpdf2 (its page streams are deflated).

    Each stream is inflated from its start until zlib says it ended, because the compressed bytes
    may themselves end in a carriage return that a pattern up to "endstream" would cut off.
    """
    chunks = []
    for start in re.finditer(rb"(?<!end)stream\r?\n", data):
        inflater = zlib.decompressobj()
        try:
            chunks.append(inflater.decompress(data[start.end() :]).decode("latin-1"))
        except zlib.error:
            end = data.find(b"endstream", start.end())
            chunks.append(data[start.end() : end].decode("latin-1"))
    return "".join(chunks)


def test_the_pdf_and_the_signed_file_of_the_agreement(client, active_loan, wanjiru):
    loan = active_loan()
    client.force_login(wanjiru)

    pdf = client.get(_url("agreement-pdf", loan))
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")
    assert f'filename="growr-agreement-{loan.reference}.pdf"' in pdf["Content-Disposition"]
    text = _pdf_text(pdf.content)
    agreement = Agreement.objects.get()
    assert loan.reference in text and agreement.hash in text
    assert "Wanjiru Kamau" in text and "12000.00 KES" in text

    signed = client.get(_url("agreement-file", loan))
    assert signed["Content-Disposition"].startswith("attachment;")
    verified = verify_signed_agreement(json.loads(signed.content))
    assert verified.fully_signed and verified.hash == agreement.hash


def test_the_pdf_writes_any_name_in_its_fonts(client, apply, goats, juma, wanjiru):
    wanjiru.full_name = "Wanjirū “Shiro” Kamau 王"
    wanjiru.save()
    loan = apply(wanjiru, goats)
    services.application_approve(actor=juma, loan=loan)
    client.force_login(wanjiru)

    pdf = client.get(_url("agreement-pdf", loan))

    assert pdf.content.startswith(b"%PDF")
    assert 'Wanjiru "Shiro" Kamau ?' in _pdf_text(pdf.content)
    assert latin1("Zoë\tŁódź…") == "Zoë ?ódz..."


def test_a_self_custody_wallet_signs_the_agreement_itself(client, apply, goats, wanjiru, juma):
    loan = apply(wanjiru, goats)
    services.application_approve(actor=juma, loan=loan)
    key = Ed25519Key.generate()
    client.force_login(wanjiru)
    _switch_to_self_custody(client, key)

    # Her DID changed since approval: opening the agreement makes it again for the new DID.
    page = client.get(_url("agreement", loan))
    agreement = Agreement.objects.get()
    assert agreement.borrower_did == key.did
    to_sign = page.context["to_sign_in_browser"]
    assert to_sign == {
        "did": key.did,
        "kid": key.verification_method,
        "typ": "growr-agreement+jwt",
        "hash": agreement.hash,
    }
    assert "Sign in this browser" in page.content.decode()

    forged = client.post(_url("agreement", loan), {"signature": "a.b.c"})
    assert "The signature is refused" in forged.content.decode()
    other = sign_agreement(key=Ed25519Key.generate(), document_hash=agreement.hash, role="borrower")
    assert (
        "The signature is refused"
        in client.post(_url("agreement", loan), {"signature": other}).content.decode()
    )

    signature = sign_agreement(key=key, document_hash=agreement.hash, role="borrower")
    response = client.post(_url("agreement", loan), {"signature": signature})

    assert response.status_code == 302
    agreement.refresh_from_db()
    assert agreement.borrower_signature == signature
    assert not WalletEvent.objects.filter(kind=WalletEvent.Kind.AGREEMENT_SIGNED).exists()


# --- the money -----------------------------------------------------------------------------------


def _code_from_mail() -> str:
    (code,) = re.findall(r"code on your loan's page: (\d{6})", mail.outbox[-1].body)
    return code


@pytest.fixture
def disbursed(active_loan, django_capture_on_commit_callbacks):
    """Wanjiru's active loan and the one-time code the node e-mailed her when it paid out."""

    def make(**kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            loan = active_loan(**kwargs)
        return loan, _code_from_mail()

    return make


def _days_pass(loan, days: int) -> None:
    """As if DAYS had passed since the payout: every due date moves that far back."""
    loan.installments.update(due_on=F("due_on") - timedelta(days=days))


def test_wanjiru_confirms_the_money_with_her_code(client, disbursed, wanjiru):
    loan, code = disbursed()
    client.force_login(wanjiru)
    html = client.get(_detail(loan)).content.decode()
    assert "Confirm I received it" in html

    wrong_code = "000000" if code != "000000" else "111111"
    wrong = client.post(_url("disbursement-confirm", loan), {"code": wrong_code})
    assert wrong.status_code == 200
    assert "This code is not right (4 tries left)." in wrong.content.decode()
    empty = client.post(_url("disbursement-confirm", loan), {"code": ""})
    assert empty.context["code_form"].errors["code"]

    right = client.post(_url("disbursement-confirm", loan), {"code": code})
    assert right.status_code == 302
    html = client.get(_detail(loan)).content.decode()
    assert "data-confirmed" in html and "Confirm I received it" not in html


def test_five_wrong_codes_and_only_staff_can_confirm(client, disbursed, wanjiru):
    loan, code = disbursed()
    client.force_login(wanjiru)
    for _ in range(5):
        client.post(_url("disbursement-confirm", loan), {"code": "abc"})
    html = client.get(_detail(loan)).content.decode()
    assert "Too many wrong codes" in html and "Confirm I received it" not in html
    refused = client.post(_url("disbursement-confirm", loan), {"code": code})
    assert "Too many wrong codes" in refused.content.decode()


def test_wanjiru_reports_payments_and_sees_her_schedule(client, active_loan, wanjiru, juma):
    loan = active_loan()
    _days_pass(loan, 40)
    client.force_login(wanjiru)
    html = client.get(_detail(loan)).content.decode()
    rows = list(loan.installments.all())
    assert 'data-installment="12"' in html and 'data-state="late"' in html
    assert "<dd data-days-past-due><strong>" in html
    assert f"{rows[0].total_due:,.2f} KES" in html  # the next installment, late

    bad = client.post(
        _url("repayment-report", loan),
        {"amount": "-5", "reference": "MP1", "rail": "mobile_money", "paid_on": "2020-01-01"},
    )
    assert bad.status_code == 200 and bad.context["report_form"].errors
    future = client.post(
        _url("repayment-report", loan),
        {"amount": "100", "reference": "MP1", "rail": "mobile_money",
         "paid_on": (timezone.localdate() + timedelta(days=3)).isoformat()},
    )  # fmt: skip
    assert "This date is in the future." in future.content.decode()

    owed = sum(r.total_due for r in rows)
    response = client.post(
        _url("repayment-report", loan),
        {"amount": str(owed), "reference": "MP-ALL", "rail": "mobile_money",
         "paid_on": timezone.localdate().isoformat()},
    )  # fmt: skip
    assert response.status_code == 302
    payment = Repayment.objects.get()
    assert payment.status == Repayment.Status.REPORTED and payment.reported_by == wanjiru
    assert "Reported by the borrower, to confirm" in client.get(_detail(loan)).content.decode()

    services.repayment_confirm(actor=juma, repayment=payment)
    html = client.get(_detail(loan)).content.decode()
    assert "Repaid and closed" in html and "Report a payment you made" not in html
    assert html.count('data-state="paid"') == 12
    record = client.get(reverse("borrow:credentials")).content.decode()
    assert "Loan repayment history" in record


def test_home_shows_applications_the_next_installment_and_documents(
    client, active_loan, apply, goats, wanjiru
):
    loan = active_loan()
    pending = apply(wanjiru, goats)
    client.force_login(wanjiru)

    html = client.get(HOME).content.decode()

    next_row = loan.installments.order_by("number").first()
    assert f'data-active-loan="{loan.pk}"' in html
    assert f"{next_row.outstanding:,.2f} KES due on" in html
    assert f'href="{_detail(loan)}#schedule"' in html
    assert loan.reference in html and pending.reference in html
    assert f'href="{_url("agreement-file", loan)}"' in html
    assert f'href="{_url("agreement-pdf", loan)}"' in html
    assert f'href="{reverse("borrow:credentials")}"' in html
    assert 'aria-current="page">My loans' in html


def test_an_empty_home_points_to_the_projects(client, wanjiru):
    client.force_login(wanjiru)
    html = client.get(HOME).content.decode()
    assert "You have no loans or applications on this node yet." in html
    assert f'href="{reverse("borrow:projects")}"' in html


# --- verifying an agreement, for anyone ------------------------------------------------------


@pytest.fixture
def signed_file(active_loan) -> dict:
    active_loan()
    return Agreement.objects.get().signed_file()


def _upload(value, name="agreement.json") -> SimpleUploadedFile:
    data = value if isinstance(value, bytes) else json.dumps(value).encode()
    return SimpleUploadedFile(name, data, content_type="application/json")


def test_anyone_verifies_a_signed_agreement(client, signed_file):
    response = client.post(VERIFY, {"file": _upload(signed_file)})

    html = response.content.decode()
    assert response.status_code == 200
    assert 'data-fully-signed="true"' in html and "Both parties signed this agreement" in html
    assert html.count('data-valid="true"') == 2
    assert signed_file["hash"] in html
    for party in signed_file["document"]["parties"].values():
        assert party["did"] in html
    pasted = client.post(VERIFY, {"text": json.dumps(signed_file)})
    assert 'data-fully-signed="true"' in pasted.content.decode()


def test_a_tampered_agreement_shows_as_invalid(client, signed_file):
    tampered = json.loads(json.dumps(signed_file))
    tampered["document"]["terms"]["principal"] = "120000.00"
    del tampered["hash"]

    html = client.post(VERIFY, {"file": _upload(tampered)}).content.decode()

    assert 'data-fully-signed="false"' in html
    assert html.count('data-valid="false"') == 2
    assert "the signature is for another document" in html
    assert "120000.00 KES" in html  # what the file claims, shown for what it is

    kept_hash = json.loads(json.dumps(signed_file))
    kept_hash["document"]["terms"]["principal"] = "120000.00"
    html = client.post(VERIFY, {"file": _upload(kept_hash)}).content.decode()
    assert "the file&#x27;s hash is not the hash of its document" in html


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"garbage", "This file is not valid JSON"),
        (b"\xff\xfe\x00", "not UTF-8 text"),
        (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
        (b'{"a":' * 200 + b"1" + b"}" * 200, "nested too deeply"),
        (b"[]", "This is not a signed Growr loan agreement"),
        (b'{"document": {"format": "growr/loan-agreement"}}', "names no originator DID"),
        (b'{"document": {"format": "growr/loan-agreement", "x": 1.5}}', "fraction"),
        (b'{"document": {"format": "growr/loan-agreement", "x": "\\ud800"}}', "not valid Unicode"),
        (b'{"document": {"format": "growr/loan-agreement"}, "signatures": []}', "by role"),
        (b"1" * 5000, "not valid JSON"),
        (b"", "The submitted file is empty."),
    ],
)
def test_garbage_is_refused_with_a_clear_message(client, data, message):
    response = client.post(VERIFY, {"file": _upload(data)})

    assert response.status_code == 200
    assert message in response.content.decode()
    assert response.context["result"] is None


def test_a_file_over_1_mb_is_not_read(client):
    response = client.post(VERIFY, {"file": _upload(b" " * (1024 * 1024 + 1))})
    assert "The file is larger than 1 MB." in response.content.decode()
    pasted = client.post(VERIFY, {"text": "x" * (1024 * 1024 + 1)})
    assert "larger than 1 MB" in pasted.content.decode()


def test_the_verify_page_needs_no_account_and_signed_in_people_use_it_too(client, juma):
    assert client.get(VERIFY).status_code == 200
    client.force_login(juma)
    assert "Verify a loan agreement" in client.get(VERIFY).content.decode()


def test_an_agreement_of_another_node_verifies_here_too(client, db):
    """The check needs nothing of this node: a file made elsewhere verifies from itself."""
    lender, borrower = Ed25519Key.generate(), Ed25519Key.generate()
    document = {
        "format": "growr/loan-agreement",
        "reference": "L-000042",
        "parties": {
            "originator": {"name": "Rift Valley SACCO", "did": lender.did},
            "borrower": {"name": "Achieng", "did": borrower.did},
        },
        "terms": {"currency": "UGX", "principal": "500000"},
    }
    from apps.applications.agreement import agreement_hash

    digest = agreement_hash(document)
    signed = {
        "document": document,
        "signatures": {
            "originator": sign_agreement(key=lender, document_hash=digest, role="originator"),
            "borrower": sign_agreement(key=borrower, document_hash=digest, role="borrower"),
        },
    }
    html = client.post(VERIFY, {"file": _upload(signed)}).content.decode()
    assert 'data-fully-signed="true"' in html and "Rift Valley SACCO" in html
    assert "500000 UGX" in html
