"""Kijani's credentials pages: Juma (agent) and Amina (admin) issue credentials to Wanjiru and
Otieno, one by one or from a CSV file; only Amina revokes; borrowers, investors and other
originators stay out; Ngozi decides in the admin whom the node trusts."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from apps.identity import credential_selectors, credential_services
from apps.identity.credential_services import MAX_CSV_BYTES
from apps.identity.models import CredentialRecord, StatusList, TrustedIssuer, Wallet
from apps.identity.ssi.didkey import Ed25519Key
from tests.factories import OrganizationFactory, StaffFactory
from tests.queries import page_queries

from .conftest import KYC_CLAIMS

LIST = reverse("staff:credentials")
ISSUE = reverse("staff:credential-issue")
BULK = reverse("staff:credential-bulk")
TEMPLATE = reverse("staff:credential-bulk-template")


def _issue_url(credential_type: str) -> str:
    return f"{ISSUE}?type={credential_type}"


def _listed(response) -> list[CredentialRecord]:
    return list(response.context["page"].object_list)


def _csv(text: str, name: str = "credentials.csv") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, text.encode(), content_type="text/csv")


# --- issuing one credential through the form -------------------------------------------------


def test_juma_issues_an_age_credential_that_lands_in_wanjirus_record(client, juma, wanjiru):
    client.force_login(juma)

    first_step = client.get(ISSUE)
    assert first_step.status_code == 200
    assert "Choose the type" in first_step.content.decode()
    form_page = client.get(ISSUE, {"type": "age"}).content.decode()
    assert "Date of birth" in form_page and 'type="date"' in form_page
    response = client.post(
        _issue_url("age"),
        {"email": "Wanjiru@Example.org", "claim_birthDate": "1990-02-03", "valid_until": ""},
        follow=True,
    )

    assert response.redirect_chain == [(LIST, 302)]
    page = response.content.decode()
    assert "Age (date of birth) issued to wanjiru@example.org." in page
    record = CredentialRecord.objects.get()
    assert (record.holder, record.issued_by, record.credential_type) == (wanjiru, juma, "age")
    assert record.claims == {"birthDate": "1990-02-03"}
    assert record.valid_until is None  # an age credential does not expire
    assert _listed(response) == [record]
    for shown in ("Age (date of birth)", "Wanjiru Kamau", "wanjiru@example.org", "Juma Otieno"):
        assert shown in page
    [entry] = credential_selectors.credit_record(holder=wanjiru)
    assert entry.record == record and entry.state == "valid"


def test_money_country_and_date_claims_come_from_their_own_fields(client, amina, wanjiru):
    client.force_login(amina)

    kyc_form = client.get(ISSUE, {"type": "kyc"}).content.decode()
    assert '<option value="KE">Kenya</option>' in kyc_form
    client.post(
        _issue_url("monthly_income"),
        {
            "email": wanjiru.email,
            "claim_monthlyIncome__amount": " 450.50 ",
            "claim_monthlyIncome__currency": "KES",
            "valid_until": "2031-01-31",
        },
    )
    client.post(
        _issue_url("kyc"),
        {"email": wanjiru.email, **{f"claim_{k}": v for k, v in KYC_CLAIMS.items()}},
    )
    client.post(
        _issue_url("repayment_history"),
        {
            "email": wanjiru.email,
            "claim_loansRepaid": "3",
            "claim_loansRepaidOnTime": "2",
            "claim_loansWrittenOff": "0",
            "claim_totalRepaid__amount": "1200",
            "claim_totalRepaid__currency": "KES",
            "claim_lastLoanClosedOn": "",
        },
    )

    income, kyc, history = CredentialRecord.objects.order_by("id")
    assert income.claims == {"monthlyIncome": {"amount": "450.50", "currency": "KES"}}
    assert income.valid_until.date().isoformat() == "2031-01-31"
    assert kyc.format == "sd-jwt" and kyc.claims == KYC_CLAIMS
    # An optional claim left empty is left out, integers stay integers.
    assert history.claims == {
        "loansRepaid": 3,
        "loansRepaidOnTime": 2,
        "loansWrittenOff": 0,
        "totalRepaid": {"amount": "1200", "currency": "KES"},
    }


@pytest.mark.parametrize(
    "credential_type, fields, field, message",
    [
        ("age", {"claim_birthDate": "1990-02-31"}, "claim_birthDate", "Enter a valid date."),
        ("citizenship", {"claim_citizenship": "XX"}, "claim_citizenship", "Select a valid choice"),
        # The form takes any text as an amount; the service's schema refuses this one, and the
        # form puts its message beside the amount.
        (
            "monthly_income",
            {"claim_monthlyIncome__amount": "12,50", "claim_monthlyIncome__currency": "KES"},
            "claim_monthlyIncome__amount",
            "does not match",
        ),
        ("land_size", {"claim_landSizeHectares": ""}, "claim_landSizeHectares", "required"),
    ],
)
def test_a_wrong_claim_is_shown_on_the_form_and_nothing_is_stored(
    client, juma, wanjiru, credential_type, fields, field, message
):
    client.force_login(juma)

    response = client.post(_issue_url(credential_type), {"email": wanjiru.email, **fields})

    assert response.status_code == 200
    assert message in " ".join(response.context["form"].errors[field])
    assert 'class="field has-error"' in response.content.decode()
    assert not CredentialRecord.objects.exists()
    assert not StatusList.objects.exists()


def test_credentials_go_to_borrowers_with_an_account_and_valid_until_is_in_the_future(
    client, juma, ines, wanjiru
):
    client.force_login(juma)

    def errors(**data):
        response = client.post(
            _issue_url("age"), {"email": ines.email, "claim_birthDate": "1990-02-03", **data}
        )
        assert response.status_code == 200
        return response.context["form"].errors

    assert "borrowers" in errors()["email"][0]
    assert errors(email="nobody@example.org")["email"] == ["No account with this e-mail address."]
    yesterday = (timezone.localdate() - timedelta(days=1)).isoformat()
    assert errors(email=wanjiru.email, valid_until=yesterday)["valid_until"] == [
        "The end of validity must be in the future."
    ]
    assert not CredentialRecord.objects.exists()


def test_an_unknown_type_goes_back_to_choosing_one(client, juma):
    client.force_login(juma)

    response = client.get(ISSUE, {"type": "horoscope"})

    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()


# --- who may see and do what -----------------------------------------------------------------


@pytest.mark.parametrize("persona", ["wanjiru", "ines"])
def test_borrowers_and_investors_get_403_on_every_staff_credentials_page(
    client, request, persona, issue, juma, otieno
):
    record = issue(juma, otieno)
    client.force_login(request.getfixturevalue(persona))
    detail = reverse("staff:credential", args=[record.pk])
    revoke = reverse("staff:credential-revoke", args=[record.pk])

    for url in (LIST, ISSUE, _issue_url("age"), BULK, f"{TEMPLATE}?type=age", detail):
        assert client.get(url).status_code == 403, url
    assert client.post(_issue_url("age"), {"email": otieno.email}).status_code == 403
    assert client.post(BULK, {"file": _csv("email,type\n")}).status_code == 403
    assert client.post(revoke, {"reason": "Because"}).status_code == 403
    record.refresh_from_db()
    assert record.revoked_at is None
    assert CredentialRecord.objects.count() == 1


def test_amina_revokes_with_a_reason_and_the_list_shows_it(client, issue, amina, juma, wanjiru):
    record = issue(juma, wanjiru)
    client.force_login(amina)

    detail = client.get(reverse("staff:credential", args=[record.pk])).content.decode()
    for fact in (
        record.issuer_did,
        record.holder_did,
        f"list {record.status_list_number}, index {record.status_index}",
        "Date of birth",
        "1990-02-03",
        "Revoke the credential",
    ):
        assert fact in detail
    response = client.post(
        reverse("staff:credential-revoke", args=[record.pk]),
        {"reason": "Birth certificate forged"},
        follow=True,
    )

    assert response.redirect_chain == [(LIST, 302)]
    record.refresh_from_db()
    assert record.revoked_by == amina and record.revocation_reason == "Birth certificate forged"
    revoked = client.get(LIST, {"state": "revoked"})
    assert _listed(revoked) == [record]
    page = revoked.content.decode()
    assert "Revoked" in page and "Birth certificate forged" in page and "Amina Wekesa" in page
    assert _listed(client.get(LIST, {"state": "valid"})) == []
    [entry] = credential_selectors.credit_record(holder=wanjiru)
    assert entry.state == "revoked"


def test_a_revocation_needs_a_reason(client, issue, amina, wanjiru):
    record = issue(amina, wanjiru)
    client.force_login(amina)

    response = client.post(reverse("staff:credential-revoke", args=[record.pk]), {"reason": " "})

    assert response.status_code == 200
    assert response.context["form"].errors["reason"] == ["This field is required."]
    record.refresh_from_db()
    assert record.revoked_at is None


def test_juma_cannot_revoke_and_the_credential_stays_valid(client, issue, juma, wanjiru):
    record = issue(juma, wanjiru)
    client.force_login(juma)

    detail = client.get(reverse("staff:credential", args=[record.pk])).content.decode()
    response = client.post(reverse("staff:credential-revoke", args=[record.pk]), {"reason": "Oops"})

    assert "Only admins of Kijani Microfinance can revoke" in detail
    assert "Revoke the credential" not in detail
    assert response.status_code == 403
    record.refresh_from_db()
    assert record.revoked_at is None
    [entry] = credential_selectors.credit_record(holder=wanjiru)
    assert entry.state == "valid"


def test_another_originators_admin_gets_404_for_kijanis_credentials(client, issue, juma, wanjiru):
    record = issue(juma, wanjiru)
    umoja_admin = StaffFactory(
        role="originator_admin", organization=OrganizationFactory(name="Umoja SACCO")
    )
    client.force_login(umoja_admin)

    assert client.get(reverse("staff:credential", args=[record.pk])).status_code == 404
    revoke = client.post(reverse("staff:credential-revoke", args=[record.pk]), {"reason": "x"})
    assert revoke.status_code == 404
    assert _listed(client.get(LIST)) == []
    record.refresh_from_db()
    assert record.revoked_at is None


def test_the_staff_credentials_pages_do_not_exist_on_an_investor_node(client, settings, amina):
    settings.GROWR_NODE_ROLE = "investor"
    client.force_login(amina)

    assert client.get(LIST).status_code == 404


# --- the list --------------------------------------------------------------------------------


def test_the_list_filters_by_type_state_and_borrower_email(
    client, issue, amina, juma, wanjiru, otieno
):
    age = issue(juma, wanjiru)
    income = issue(
        juma, otieno, "monthly_income", {"monthlyIncome": {"amount": "300", "currency": "KES"}}
    )
    expired = issue(amina, otieno, "citizenship", {"citizenship": "KE"})
    CredentialRecord.objects.filter(pk=expired.pk).update(
        valid_until=timezone.now() - timedelta(days=1)
    )
    credential_services.credential_revoke(actor=amina, credential=income, reason="Wrong slip")
    client.force_login(juma)

    assert _listed(client.get(LIST)) == [expired, income, age]  # newest first
    assert _listed(client.get(LIST, {"type": "monthly_income"})) == [income]
    assert _listed(client.get(LIST, {"state": "valid"})) == [age]
    assert _listed(client.get(LIST, {"state": "expired"})) == [expired]
    assert _listed(client.get(LIST, {"state": "revoked"})) == [income]
    assert _listed(client.get(LIST, {"email": "OTIENO@"})) == [expired, income]
    assert _listed(client.get(LIST, {"email": "otieno", "state": "expired"})) == [expired]
    # A made-up filter value filters nothing rather than failing.
    assert len(_listed(client.get(LIST, {"state": "lost", "type": "horoscope"}))) == 3
    assert (
        "No credential matches these filters."
        in client.get(LIST, {"email": "nobody"}).content.decode()
    )


def test_the_list_costs_the_same_queries_for_3_or_30_credentials(
    client, issue, amina, juma, wanjiru, otieno
):
    def issue_some(count: int) -> None:
        for n in range(count):
            record = issue(amina if n % 2 else juma, otieno if n % 3 else wanjiru)
            if n % 4 == 0:
                credential_services.credential_revoke(actor=amina, credential=record, reason="x")

    issue_some(3)
    client.force_login(juma)
    few = page_queries(client, LIST)

    issue_some(27)
    many = page_queries(client, LIST)

    assert many == few
    assert page_queries(client, f"{LIST}?page=2&state=valid") <= few
    response = client.get(LIST, {"page": "2"})
    assert len(_listed(response)) == 5 and "Page 2 of 2" in response.content.decode()


def test_the_page_lists_whom_the_node_trusts(client, issue, settings, juma, wanjiru, ngozi):
    issue(juma, wanjiru)  # Kijani's DID is made with its first credential
    from_settings = Ed25519Key.generate().did
    added = Ed25519Key.generate().did
    settings.GROWR_TRUSTED_ISSUERS = [from_settings]
    credential_services.trusted_issuer_add(actor=ngozi, did=added, label="Umoja SACCO")
    client.force_login(juma)

    page = client.get(LIST).content.decode()

    kijani_did = Wallet.objects.get(organization=juma.organization).did
    for shown in (kijani_did, "Organization on this node", from_settings, added, "Umoja SACCO"):
        assert shown in page


def test_the_dashboard_links_to_the_credentials(client, issue, juma, wanjiru):
    issue(juma, wanjiru)
    client.force_login(juma)

    page = client.get("/staff/").content.decode()

    assert f'href="{LIST}"' in page
    assert "Credentials" in page and '<span class="stat-value">1</span> issued' in page
    credentials_page = client.get(LIST).content.decode()
    assert f'<a href="{LIST}" aria-current="page">Credentials</a>' in credentials_page


# --- bulk issuing from a CSV file ------------------------------------------------------------


def test_juma_issues_credentials_from_a_csv_file(client, juma, wanjiru, otieno):
    client.force_login(juma)
    text = (
        "email,type,valid_until,birthDate,monthlyIncome.amount,monthlyIncome.currency\n"
        f"{wanjiru.email},age,,1990-02-03,,\n"
        f"{otieno.email},monthly_income,2031-01-01,,450.50,KES\n"
    )

    response = client.post(BULK, {"file": _csv(text)}, follow=True)

    assert response.redirect_chain == [(LIST, 302)]
    assert "2 credentials issued." in response.content.decode()
    assert sorted(CredentialRecord.objects.values_list("credential_type", flat=True)) == [
        "age",
        "monthly_income",
    ]


def test_a_refused_file_lists_every_row_error_and_issues_nothing(client, juma, wanjiru):
    client.force_login(juma)
    text = (
        "email,type,birthDate\n"
        f"{wanjiru.email},age,1990-02-03\n"
        "nobody@example.org,age,1990-01-01\n"
        f"{wanjiru.email},age,\n"
        f"{wanjiru.email},horoscope,\n"
    )

    response = client.post(BULK, {"file": _csv(text)})

    assert response.status_code == 200
    page = response.content.decode()
    assert "Nothing was issued." in page
    assert response.context["row_errors"] == [
        "Row 3: email: No account with this e-mail address.",
        "Row 4: claims: 'birthDate' is a required property",
        "Row 5: credential_type: Unknown credential type 'horoscope'.",
    ]
    assert "Row 3: email: No account with this e-mail address." in page
    assert not CredentialRecord.objects.exists()


def test_an_oversized_upload_is_refused_with_a_clear_message(client, juma, wanjiru):
    client.force_login(juma)
    row = f"{wanjiru.email},age,,1990-02-03\n"
    text = "email,type,valid_until,birthDate\n" + row * (MAX_CSV_BYTES // len(row) + 1)

    response = client.post(BULK, {"file": _csv(text)})

    assert response.status_code == 200
    assert response.context["form"].errors["file"] == [
        "The file is larger than 1 MB: split it into smaller files."
    ]
    assert "The file is larger than 1 MB" in response.content.decode()
    assert not CredentialRecord.objects.exists()


def test_uploading_without_a_file_asks_for_one(client, juma):
    client.force_login(juma)

    response = client.post(BULK, {})

    assert response.context["form"].errors["file"] == ["Choose a CSV file to upload."]


def test_the_upload_still_needs_the_csrf_token(juma, wanjiru):
    # The page reads the body itself, once its upload limit is in place, so it checks the
    # token itself too.
    client = Client(enforce_csrf_checks=True)
    client.force_login(juma)
    text = f"email,type,birthDate\n{wanjiru.email},age,1990-02-03\n"

    forged = client.post(BULK, {"file": _csv(text)})
    assert forged.status_code == 403
    assert not CredentialRecord.objects.exists()

    token = client.get(BULK).context["csrf_token"]
    genuine = client.post(BULK, {"file": _csv(text), "csrfmiddlewaretoken": str(token)})
    assert genuine.status_code == 302
    assert CredentialRecord.objects.count() == 1


def test_the_csv_template_of_a_type_names_its_claim_columns(client, juma, otieno):
    client.force_login(juma)

    income = client.get(TEMPLATE, {"type": "monthly_income"})
    age = client.get(TEMPLATE, {"type": "age"})

    assert income["Content-Type"] == "text/csv; charset=utf-8"
    disposition = 'attachment; filename="growr-credentials-monthly_income.csv"'
    assert income["Content-Disposition"] == disposition
    header = income.content.decode()
    assert header == "email,type,valid_until,monthlyIncome.amount,monthlyIncome.currency\r\n"
    assert age.content.decode() == "email,type,valid_until,birthDate\r\n"
    assert client.get(TEMPLATE, {"type": "horoscope"}).status_code == 404
    # The template, filled in, is a file the upload takes.
    filled = header + f"{otieno.email},monthly_income,,300,KES\r\n"
    assert client.post(BULK, {"file": _csv(filled)}).status_code == 302
    assert CredentialRecord.objects.get().claims == {
        "monthlyIncome": {"amount": "300", "currency": "KES"}
    }


# --- the node operator's admin ---------------------------------------------------------------


def test_ngozi_trusts_and_distrusts_issuers_in_the_admin_through_the_services(
    client, ngozi, django_capture_on_commit_callbacks
):
    client.force_login(ngozi)
    umoja, shamba = Ed25519Key.generate().did, Ed25519Key.generate().did

    with django_capture_on_commit_callbacks() as republished:
        for did, label in ((umoja, "Umoja SACCO"), (shamba, "Shamba Bank")):
            added = client.post(
                reverse("admin:identity_trustedissuer_add"), {"did": did, "label": label}
            )
            assert added.status_code == 302
    assert [c.__name__ for c in republished] == ["_republish_profile"] * 2
    assert set(TrustedIssuer.objects.values_list("did", "added_by")) == {
        (umoja, ngozi.pk),
        (shamba, ngozi.pk),
    }

    wrong = client.post(
        reverse("admin:identity_trustedissuer_add"), {"did": "did:web:x", "label": "X"}
    )
    assert wrong.status_code == 200 and "did" in wrong.context["adminform"].form.errors
    assert TrustedIssuer.objects.count() == 2

    one = TrustedIssuer.objects.get(did=umoja)
    change = reverse("admin:identity_trustedissuer_change", args=[one.pk])
    assert 'name="did"' not in client.get(change).content.decode()  # the DID is the issuer
    assert client.post(change, {"label": "Umoja SACCO Ltd"}).status_code == 302
    one.refresh_from_db()
    assert (one.did, one.label) == (umoja, "Umoja SACCO Ltd")

    with django_capture_on_commit_callbacks() as republished:
        deleted = client.post(
            reverse("admin:identity_trustedissuer_delete", args=[one.pk]), {"post": "yes"}
        )
        assert deleted.status_code == 302
        bulk = client.post(
            reverse("admin:identity_trustedissuer_changelist"),
            {
                "action": "delete_selected",
                "_selected_action": [TrustedIssuer.objects.get().pk],
                "post": "yes",
            },
        )
        assert bulk.status_code == 302
    assert len(republished) == 2
    assert not TrustedIssuer.objects.exists()


def test_the_operator_sees_credentials_in_the_admin_without_their_claims(
    client, issue, juma, wanjiru, ngozi
):
    record = issue(juma, wanjiru)
    client.force_login(ngozi)

    listing = client.get(reverse("admin:identity_credentialrecord_changelist"))
    detail = client.get(reverse("admin:identity_credentialrecord_change", args=[record.pk]))

    assert listing.status_code == 200 and wanjiru.email in listing.content.decode()
    assert detail.status_code == 200
    assert record.credential_id in detail.content.decode()
    assert "1990-02-03" not in detail.content.decode()
    assert client.get(reverse("admin:identity_credentialrecord_add")).status_code == 403
