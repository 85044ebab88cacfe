"""Originator staff issue credentials into borrowers' credit records and revoke them through
the public credential status book."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from apps.identity import credential_selectors, credential_services
from apps.identity.models import CredentialRecord, Wallet
from apps.identity.ssi import credentials as vc
from apps.ledger.entries import decode_entry
from apps.ledger.models import Book, OutboxEntry
from apps.ledger.services import outbox_flush

from .conftest import KYC_CLAIMS


def _status_entries():
    return [
        decode_entry(bytes(e.data))
        for e in OutboxEntry.objects.filter(book=Book.CREDENTIAL_STATUS).order_by("id")
    ]


def test_an_agent_issues_an_age_credential_signed_by_the_organization(issue, juma, wanjiru):
    record = issue(juma, wanjiru)

    org_did = Wallet.objects.get(organization=juma.organization).did
    holder_did = Wallet.objects.get(user=wanjiru).did
    assert record.issuer_did == org_did
    assert record.holder_did == holder_did
    parsed = vc.read_ldp(record.document)
    vc.verify_ldp_proof(parsed)
    assert parsed.claims == {"birthDate": "1990-02-03"}
    assert parsed.status.issuer == org_did
    # The organization's first list went to the status book with the credential.
    [entry] = _status_entries()
    assert entry["value"]["issuer"] == org_did and entry["value"]["seq"] == 0


def test_a_borrower_cannot_issue_credentials(issue, wanjiru, otieno):
    with pytest.raises(PermissionDenied):
        issue(wanjiru, otieno)
    assert not CredentialRecord.objects.exists()


def test_credentials_go_to_borrowers_only(issue, amina, ines):
    with pytest.raises(ValidationError, match="borrowers"):
        issue(amina, ines)


def test_claims_that_break_the_schema_are_refused_and_nothing_is_stored(issue, amina, wanjiru):
    with pytest.raises(ValidationError) as refused:
        issue(amina, wanjiru, "citizenship", {"citizenship": "XX"})
    assert "'XX' is not a known code" in str(refused.value)
    with pytest.raises(ValidationError):
        issue(amina, wanjiru, "age", {"birthDate": "1990-02-03", "name": "Wanjiru"})
    assert not CredentialRecord.objects.exists()
    assert not _status_entries()


def test_kyc_is_an_sd_jwt_with_one_disclosure_per_claim(issue, amina, wanjiru):
    record = issue(amina, wanjiru, "kyc", KYC_CLAIMS)

    assert record.format == "sd-jwt"
    issued_jwt = record.document.split("~")[0]
    assert "Wanjiru" not in issued_jwt  # names travel only in disclosures
    assert vc.read_any(record.document).claims == KYC_CLAIMS


def test_each_credential_gets_its_own_bit(issue, amina, wanjiru, otieno):
    first = issue(amina, wanjiru)
    second = issue(amina, otieno)

    assert first.status_list_id == second.status_list_id
    assert first.status_index != second.status_index


def test_revoking_flips_the_bit_in_a_newly_signed_list(issue, amina, juma, wanjiru):
    record = issue(
        juma, wanjiru, "monthly_income", {"monthlyIncome": {"amount": "300.00", "currency": "KES"}}
    )

    credential_services.credential_revoke(actor=amina, credential=record, reason="Payslip forged")

    record.refresh_from_db()
    assert record.revoked_at is not None and record.revoked_by == amina
    latest = _status_entries()[-1]["value"]
    assert latest["seq"] == 1
    [entry] = credential_selectors.credit_record(holder=wanjiru)
    assert entry.state == "revoked"
    # Any node reading the book sees it: the signed list from the book says revoked too.
    outbox_flush(book=Book.CREDENTIAL_STATUS)
    parsed = vc.read_ldp(record.document)
    bits = credential_selectors._replicated_lists(
        {(parsed.status.issuer, parsed.status.list, "revocation")}
    )
    assert bits[(parsed.status.issuer, parsed.status.list, "revocation")][parsed.status.index]


def test_another_organization_cannot_revoke(issue, amina, wanjiru):
    from tests.factories import OrganizationFactory, StaffFactory

    other = StaffFactory(role="originator_admin", organization=OrganizationFactory(name="Umoja"))
    record = issue(amina, wanjiru)

    with pytest.raises(PermissionDenied):
        credential_services.credential_revoke(actor=other, credential=record, reason="")
    record.refresh_from_db()
    assert record.revoked_at is None


def test_bulk_issue_from_csv_is_all_or_nothing(amina, wanjiru, otieno):
    good = (
        "email,type,birthDate,monthlyIncome.amount,monthlyIncome.currency,valid_until\n"
        f"{wanjiru.email},age,1990-02-03,,,\n"
        f"{otieno.email},monthly_income,,450.50,KES,2030-01-01\n"
    ).encode()
    bad = good + b"nobody@example.org,age,1990-01-01,,,\n" + f"{otieno.email},age,,,,\n".encode()

    refused = credential_services.credentials_issue_csv(issuer=amina, data=bad)
    assert refused.issued == []
    assert refused.errors == [
        "Row 4: email: No account with this e-mail address.",
        "Row 5: claims: 'birthDate' is a required property",
    ]
    assert not CredentialRecord.objects.exists()

    done = credential_services.credentials_issue_csv(issuer=amina, data=good)
    assert done.errors == []
    assert [r.credential_type for r in done.issued] == ["age", "monthly_income"]
    assert done.issued[1].claims == {"monthlyIncome": {"amount": "450.50", "currency": "KES"}}


@pytest.mark.parametrize(
    "data, message",
    [
        (b"\xff\xfe\x00garbage", "not a UTF-8 CSV"),
        (b"email,type\n", "no rows"),
        (b"mail,kind\nx,y\n", "email and type"),
        (b"email,type\n" + b"a@b.c,age\n" * 1001, "At most 1000 rows"),
    ],
)
def test_a_broken_csv_is_refused_with_a_reason(amina, data, message):
    result = credential_services.credentials_issue_csv(issuer=amina, data=data)
    assert result.issued == [] and message in result.errors[0]
