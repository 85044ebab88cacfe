"""The loans API as its people use it: Wanjiru applies with a presentation, Juma and Amina review,
she signs, Juma disburses and records her payments until the loan closes and her credit record
gains a credential; Otieno signs with his own key from the command line. Every answer has the
shape the OpenAPI schema documents, and every bad request is a 400 naming the field, never a
500."""

from __future__ import annotations

import json
import re
import threading
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.db import connection
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from apps.applications import services
from apps.applications.agreement import agreement_hash, verify_signed_agreement
from apps.applications.consent import CONSENT_VERSION
from apps.applications.models import Agreement, Loan, LoanStatus, Repayment
from apps.identity import credential_services
from apps.projects.services import project_create, project_publish
from tests.factories import OrganizationFactory, StaffFactory
from tests.openapi import schema_errors
from tests.projects.conftest import goat_terms

from .conftest import PASSWORD


@pytest.fixture
def as_():
    def client_for(person=None):
        client = APIClient()
        if person is not None:
            client.force_authenticate(person)
        return client

    return client_for


def _schema_ok(answers) -> None:
    """ANSWERS: (path template, method, response); each must match the served schema."""
    anyone = APIClient()
    for path, method, answer in answers:
        assert schema_errors(anyone, path, answer, method) == [], (path, method, answer.json())


def _apply(client, borrower, project, amount="20000", duration=12, **extra):
    """Apply through the API: the challenge, a custodial presentation of what it asks for (the
    node signs it, on the borrower's choice), then the application."""
    asked = client.post(reverse("api-loan-challenge"), {"project": str(project.pk)}, format="json")
    assert asked.status_code in (200, 201), asked.content
    envelope = None
    if asked.json()["credentials_required"]:
        challenge = asked.json()["challenge"]
        wanted = [
            r.pk for r in borrower.credentials.all() if r.credential_type in challenge["request"]
        ]
        envelope = credential_services.presentation_build_custodial(
            holder=borrower, nonce=challenge["nonce"], credential_ids=wanted, disclose={}
        )
    body = {
        "project": str(project.pk),
        "amount": amount,
        "duration": duration,
        "purpose": "Two in-calf goats and a shed.",
        "consent_version": CONSENT_VERSION,
        "presentation": envelope,
        **extra,
    }
    return asked, client.post(reverse("api-loans"), body, format="json")


def _fields(answer) -> dict:
    assert answer.status_code == 400, (answer.status_code, answer.content)
    return answer.json()["error"]["fields"]


# --- the whole story -------------------------------------------------------------------------


def test_wanjiru_borrows_through_the_api_until_her_loan_closes_and_her_record_shows_it(
    as_, goats, credentials_of, wanjiru, juma, django_capture_on_commit_callbacks
):
    credentials_of(wanjiru)
    borrower, agent, anyone = as_(wanjiru), as_(juma), as_()
    answers = []

    asked, applied = _apply(borrower, wanjiru, goats, amount="20000.00", duration=12)
    assert asked.status_code == 201
    assert asked.json()["challenge"]["request"] == {
        "age": ["birthDate"],
        "citizenship": ["citizenship"],
    }
    assert applied.status_code == 201, applied.content
    loan = applied.json()
    assert loan["status"] == "submitted" and loan["amount"] == "20000.00"
    assert loan["schedule"] == [] and loan["agreement"] is None
    answers += [("/api/loans/challenge/", "post", asked), ("/api/loans/", "post", applied)]
    url = reverse("api-staff-loan", args=[loan["id"]])

    queue = agent.get(reverse("api-staff-loans"), {"state": "to_review"})
    assert [row["id"] for row in queue.json()["results"]] == [loan["id"]]
    review = agent.get(url)
    assert review.json()["presentation"]["disclosed"] == {
        "age": {"birthDate": "1990-02-03"},
        "citizenship": {"citizenship": "KE"},
    }
    assert {r["status"] for r in review.json()["eligibility"]} == {"met"}
    assert [e["action"] for e in review.json()["events"]] == ["submitted"]
    answers += [("/api/staff/loans/", "get", queue), ("/api/staff/loans/{id}/", "get", review)]

    approved = agent.post(reverse("api-staff-loan-approve", args=[loan["id"]]))
    assert approved.status_code == 200 and approved.json()["status"] == "approved"
    answers.append(("/api/staff/loans/{id}/approve/", "post", approved))

    agreement = borrower.get(reverse("api-loan-agreement", args=[loan["id"]]))
    document = agreement.json()["document"]
    assert agreement.json()["hash"] == agreement_hash(document)
    assert document["terms"]["principal"] == "20000.00"
    assert [s["signed"] for s in agreement.json()["signatures"]] == [True, False]
    wrong = borrower.post(
        reverse("api-loan-agreement-sign", args=[loan["id"]]), {"password": "no"}, format="json"
    )
    assert _fields(wrong) == {"password": ["Your password, to sign, is not right."]}
    signed = borrower.post(
        reverse("api-loan-agreement-sign", args=[loan["id"]]), {"password": PASSWORD}, format="json"
    )
    assert signed.status_code == 200 and signed.json()["fully_signed"]
    answers += [
        ("/api/loans/{id}/agreement/", "get", agreement),
        ("/api/loans/{id}/agreement/sign/", "post", signed),
    ]

    verified = anyone.post(
        reverse("api-agreement-verify"), signed.json()["signed_file"], format="json"
    )
    assert verified.status_code == 200, verified.content
    assert verified.json()["fully_signed"] and verified.json()["hash"] == agreement.json()["hash"]
    assert [(s["role"], s["valid"]) for s in verified.json()["signatures"]] == [
        ("originator", True),
        ("borrower", True),
    ]
    answers.append(("/api/agreements/verify/", "post", verified))

    with django_capture_on_commit_callbacks(execute=True):
        disbursed = agent.post(
            reverse("api-staff-loan-disburse", args=[loan["id"]]),
            {"rail": "mobile_money", "reference": "QX1"},
            format="json",
        )
    assert disbursed.status_code == 200 and disbursed.json()["status"] == "active"
    answers.append(("/api/staff/loans/{id}/disburse/", "post", disbursed))
    code = re.search(r"code on your loan's page: (\d{6})", mail.outbox[-1].body).group(1)
    confirm = reverse("api-loan-disbursement-confirm", args=[loan["id"]])
    assert _fields(borrower.post(confirm, {"code": "000000"}, format="json"))["code"]
    confirmed = borrower.post(confirm, {"code": code}, format="json")
    assert confirmed.status_code == 200 and confirmed.json()["confirmed_at"]
    answers.append(("/api/loans/{id}/disbursement/confirm/", "post", confirmed))

    mine = borrower.get(reverse("api-loan", args=[loan["id"]])).json()
    rows = mine["schedule"]
    assert [r["number"] for r in rows] == list(range(13))
    assert rows[0]["fee"] == "300.00"  # 1.5% of 20,000
    owed = sum(Decimal(r["total_due"]) for r in rows)
    assert Decimal(mine["outstanding"]) == owed

    paid = agent.post(
        reverse("api-staff-loan-repayments", args=[loan["id"]]),
        {
            "amount": str(owed),
            "reference": "QX2",
            "rail": "mobile_money",
            "paid_on": timezone.localdate().isoformat(),
        },
        format="json",
    )
    assert paid.status_code == 201, paid.content
    assert paid.json()["status"] == "applied" and paid.json()["principal"] == "20000.00"
    answers.append(("/api/staff/loans/{id}/repayments/", "post", paid))

    closed = borrower.get(reverse("api-loan", args=[loan["id"]]))
    assert closed.json()["status"] == "closed" and closed.json()["outstanding"] == "0.00"
    assert closed.json()["principal_repaid"] == "20000.00"
    answers += [
        ("/api/loans/{id}/", "get", closed),
        ("/api/loans/", "get", borrower.get(reverse("api-loans"))),
    ]
    record = borrower.get(reverse("api-credentials")).json()
    [history] = [e for e in record if e["credential"]["credential_type"] == "repayment_history"]
    assert history["state"] == "valid" and history["credential"]["claims"]["loansRepaid"] == 1
    trail = agent.get(url)
    assert {"approved", "agreement_signed", "disbursed", "repayment_applied", "closed"} <= {
        e["action"] for e in trail.json()["events"]
    }
    answers.append(("/api/staff/loans/{id}/", "get", trail))
    _schema_ok(answers)


# --- review ----------------------------------------------------------------------------------


def test_an_agent_may_not_approve_above_the_limit_twice_and_amina_completes_it(
    as_, goats, credentials_of, wanjiru, juma, amina
):
    credentials_of(wanjiru)
    limits = reverse("api-staff-approval-limits")
    refused = as_(juma).put(limits, {"currency": "KES", "amount": "15000.00"}, format="json")
    assert refused.status_code == 403
    set_limit = as_(amina).put(limits, {"currency": "KES", "amount": "15000.00"}, format="json")
    assert set_limit.status_code == 200, set_limit.content
    assert set_limit.json()[0]["amount"] == "15000.00"
    assert set_limit.json()[0]["updated_by"] == "Amina Wekesa"
    read = as_(juma).get(limits)
    _, applied = _apply(as_(wanjiru), wanjiru, goats, amount="20000")
    approve = reverse("api-staff-loan-approve", args=[applied.json()["id"]])

    first = as_(juma).post(approve)
    assert first.status_code == 200
    assert first.json()["status"] == "submitted" and first.json()["needs_second_approval"]
    assert first.json()["first_approved_by"] == "Juma Otieno"
    queue = as_(juma).get(reverse("api-staff-loans"), {"state": "second_approval"}).json()
    assert [row["id"] for row in queue["results"]] == [applied.json()["id"]]
    again = as_(juma).post(approve)
    assert again.status_code == 403
    assert "another staff member must approve" in again.json()["error"]["message"]
    second = as_(amina).post(approve)
    assert second.status_code == 200 and second.json()["status"] == "approved"
    assert second.json()["decided_by"] == "Amina Wekesa"

    removed = as_(amina).put(limits, {"currency": "KES", "amount": None}, format="json")
    assert removed.status_code == 200 and removed.json() == []
    _schema_ok(
        [
            ("/api/staff/approval-limits/", "put", set_limit),
            ("/api/staff/approval-limits/", "get", read),
            ("/api/staff/loans/{id}/approve/", "post", again),
        ]
    )


def test_juma_asks_wanjiru_a_question_she_answers_and_he_rejects_with_a_reason(
    as_, goats, credentials_of, wanjiru, juma
):
    credentials_of(wanjiru)
    _, applied = _apply(as_(wanjiru), wanjiru, goats)
    pk = applied.json()["id"]

    asked = as_(juma).post(
        reverse("api-staff-loan-request-information", args=[pk]),
        {"question": "How many goats do you keep today?"},
        format="json",
    )
    assert asked.status_code == 201 and asked.json()["from_staff"]
    assert as_(wanjiru).get(reverse("api-loan", args=[pk])).json()["awaiting"] == "borrower"
    answered = as_(wanjiru).post(
        reverse("api-loan-messages", args=[pk]), {"body": "Three, and a shed."}, format="json"
    )
    assert answered.status_code == 201 and not answered.json()["from_staff"]
    thread = as_(juma).get(reverse("api-staff-loan-messages", args=[pk]))
    assert [m["body"] for m in thread.json()] == [
        "How many goats do you keep today?",
        "Three, and a shed.",
    ]
    assert as_(juma).get(reverse("api-staff-loan", args=[pk])).json()["awaiting"] == "staff"
    assert "reason" in _fields(
        as_(juma).post(reverse("api-staff-loan-reject", args=[pk]), {}, format="json")
    )
    rejected = as_(juma).post(
        reverse("api-staff-loan-reject", args=[pk]), {"reason": "Too few goats."}, format="json"
    )
    assert rejected.status_code == 200 and rejected.json()["status"] == "rejected"
    assert as_(wanjiru).get(reverse("api-loan", args=[pk])).json()["decision_reason"] == (
        "Too few goats."
    )
    withdrawn = as_(wanjiru).post(reverse("api-loan-withdraw", args=[pk]), {}, format="json")
    assert withdrawn.status_code == 400  # a rejected application is not withdrawn
    _schema_ok(
        [
            ("/api/staff/loans/{id}/request-information/", "post", asked),
            ("/api/loans/{id}/messages/", "post", answered),
            ("/api/staff/loans/{id}/messages/", "get", thread),
            ("/api/staff/loans/{id}/reject/", "post", rejected),
        ]
    )


def test_a_project_without_criteria_needs_no_challenge_and_wanjiru_withdraws(
    as_, juma, amina, wanjiru
):
    project = project_publish(
        actor=amina, project=project_create(actor=juma, terms=goat_terms(eligibility={}))
    )
    asked, applied = _apply(as_(wanjiru), wanjiru, project, amount="6000")

    assert asked.status_code == 200
    assert asked.json() == {"credentials_required": False, "challenge": None}
    assert applied.status_code == 201, applied.content
    withdrawn = as_(wanjiru).post(
        reverse("api-loan-withdraw", args=[applied.json()["id"]]),
        {"reason": "My cousin lent me the money."},
        format="json",
    )
    assert withdrawn.status_code == 200 and withdrawn.json()["status"] == "withdrawn"
    _schema_ok(
        [
            ("/api/loans/challenge/", "post", asked),
            ("/api/loans/{id}/withdraw/", "post", withdrawn),
        ]
    )


# --- who sees what ---------------------------------------------------------------------------


def test_otieno_cannot_reach_wanjirus_loan_nor_another_organization_hers(
    as_, active_loan, wanjiru, otieno, juma
):
    loan = active_loan()
    pk = loan.pk
    stranger = StaffFactory(
        role="originator_admin", organization=OrganizationFactory(name="Other MFI", slug="other")
    )
    otieno_client, stranger_client = as_(otieno), as_(stranger)
    payment = {"amount": "100", "reference": "X", "rail": "cash", "paid_on": "2026-01-01"}

    for answer in [
        otieno_client.get(reverse("api-loan", args=[pk])),
        otieno_client.get(reverse("api-loan-agreement", args=[pk])),
        otieno_client.get(reverse("api-loan-messages", args=[pk])),
        otieno_client.post(reverse("api-loan-withdraw", args=[pk]), {}, format="json"),
        otieno_client.post(reverse("api-loan-repayments", args=[pk]), payment, format="json"),
        otieno_client.post(
            reverse("api-loan-agreement-sign", args=[pk]), {"password": PASSWORD}, format="json"
        ),
        stranger_client.get(reverse("api-staff-loan", args=[pk])),
        stranger_client.post(reverse("api-staff-loan-approve", args=[pk])),
        stranger_client.post(reverse("api-staff-loan-repayments", args=[pk]), payment, "json"),
        stranger_client.post(
            reverse("api-staff-loan-write-off", args=[pk]), {"reason": "x"}, format="json"
        ),
    ]:
        assert answer.status_code == 404, answer.content
        assert answer.json()["error"]["code"] == "not_found"
    assert stranger_client.get(reverse("api-staff-loans")).json()["results"] == []
    assert otieno_client.get(reverse("api-loans")).json()["results"] == []
    # Staff are not borrowers, and borrowers are not staff.
    assert as_(juma).get(reverse("api-loans")).status_code == 403
    assert as_(wanjiru).get(reverse("api-staff-loans")).status_code == 403
    assert APIClient().get(reverse("api-loans")).status_code == 401
    huge = as_(wanjiru).get(reverse("api-loan", args=[10**30]))
    assert huge.status_code == 404
    _schema_ok([("/api/loans/{id}/", "get", huge)])


def test_an_agent_may_not_write_a_loan_off_an_admin_may(as_, active_loan, juma, amina):
    loan = active_loan()
    url = reverse("api-staff-loan-write-off", args=[loan.pk])

    refused = as_(juma).post(url, {"reason": "The borrower moved away."}, format="json")
    assert refused.status_code == 403
    assert Loan.objects.get(pk=loan.pk).status == LoanStatus.ACTIVE
    assert "reason" in _fields(as_(amina).post(url, {"reason": " "}, format="json"))
    written_off = as_(amina).post(url, {"reason": "The borrower moved away."}, format="json")

    assert written_off.status_code == 200 and written_off.json()["status"] == "written_off"
    assert written_off.json()["written_off_amount"] == "12000.00"
    _schema_ok(
        [
            ("/api/staff/loans/{id}/write-off/", "post", refused),
            ("/api/staff/loans/{id}/write-off/", "post", written_off),
        ]
    )


# --- payments --------------------------------------------------------------------------------


def _payment(amount, reference, paid_on=None, rail="mobile_money") -> dict:
    return {
        "amount": amount,
        "reference": reference,
        "rail": rail,
        "paid_on": (paid_on or timezone.localdate()).isoformat(),
    }


def test_the_same_payment_reference_twice_is_applied_once(as_, active_loan, juma, wanjiru):
    loan = active_loan()
    url = reverse("api-staff-loan-repayments", args=[loan.pk])

    first = as_(juma).post(url, _payment("1500.00", "MPESA-RX1"), format="json")
    replay = as_(juma).post(url, _payment("1500.00", "MPESA-RX1"), format="json")
    other_amount = as_(juma).post(url, _payment("1600.00", "MPESA-RX1"), format="json")

    assert first.status_code == 201, first.content
    assert replay.status_code == 200 and replay.json()["id"] == first.json()["id"]
    assert "reference" in _fields(other_amount)
    loan.refresh_from_db()
    assert Repayment.objects.filter(loan=loan).count() == 1
    assert loan.principal_repaid + loan.interest_repaid + loan.fees_repaid == Decimal("1500")
    _schema_ok(
        [
            ("/api/staff/loans/{id}/repayments/", "post", first),
            ("/api/staff/loans/{id}/repayments/", "post", replay),
        ]
    )


def test_wanjiru_reports_payments_juma_confirms_one_and_refuses_the_other(
    as_, active_loan, juma, wanjiru
):
    loan = active_loan()
    url = reverse("api-loan-repayments", args=[loan.pk])
    reported = as_(wanjiru).post(url, _payment("1000.00", "MP-1"), format="json")
    again = as_(wanjiru).post(url, _payment("1000.00", "MP-1"), format="json")
    never_arrived = as_(wanjiru).post(url, _payment("500.00", "MP-2"), format="json")
    assert reported.status_code == 201 and reported.json()["status"] == "reported"
    assert again.status_code == 200 and again.json()["id"] == reported.json()["id"]

    pending = as_(juma).get(reverse("api-staff-repayments"))
    assert {p["reference"] for p in pending.json()["results"]} == {"MP-1", "MP-2"}
    confirm = reverse("api-staff-repayment-confirm", args=[reported.json()["id"]])
    confirmed = as_(juma).post(confirm)
    assert confirmed.status_code == 200 and confirmed.json()["status"] == "applied"
    assert as_(juma).post(confirm).json() == confirmed.json()  # confirming again changes nothing
    refused = as_(juma).post(
        reverse("api-staff-repayment-reject", args=[never_arrived.json()["id"]]),
        {"reason": "No such M-Pesa transaction."},
        format="json",
    )
    assert refused.status_code == 200 and refused.json()["status"] == "rejected"
    mine = as_(wanjiru).get(reverse("api-loan", args=[loan.pk])).json()
    assert {(p["reference"], p["status"]) for p in mine["repayments"]} == {
        ("MP-1", "applied"),
        ("MP-2", "rejected"),
    }
    assert as_(wanjiru).post(confirm).status_code == 403
    _schema_ok(
        [
            ("/api/loans/{id}/repayments/", "post", reported),
            ("/api/loans/{id}/repayments/", "post", again),
            ("/api/staff/repayments/", "get", pending),
            ("/api/staff/repayments/{id}/confirm/", "post", confirmed),
            ("/api/staff/repayments/{id}/reject/", "post", refused),
        ]
    )


def test_an_over_payment_is_refunded_and_the_loan_closes(as_, active_loan, juma):
    loan = active_loan(amount="6000", duration=6)
    owed = sum(row.total_due for row in loan.installments.all())
    paid = as_(juma).post(
        reverse("api-staff-loan-repayments", args=[loan.pk]),
        _payment(str(owed + 250), "BANK-77", rail="bank_transfer"),
        format="json",
    )
    assert paid.status_code == 201 and paid.json()["overpaid"] == "250.00"
    detail = as_(juma).get(reverse("api-staff-loan", args=[loan.pk])).json()
    assert detail["status"] == "overpaid" and detail["overpaid"] == "250.00"

    assert "rail" in _fields(
        as_(juma).post(
            reverse("api-staff-loan-refund", args=[loan.pk]),
            {"rail": "pigeon", "reference": "R1"},
            format="json",
        )
    )
    refunded = as_(juma).post(
        reverse("api-staff-loan-refund", args=[loan.pk]),
        {"rail": "mobile_money", "reference": "REFUND-1"},
        format="json",
    )
    assert refunded.status_code == 200 and refunded.json()["status"] == "closed"
    _schema_ok([("/api/staff/loans/{id}/refund/", "post", refunded)])


@pytest.mark.django_db(transaction=True)
def test_two_payments_at_once_never_apply_more_than_is_owed(active_loan, juma):
    if connection.vendor != "postgresql":
        pytest.skip("row locks and parallel transactions need PostgreSQL")
    loan = active_loan()
    owed = sum(row.total_due for row in loan.installments.all())
    share = (owed * Decimal("0.6")).quantize(Decimal("0.01"))
    start = threading.Barrier(2)
    answers = {}

    def pay(reference: str) -> None:
        client = APIClient()
        client.force_authenticate(juma)
        try:
            start.wait(timeout=10)
            answers[reference] = client.post(
                reverse("api-staff-loan-repayments", args=[loan.pk]),
                _payment(str(share), reference),
                format="json",
            )
        finally:
            connection.close()

    threads = [threading.Thread(target=pay, args=(ref,)) for ref in ("MP-A", "MP-B")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert sorted(a.status_code for a in answers.values()) == [201, 201], {
        ref: a.content for ref, a in answers.items()
    }
    loan.refresh_from_db()
    applied = Repayment.objects.filter(loan=loan, status=Repayment.Status.APPLIED)
    assert sum(p.principal for p in applied) == loan.principal_repaid == loan.amount
    assert loan.status == LoanStatus.OVERPAID
    assert loan.overpaid == 2 * share - owed
    for row in loan.installments.all():
        assert row.paid_principal == row.principal and row.total_paid == row.total_due


# --- bad requests ----------------------------------------------------------------------------


def test_bad_applications_name_the_field_and_store_nothing(as_, goats, credentials_of, wanjiru):
    credentials_of(wanjiru)
    client = as_(wanjiru)
    base = {
        "project": str(goats.pk),
        "amount": "20000",
        "duration": 12,
        "purpose": "Goats",
        "consent_version": CONSENT_VERSION,
    }

    def refused(**changes):
        return _fields(client.post(reverse("api-loans"), {**base, **changes}, format="json"))

    assert refused(amount=20000.5)["amount"] == [
        'Write the amount as a decimal string, such as "1500.00", not as a JSON number.'
    ]
    assert "amount" in refused(amount=20000)
    assert "amount" in refused(amount="-5")
    assert "amount" in refused(amount="20000.005")  # KES has two decimals
    assert "amount" in refused(amount="1e100")
    assert "amount" in refused(amount="NaN")
    assert "amount" in refused(amount=["20000"])
    assert refused(amount="100")["amount"] == ["Between 5000.00 and 40000.00 KES."]
    assert "duration" in refused(duration="twelve")
    assert "duration" in refused(duration=12.5)
    assert "duration" in refused(duration=0)
    assert "duration" in refused(duration=True)
    assert "project" in refused(project="not-a-uuid")
    assert refused(project="00000000-0000-0000-0000-000000000000")["project"] == [
        "No such project."
    ]
    assert refused(consent_version="1999-01")["consent_version"] == [
        "Read and accept the consent to apply."
    ]
    assert "purpose" in refused(purpose="")
    assert "presentation" in refused()  # the project asks for credentials
    assert "presentation" in refused(presentation={"presentation": "not.a.jwt"})
    nested: list = []
    for _ in range(200):
        nested = [nested]
    assert refused(presentation=nested)["presentation"] == ["Nested more than 32 levels deep."]
    deep = client.post(
        reverse("api-loans"), "[" * 100_000 + "]" * 100_000, content_type="application/json"
    )
    assert deep.status_code == 400 and deep.json()["error"]["code"] == "parse_error"
    assert "non_field_errors" in _fields(client.post(reverse("api-loans"), [1, 2], format="json"))
    surrogate = json.dumps({**base, "purpose": "x"}).replace('"x"', '"\\ud800"')
    lone = client.post(reverse("api-loans"), surrogate, content_type="application/json")
    assert "purpose" in _fields(lone)
    assert not Loan.objects.exists()
    _schema_ok([("/api/loans/", "post", lone)])


def test_an_amount_in_exponent_form_is_refused_by_the_service_too(amina):
    # Decimal("1e100") is finite and positive, but quantizing it to cents raised
    # InvalidOperation (a 500) before the size check.
    with pytest.raises(ValidationError) as refused:
        services.approval_limit_set(actor=amina, currency="KES", amount="1e100")
    assert refused.value.message_dict == {"amount": ["This amount is too large."]}


def test_bad_payments_and_disbursements_name_the_field(as_, active_loan, juma, amina, wanjiru):
    loan = active_loan()
    url = reverse("api-staff-loan-repayments", args=[loan.pk])
    today = timezone.localdate()

    def refused(**changes):
        body = {**_payment("100.00", "R-1"), **changes}
        return _fields(as_(juma).post(url, body, format="json"))

    assert "rail" in refused(rail="carrier_pigeon")
    assert refused(paid_on=(today + timedelta(days=1)).isoformat())["paid_on"] == [
        "This date is in the future."
    ]
    assert "paid_on" in refused(paid_on=(today - timedelta(days=1)).isoformat())  # < disbursed
    assert "paid_on" in refused(paid_on="yesterday")
    assert "amount" in refused(amount=100.0)
    assert "amount" in refused(amount="0")
    assert "amount" in refused(amount="-100")
    assert "amount" in refused(amount="1.001")
    assert "reference" in refused(reference="x" * 121)
    assert "reference" in refused(reference={"a": 1})
    assert set(_fields(as_(juma).post(url, {}, format="json"))) == {
        "amount",
        "reference",
        "rail",
        "paid_on",
    }
    assert not Repayment.objects.exists()
    disburse = reverse("api-staff-loan-disburse", args=[loan.pk])
    assert "rail" in _fields(as_(juma).post(disburse, {"rail": 3, "reference": "Q"}, "json"))
    another = as_(juma).post(disburse, {"rail": "cash", "reference": "OTHER"}, format="json")
    assert another.status_code == 400  # disbursed already, with another reference
    sign = reverse("api-loan-agreement-sign", args=[loan.pk])
    assert "password" in _fields(as_(wanjiru).post(sign, {}, format="json"))
    limits = reverse("api-staff-approval-limits")
    assert set(_fields(as_(amina).put(limits, {}, format="json"))) == {"currency", "amount"}
    assert "currency" in _fields(as_(amina).put(limits, {"currency": "XYZ", "amount": "1"}, "json"))


def test_staff_filters_are_checked(as_, juma):
    url = reverse("api-staff-loans")
    assert "state" in _fields(as_(juma).get(url, {"state": "everything"}))
    assert "project" in _fields(as_(juma).get(url, {"project": "goats"}))
    assert as_(juma).get(url, {"state": "", "search": "L-000001"}).status_code == 200


# --- verifying agreements --------------------------------------------------------------------


def test_anyone_verifies_an_agreement_file_and_a_forged_one_says_why(as_, active_loan, wanjiru):
    loan = active_loan()
    signed = Agreement.objects.get(loan=loan).signed_file()
    url = reverse("api-agreement-verify")
    anyone = as_()

    forged = json.loads(json.dumps(signed))
    forged["document"]["terms"]["principal"] = "1200.00"
    del forged["hash"]
    tampered = anyone.post(url, forged, format="json")
    assert tampered.status_code == 200 and not tampered.json()["fully_signed"]
    assert {s["reason"] for s in tampered.json()["signatures"]} == {
        "the signature is for another document"
    }
    unsigned = {"document": signed["document"], "signatures": {}}
    partly = anyone.post(url, unsigned, format="json").json()
    assert [s["reason"] for s in partly["signatures"]] == ["not signed", "not signed"]

    upload = anyone.post(url, {"file": _upload(json.dumps(signed).encode())}, format="multipart")
    assert upload.status_code == 200 and upload.json()["fully_signed"]
    _schema_ok([("/api/agreements/verify/", "post", tampered)])


def _upload(data: bytes):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile("agreement.json", data, content_type="application/json")


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({"document": {"format": "growr/loan-agreement", "parties": []}}, "names no originator"),
        ('{"document": {"format": "growr/loan-agreement", "x": "\\ud800"}}', "valid Unicode"),
        ({"document": {"format": "other"}}, "not a growr/loan-agreement"),
        ({"document": {"format": "growr/loan-agreement", "rate": 1.5}}, "written as strings"),
        ({"document": {}, "signatures": [], "extra": 1}, "an agreement file is"),
        ([1, 2, 3], "an agreement file is"),
    ],
)
def test_a_malformed_agreement_file_is_a_400_with_the_reason(as_, body, reason):
    url = reverse("api-agreement-verify")
    if isinstance(body, str):  # JSON text the test client would not write itself
        answer = as_().post(url, body, content_type="application/json")
    else:
        answer = as_().post(url, body, format="json")
    assert answer.status_code == 400, answer.content
    assert answer.json()["error"]["code"] == "invalid_agreement"
    assert reason in answer.json()["error"]["message"]


def test_a_deeply_nested_or_broken_agreement_file_is_a_400(as_):
    url = reverse("api-agreement-verify")
    nested: dict = {"format": "growr/loan-agreement"}
    # Deeper than the agreement allows, far from the parser's recursion limit: that one depends
    # on how deep the stack already is (deeper under pytest-xdist) and is the case below.
    for _ in range(100):
        nested = {"a": nested}
    deep = as_().post(url, {"document": nested}, format="json")
    assert deep.status_code == 400 and "Nested more than" in deep.json()["error"]["message"]
    broken = as_().post(url, {"file": _upload(b"{not json")}, format="multipart")
    assert broken.status_code == 400 and broken.json()["error"]["code"] == "invalid_agreement"
    deeper = as_().post(url, "[" * 50_000 + "]" * 50_000, content_type="application/json")
    assert deeper.status_code == 400


# --- self-custody from the command line ------------------------------------------------------


@pytest.fixture
def run(capsys):
    from apps.identity.ssi.wallet_cli import main

    def run(*argv) -> tuple[int, str, str]:
        code = main([str(a) for a in argv])
        captured = capsys.readouterr()
        return code, captured.out.strip(), captured.err.strip()

    return run


@pytest.mark.django_db(transaction=True)
def test_otieno_signs_his_agreement_with_his_own_key_from_the_command_line(
    live_server, run, tmp_path, monkeypatch, juma, amina, otieno
):
    project = project_publish(
        actor=amina, project=project_create(actor=juma, terms=goat_terms(eligibility={}))
    )
    loan = services.application_submit(
        borrower=otieno, project=project, amount="9000", duration=6, purpose="Goats",
        consent_version=CONSENT_VERSION,
    )  # fmt: skip
    services.application_approve(actor=juma, loan=loan)
    made_for = Agreement.objects.get(loan=loan).borrower_did  # his custodial DID
    wallet, out_file = tmp_path / "otieno.json", tmp_path / "signed.json"
    _, did, _ = run("keygen", wallet)
    login = ("login", wallet, "--node", live_server.url, "--email", otieno.email)
    assert run(*login, "--password", PASSWORD)[0] == 0
    assert run("register", wallet)[0] == 0  # now in self-custody, with another DID
    monkeypatch.setattr("builtins.input", lambda prompt: "n")
    code, _, err = run("sign-agreement", wallet, "--loan", loan.pk)
    assert code == 1 and "9000.00 KES over 6 months" in err and err.endswith("not signed")

    code, out, err = run("sign-agreement", wallet, "--loan", loan.pk, "--yes", "--out", out_file)

    assert code == 0, err
    agreement = Agreement.objects.get(loan=loan)
    assert made_for != did == agreement.borrower_did  # remade for his new DID, then signed
    assert agreement.fully_signed
    assert out == (
        f"signed the agreement {agreement.hash} of {loan.reference} (9000.00 KES over 6 "
        "months); fully signed: yes"
    )
    assert verify_signed_agreement(json.loads(out_file.read_text())).fully_signed
    code, _, err = run("sign-agreement", wallet, "--loan", loan.pk, "--yes")
    assert code == 1 and "signed this agreement already" in err


@pytest.mark.django_db(transaction=True)
def test_the_wallet_will_not_sign_an_agreement_for_another_did(
    live_server, run, tmp_path, juma, amina, otieno
):
    project = project_publish(
        actor=amina, project=project_create(actor=juma, terms=goat_terms(eligibility={}))
    )
    loan = services.application_submit(
        borrower=otieno, project=project, amount="9000", duration=6, purpose="Goats",
        consent_version=CONSENT_VERSION,
    )  # fmt: skip
    services.application_approve(actor=juma, loan=loan)
    wallet = tmp_path / "w.json"
    run("keygen", wallet)  # a key the node knows nothing of
    run("login", wallet, "--node", live_server.url, "--email", otieno.email, "--password", PASSWORD)

    code, _, err = run("sign-agreement", wallet, "--loan", loan.pk, "--yes")

    assert code == 1 and "names did:key:" in err and "not this wallet's" in err
    assert not Agreement.objects.get(loan=loan).fully_signed
    code, _, err = run("sign-agreement", wallet, "--loan", 999999, "--yes")
    assert code == 1 and "404" in err
