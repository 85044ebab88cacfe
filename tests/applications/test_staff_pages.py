"""Kijani's loan pages: Juma (agent) and Amina (admin) work the queue, review Wanjiru's and
Otieno's applications, approve (two of them above the approval limit), disburse, record and
confirm repayments, refund an over-payment and write a loan off; agents cannot write off or set
limits; other organizations' staff get 404 and borrowers 403; bad input is a form error that
changes nothing; the dashboard sums the portfolio up; pages cost the same number of queries
whatever the number of rows."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from apps.applications import services
from apps.applications.agreement import verify_signed_agreement
from apps.applications.models import Awaiting, Loan, LoanEvent, LoanStatus, Message, Repayment
from apps.funding.services import commitment_create
from apps.identity.models import Role
from apps.identity.services import staff_invitation_create
from apps.projects.models import Project
from apps.projects.selectors import FILTER_PROJECTS
from apps.projects.services import project_create, project_publish
from tests.factories import OrganizationFactory, StaffFactory, UserFactory
from tests.projects.conftest import goat_terms
from tests.queries import page_queries

from .conftest import PASSWORD

QUEUE = reverse("loans:queue")
PAYMENTS = reverse("loans:payments")
LIMITS = reverse("loans:limits")
LIMIT_SET = reverse("loans:limit-set")
HOME = reverse("staff:home")


def _url(name: str, loan, *args) -> str:
    return reverse(f"loans:{name}", args=[loan.pk, *args])


def _detail(loan) -> str:
    return _url("detail", loan)


def _queue(client, **filters) -> list[Loan]:
    return list(client.get(QUEUE, filters).context["page"].object_list)


def _approved_and_signed(apply, project, borrower, approver, amount="20000"):
    loan = apply(borrower, project, amount=amount)
    services.application_approve(actor=approver, loan=loan)
    services.agreement_sign(borrower=borrower, loan=loan, password=PASSWORD)
    loan.refresh_from_db()
    return loan


def _repayment(loan, **changes) -> dict:
    data = {
        "amount": "1100.16",
        "reference": "MPESA-R1",
        "rail": "mobile_money",
        "paid_on": timezone.localdate().isoformat(),
    }
    data.update(changes)
    return data


def _snapshot(loan) -> tuple:
    """What a refused request must leave as it was."""
    loan.refresh_from_db()
    return (
        loan.status,
        loan.version,
        loan.principal_repaid + loan.interest_repaid + loan.fees_repaid,
        LoanEvent.objects.filter(loan=loan).count(),
        Repayment.objects.filter(loan=loan).values_list("reference", "status").order_by("pk")[::1],
        Message.objects.filter(loan=loan).count(),
    )


# --- the queue ---------------------------------------------------------------------------------


def test_juma_and_amina_work_the_queue(
    client, apply, goats, simple_goats, wanjiru, otieno, juma, amina
):
    wanjiru_loan = apply(wanjiru, goats, amount="20000")
    otieno_loan = apply(otieno, simple_goats, amount="8000", duration=6)
    client.force_login(juma)

    queue = client.get(QUEUE)
    assert queue.status_code == 200
    page = queue.content.decode()
    assert {loan.pk for loan in queue.context["page"].object_list} == {
        wanjiru_loan.pk,
        otieno_loan.pk,
    }
    for shown in (
        wanjiru_loan.reference,
        "Wanjiru Kamau",
        "wanjiru@example.org",
        "20,000.00 KES",
        "Otieno Ouma",
        "8,000.00 KES",
        "6 months",
        "Submitted, pending approval",
    ):
        assert shown in page
    counts = {q["state"]: q["count"] for q in queue.context["queues"]}
    assert counts == {"to_review": 2, "second_approval": 0, "to_disburse": 0, "in_arrears": 0}
    assert f'href="{QUEUE}?state=to_review"' in page
    assert f'<a href="{QUEUE}" aria-current="page">Loans</a>' in page

    # Filters: a queue, a project, a name, an e-mail, a reference; a wrong value filters nothing.
    assert _queue(client, project=str(goats.pk)) == [wanjiru_loan]
    assert _queue(client, q="otieno") == [otieno_loan]
    assert _queue(client, q="wanjiru@example") == [wanjiru_loan]
    assert _queue(client, q=wanjiru_loan.reference.lower()) == [wanjiru_loan]
    assert _queue(client, q="L-99999999999999999999999") == []
    assert _queue(client, q="L-²") == []  # a digit int() cannot read was a server error
    assert len(_queue(client, state="nonsense", project="not-a-project")) == 2
    assert _queue(client, state="to_sign") == []

    # Juma asks Otieno for more; the application waits for him until he answers.
    response = client.post(
        _url("request-information", otieno_loan),
        {"question": "Please send a photo of the goat shed."},
        follow=True,
    )
    assert response.redirect_chain == [(_detail(otieno_loan), 302)]
    page = response.content.decode()
    assert "is sent back to the borrower with your question" in page
    assert "Please send a photo of the goat shed." in page
    assert "Asked the borrower for information" in page
    assert _queue(client, state="awaiting_borrower") == [otieno_loan]
    services.message_post(author=otieno, loan=otieno_loan, body="Here it is: a dry shed.")
    otieno_loan.refresh_from_db()
    assert otieno_loan.awaiting == Awaiting.STAFF
    page = client.get(_detail(otieno_loan)).content.decode()
    assert "Here it is: a dry shed." in page and "(borrower)" in page
    assert "The borrower answered" in page

    # Amina rejects Otieno's application with a reason; Juma approves Wanjiru's.
    client.force_login(amina)
    response = client.post(
        _url("reject", otieno_loan),
        {"reason": "The shed is too small for two goats."},
        follow=True,
    )
    assert "is rejected; the borrower is told why" in response.content.decode()
    otieno_loan.refresh_from_db()
    assert (otieno_loan.status, otieno_loan.decided_by) == (LoanStatus.REJECTED, amina)
    assert _queue(client, state="refused") == [otieno_loan]

    client.force_login(juma)
    response = client.post(_url("approve", wanjiru_loan), follow=True)
    page = response.content.decode()
    assert f"{wanjiru_loan.reference} is approved" in page
    wanjiru_loan.refresh_from_db()
    assert wanjiru_loan.status == LoanStatus.APPROVED
    assert wanjiru_loan.agreement.hash in page
    assert 'data-borrower-signed="no"' in page and "not signed yet" in page
    assert "Waiting for the borrower's signature" in page
    assert _url("disburse", wanjiru_loan) not in page
    assert _queue(client, state="to_sign") == [wanjiru_loan]

    services.agreement_sign(borrower=wanjiru, loan=wanjiru_loan, password=PASSWORD)
    assert _queue(client, state="to_disburse") == [wanjiru_loan]
    assert client.get(QUEUE).context["queues"][2]["count"] == 1  # signed, to disburse

    # Juma disburses from the page: the loan is active with its schedule.
    page = client.get(_detail(wanjiru_loan)).content.decode()
    assert 'data-borrower-signed="yes"' in page and _url("disburse", wanjiru_loan) in page
    response = client.post(
        _url("disburse", wanjiru_loan),
        {"rail": "mobile_money", "reference": "QX1", "disbursed_on": timezone.localdate()},
        follow=True,
    )
    page = response.content.decode()
    assert "is disbursed and active" in page
    wanjiru_loan.refresh_from_db()
    assert wanjiru_loan.status == LoanStatus.ACTIVE
    rows = response.context["installments"]
    assert rows[0].number == 0 and rows[0].fee == Decimal("300.00")  # the 1.5% fee
    assert len(rows) == 13
    assert "Mobile money, reference QX1" in page and "receipt not confirmed yet" in page
    assert "Days past due" in page and "0 · Current" in page
    assert _queue(client, state="active") == [wanjiru_loan]


def test_the_detail_shows_the_verified_claims_rules_consent_and_audit(
    client, apply, goats, wanjiru, juma, mailoutbox, django_capture_on_commit_callbacks
):
    loan = apply(wanjiru, goats)
    client.force_login(juma)

    response = client.get(_detail(loan))
    page = response.content.decode()
    for shown in (
        "Two in-calf goats and a shed.",
        "20,000.00 KES",
        "12 months",
        f"version {loan.consent_version}",
        "Date of birth",
        "1990-02-03",
        "Country of citizenship",
        "KE",
        "Kijani Microfinance",
        loan.presentation.issuers[0],
        "is at least 18",
        "badge-rule-met",
        "Applied",
        "consent_version: 2026-11",
    ):
        assert shown in page, shown
    assert [rule["label"] for rule in response.context["rules"]] == ["Met", "Met"]
    assert response.context["events"][0]["event"].actor == wanjiru

    # Juma writes to Wanjiru in the application's thread; she gets it by e-mail too.
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            _url("message", loan), {"body": "Which village are the goats for?"}, follow=True
        )
    page = response.content.decode()
    assert "Message sent to the borrower." in page
    assert "Which village are the goats for?" in page and "Juma Otieno" in page
    assert any("Which village" in mail.body for mail in mailoutbox)
    loan.refresh_from_db()
    assert loan.awaiting == Awaiting.NOBODY  # a message is not a request for information


# --- maker-checker -----------------------------------------------------------------------------


def test_an_agent_cannot_give_both_approvals_above_the_limit(
    client, apply, goats, wanjiru, juma, amina
):
    client.force_login(amina)
    response = client.post(LIMIT_SET, {"currency": "KES", "amount": "15000"}, follow=True)
    assert "KES applications above 15,000.00 KES now need two approvals." in (
        response.content.decode()
    )
    loan = apply(wanjiru, goats, amount="20000")

    client.force_login(juma)
    page = client.get(_detail(loan)).content.decode()
    assert "above your organization's approval limit of 15,000.00 KES" in page
    assert "Give the first approval" in page
    response = client.post(_url("approve", loan), follow=True)
    assert "First approval of L-" in response.content.decode()
    loan.refresh_from_db()
    assert (loan.status, loan.first_approved_by) == (LoanStatus.SUBMITTED, juma)

    # Juma's page says he cannot give the second, and has no approve button.
    page = client.get(_detail(loan)).content.decode()
    assert "First approval by <strong>Juma Otieno</strong>" in page
    assert "you gave the first, so you cannot give the second" in page
    assert f'action="{_url("approve", loan)}"' not in page
    assert [q["count"] for q in client.get(QUEUE).context["queues"]][:2] == [0, 1]
    # A second approval posted by him anyway is refused on the page and changes nothing.
    before = _snapshot(loan)
    response = client.post(_url("approve", loan), follow=True)
    assert response.status_code == 200
    assert "another staff member must approve it too" in response.content.decode()
    assert _snapshot(loan) == before

    client.force_login(amina)
    page = client.get(_detail(loan)).content.decode()
    assert "Give the second approval" in page
    client.post(_url("approve", loan))
    loan.refresh_from_db()
    assert (loan.status, loan.first_approved_by, loan.decided_by) == (
        LoanStatus.APPROVED,
        juma,
        amina,
    )
    page = client.get(_detail(loan)).content.decode()
    assert "First approval" in page and "Approved by" in page and "Amina Wekesa" in page


def test_approval_limits_admins_edit_agents_read(client, juma, amina):
    client.force_login(juma)
    page = client.get(LIMITS).content.decode()
    assert "Only admins of Kijani Microfinance change the approval limits." in page
    assert f'action="{LIMIT_SET}"' not in page
    assert client.post(LIMIT_SET, {"currency": "KES", "amount": "100"}).status_code == 403
    assert not client.get(LIMITS).context["limits"]

    client.force_login(amina)
    for data, field, message in (
        ({"currency": "KES", "amount": "-5"}, "amount", "Enter an amount above zero."),
        ({"currency": "KES", "amount": "10.555"}, "amount", "at most 2 decimals"),
        ({"currency": "XXX", "amount": "10"}, "currency", "Select a valid choice"),
    ):
        response = client.post(LIMIT_SET, data)
        assert response.status_code == 200
        assert message in " ".join(response.context["form"].errors[field])
    assert not client.get(LIMITS).context["limits"]
    client.post(LIMIT_SET, {"currency": "KES", "amount": "15000"})
    client.post(LIMIT_SET, {"currency": "UGX", "amount": "500000"})
    limits = client.get(LIMITS)
    assert [(limit.currency, limit.amount) for limit in limits.context["limits"]] == [
        ("KES", Decimal("15000")),
        ("UGX", Decimal("500000")),
    ]
    assert "Amina Wekesa" in limits.content.decode()
    response = client.post(LIMIT_SET, {"currency": "UGX", "amount": ""}, follow=True)
    assert "No approval limit for UGX any more." in response.content.decode()
    client.force_login(juma)
    assert [limit.currency for limit in client.get(LIMITS).context["limits"]] == ["KES"]


# --- who may see and do what -------------------------------------------------------------------


def test_an_agent_cannot_write_off_the_admin_can(client, active_loan, juma, amina):
    loan = active_loan()
    client.force_login(juma)

    page = client.get(_detail(loan)).content.decode()
    assert _url("write-off", loan) not in page
    assert "Only admins of Kijani Microfinance write a loan off." in page
    before = _snapshot(loan)
    assert client.post(_url("write-off", loan), {"reason": "Moved away."}).status_code == 403
    assert _snapshot(loan) == before

    client.force_login(amina)
    page = client.get(_detail(loan)).content.decode()
    assert f'action="{_url("write-off", loan)}"' in page
    response = client.post(_url("write-off", loan), {"reason": "  "})
    assert response.status_code == 200
    assert response.context["write_off_form"].errors["reason"]
    assert _snapshot(loan) == before

    response = client.post(_url("write-off", loan), {"reason": "Moved away."}, follow=True)
    assert "is written off (12,000.00 KES of principal)" in response.content.decode()
    loan.refresh_from_db()
    assert (loan.status, loan.written_off_amount) == (LoanStatus.WRITTEN_OFF, Decimal("12000"))
    page = response.content.decode()
    assert "Written off" in page and "reason: Moved away." in page
    assert _url("repayment-record", loan) not in page


def test_staff_of_another_organization_get_404(client, apply, goats, active_loan, wanjiru, otieno):
    submitted = apply(otieno, goats)
    active = active_loan()
    payment = services.repayment_report(
        borrower=wanjiru,
        loan=active,
        amount="100",
        reference="R1",
        rail="cash",
        paid_on=timezone.localdate(),
    )
    umoja_admin = StaffFactory(
        role=Role.ORIGINATOR_ADMIN, organization=OrganizationFactory(name="Umoja Credit")
    )
    client.force_login(umoja_admin)

    for loan in (submitted, active):
        for name in ("detail", "agreement", "agreement-file"):
            assert client.get(_url(name, loan)).status_code == 404
        for name in (
            "approve",
            "reject",
            "message",
            "request-information",
            "disburse",
            "repayment-record",
            "refund",
            "write-off",
        ):
            assert client.post(_url(name, loan), {"reason": "x", "body": "x"}).status_code == 404
    for name in ("repayment-confirm", "repayment-refuse"):
        assert client.post(_url(name, active, payment.pk), {"reason": "x"}).status_code == 404
    assert client.get(reverse("loans:detail", args=[10**30])).status_code == 404
    assert client.get(QUEUE).context["page"].paginator.count == 0
    assert client.get(PAYMENTS).context["page"].paginator.count == 0
    submitted.refresh_from_db()
    payment.refresh_from_db()
    assert submitted.status == LoanStatus.SUBMITTED and payment.status == "reported"


@pytest.mark.parametrize("persona", ["wanjiru", "ines"])
def test_borrowers_and_investors_get_403(client, apply, goats, wanjiru, persona, request):
    loan = apply(wanjiru, goats)
    client.force_login(request.getfixturevalue(persona))

    for url in (QUEUE, PAYMENTS, LIMITS, _detail(loan), HOME):
        assert client.get(url).status_code == 403
    for url in (_url("approve", loan), _url("reject", loan), LIMIT_SET):
        assert (
            client.post(url, {"reason": "x", "currency": "KES", "amount": "1"}).status_code == 403
        )
    loan.refresh_from_db()
    assert loan.status == LoanStatus.SUBMITTED


def test_signed_out_people_are_sent_to_sign_in(client, apply, goats, wanjiru):
    loan = apply(wanjiru, goats)
    for url in (QUEUE, PAYMENTS, LIMITS, _detail(loan)):
        response = client.get(url)
        assert response.status_code == 302 and "/accounts/login/" in response["Location"]


# --- bad input changes nothing -----------------------------------------------------------------

TOMORROW = (timezone.localdate() + timedelta(days=1)).isoformat()


@pytest.mark.parametrize(
    "changes, field, message",
    [
        ({"amount": "-100"}, "amount", "Enter an amount above zero."),
        ({"amount": "0"}, "amount", "Enter an amount above zero."),
        ({"amount": "100.555"}, "amount", "KES amounts have at most 2 decimals."),
        ({"amount": "100.5555"}, "amount", "Ensure that there are no more than 3 decimal"),
        ({"amount": "a lot"}, "amount", "Enter a number."),
        ({"amount": "1e400"}, "amount", "Ensure that there are no more than"),
        ({"amount": "NaN"}, "amount", "Enter a number."),
        ({"rail": "carrier_pigeon"}, "rail", "Select a valid choice"),
        ({"paid_on": TOMORROW}, "paid_on", "This date is in the future."),
        ({"paid_on": "2020-01-01"}, "paid_on", "The date cannot be before"),
        ({"paid_on": "yesterday"}, "paid_on", "Enter a valid date."),
        ({"reference": "   "}, "reference", "This field is required."),
        ({"reference": "R" * 121}, "reference", "at most 120 characters"),
    ],
)
def test_a_bad_repayment_is_a_form_error_and_changes_nothing(
    client, active_loan, juma, changes, field, message
):
    loan = active_loan()
    client.force_login(juma)
    before = _snapshot(loan)

    response = client.post(_url("repayment-record", loan), _repayment(loan, **changes))

    assert response.status_code == 200
    assert message in " ".join(response.context["repayment_form"].errors[field])
    assert 'class="field has-error"' in response.content.decode()
    assert _snapshot(loan) == before


@pytest.mark.parametrize(
    "name, data, form, field, message",
    [
        ("reject", {"reason": ""}, "rejection_form", "reason", "This field is required."),
        ("reject", {"reason": " \n "}, "rejection_form", "reason", "This field is required."),
        ("request-information", {"question": ""}, "information_form", "question", "required"),
        ("message", {"body": "   "}, "message_form", "body", "This field is required."),
        ("message", {"body": "x" * 4001}, "message_form", "body", "at most 4000 characters"),
    ],
)
def test_bad_review_input_is_a_form_error_and_changes_nothing(
    client, apply, goats, wanjiru, juma, name, data, form, field, message
):
    loan = apply(wanjiru, goats)
    client.force_login(juma)
    before = _snapshot(loan)

    response = client.post(_url(name, loan), data)

    assert response.status_code == 200
    assert message in " ".join(response.context[form].errors[field])
    assert _snapshot(loan) == before


@pytest.mark.parametrize(
    "data, field, message",
    [
        ({"rail": "telegram"}, "rail", "Select a valid choice"),
        ({"disbursed_on": TOMORROW}, "disbursed_on", "This date is in the future."),
        ({"disbursed_on": "2020-01-01"}, "disbursed_on", "The date cannot be before"),
        ({"reference": ""}, "reference", "This field is required."),
    ],
)
def test_a_bad_disbursement_is_a_form_error_and_changes_nothing(
    client, apply, goats, wanjiru, juma, data, field, message
):
    loan = _approved_and_signed(apply, goats, wanjiru, juma)
    client.force_login(juma)
    before = _snapshot(loan)
    good = {"rail": "bank_transfer", "reference": "BT-1", "disbursed_on": timezone.localdate()}

    response = client.post(_url("disburse", loan), {**good, **data})

    assert response.status_code == 200
    assert message in " ".join(response.context["disbursement_form"].errors[field])
    assert _snapshot(loan) == before


def test_a_refused_action_on_a_loan_in_another_state_says_why(client, apply, goats, wanjiru, juma):
    loan = apply(wanjiru, goats)
    client.force_login(juma)
    before = _snapshot(loan)

    response = client.post(
        _url("disburse", loan),
        {"rail": "cash", "reference": "C-1", "disbursed_on": timezone.localdate()},
    )
    assert response.status_code == 200
    assert "cannot become active" in response.content.decode()
    # The page shows no disbursement form for a submitted loan: its errors come as messages.
    response = client.post(
        _url("disburse", loan), {"rail": "cash", "reference": "C-1", "disbursed_on": TOMORROW}
    )
    assert "This date is in the future." in response.content.decode()
    response = client.post(_url("refund", loan), {"rail": "cash", "reference": "C-2"})
    assert "Only an over-paid loan has a refund due." in response.content.decode()
    response = client.post(_url("repayment-record", loan), _repayment(loan))
    assert response.status_code == 200
    assert "takes no repayments" in response.content.decode()
    assert _snapshot(loan) == before


# --- repayments --------------------------------------------------------------------------------


def test_repaying_twice_with_the_same_reference_applies_once(client, active_loan, juma):
    loan = active_loan()
    client.force_login(juma)

    first = client.post(_url("repayment-record", loan), _repayment(loan), follow=True)
    assert "Payment MPESA-R1 of 1,100.16 KES applied." in first.content.decode()
    again = client.post(_url("repayment-record", loan), _repayment(loan), follow=True)
    assert "was recorded already (1,100.16 KES): it is not applied twice" in (
        again.content.decode()
    )

    loan.refresh_from_db()
    assert Repayment.objects.filter(loan=loan).count() == 1
    assert loan.principal_repaid + loan.interest_repaid == Decimal("1100.16")
    first_row = again.context["installments"][0]
    assert first_row.paid_off_on == timezone.localdate()
    # The same reference with another amount is another payment: refused, not applied.
    response = client.post(_url("repayment-record", loan), _repayment(loan, amount="50"))
    assert "has this reference already" in " ".join(
        response.context["repayment_form"].errors["reference"]
    )
    assert Repayment.objects.filter(loan=loan).count() == 1


def test_reported_payments_are_confirmed_or_refused(client, active_loan, wanjiru, juma):
    loan = active_loan()
    today = timezone.localdate()
    arrived = services.repayment_report(
        borrower=wanjiru,
        loan=loan,
        amount="500",
        reference="MP-1",
        rail="mobile_money",
        paid_on=today,
    )
    missing = services.repayment_report(
        borrower=wanjiru,
        loan=loan,
        amount="700",
        reference="MP-2",
        rail="mobile_money",
        paid_on=today,
    )
    client.force_login(juma)

    payments = client.get(PAYMENTS)
    page = payments.content.decode()
    assert payments.context["page"].paginator.count == 2
    for shown in (loan.reference, "Wanjiru Kamau", "500.00 KES", "MP-1", "MP-2"):
        assert shown in page
    assert page.count('name="return_to" value="payments"') == 4

    # An empty reason is a form error on the payments page, next to that payment.
    response = client.post(
        _url("repayment-refuse", loan, missing.pk), {"reason": "", "return_to": "payments"}
    )
    assert response.status_code == 200
    assert "This field is required." in response.content.decode()
    assert f'id="id_refuse_{missing.pk}_reason"' in response.content.decode()
    missing.refresh_from_db()
    assert missing.status == Repayment.Status.REPORTED

    response = client.post(
        _url("repayment-confirm", loan, arrived.pk), {"return_to": "payments"}, follow=True
    )
    assert response.redirect_chain == [(PAYMENTS, 302)]
    assert f"Payment MP-1 of 500.00 KES on {loan.reference} is applied." in (
        response.content.decode()
    )
    response = client.post(
        _url("repayment-refuse", loan, missing.pk),
        {"reason": "No such M-Pesa transaction."},
        follow=True,
    )
    assert response.redirect_chain == [(_detail(loan), 302)]
    arrived.refresh_from_db()
    missing.refresh_from_db()
    assert arrived.status == Repayment.Status.APPLIED and arrived.recorded_by == juma
    assert (missing.status, missing.rejection_reason) == (
        Repayment.Status.REJECTED,
        "No such M-Pesa transaction.",
    )
    page = response.content.decode()
    assert "reported by Wanjiru Kamau" in page and "confirmed by Juma Otieno" in page
    assert "No such M-Pesa transaction." in page
    assert client.get(PAYMENTS).context["page"].paginator.count == 0
    # Confirming it again, or confirming the refused one, changes nothing and says so.
    for payment in (arrived, missing):
        response = client.post(_url("repayment-confirm", loan, payment.pk), follow=True)
        assert "was decided already" in response.content.decode()
    loan.refresh_from_db()
    assert loan.principal_repaid + loan.interest_repaid == Decimal("500")
    # Refusing a payment that is applied already is refused, and says why.
    response = client.post(_url("repayment-refuse", loan, arrived.pk), {"reason": "Oops."})
    assert response.status_code == 200
    assert "Only a reported payment" in response.content.decode()
    arrived.refresh_from_db()
    assert arrived.status == Repayment.Status.APPLIED


def test_an_over_payment_is_refunded_and_the_loan_closes(client, active_loan, juma):
    loan = active_loan(amount="6000", duration=6)
    client.force_login(juma)

    client.post(_url("repayment-record", loan), _repayment(loan, amount="7000"))
    loan.refresh_from_db()
    assert loan.status == LoanStatus.OVERPAID
    page = client.get(_detail(loan)).content.decode()
    assert f'action="{_url("refund", loan)}"' in page
    assert _url("repayment-record", loan) not in page

    response = client.post(_url("refund", loan), {"rail": "pigeon", "reference": "RF-1"})
    assert response.context["refund_form"].errors["rail"]
    response = client.post(
        _url("refund", loan), {"rail": "mobile_money", "reference": "RF-1"}, follow=True
    )
    assert "recorded; " in response.content.decode()
    loan.refresh_from_db()
    assert loan.status == LoanStatus.CLOSED
    assert "Over-payment refunded; closed" in response.content.decode()


def test_a_late_loan_shows_its_days_past_due_and_bucket(client, active_loan, juma, amina):
    loan = active_loan(days_ago=75)
    services.loans_arrears_update()
    client.force_login(juma)

    page = client.get(_detail(loan)).content.decode()
    assert 'data-days-past-due="45"' in page and "45 · 31-60 days late" in page
    assert 'class="late"' in page
    assert _queue(client, state="in_arrears") == [loan]
    home = client.get(HOME)
    kes = home.context["portfolio"][0]
    assert kes.par30 == Decimal("12000") and kes.par30_percent == Decimal("100.0")
    assert "(100.0%)" in home.content.decode()


# --- the agreement -----------------------------------------------------------------------------


def test_the_agreement_page_and_file(client, apply, goats, wanjiru, juma):
    loan = apply(wanjiru, goats)
    services.application_approve(actor=juma, loan=loan)
    client.force_login(juma)

    page = client.get(_url("agreement", loan)).content.decode()
    agreement = Loan.objects.get(pk=loan.pk).agreement
    for shown in (
        agreement.hash,
        "20000.00 KES",
        "18% a year",
        "declining balance",
        "300.00",
        "Wanjiru Kamau (borrower)",
        "not signed yet",
    ):
        assert shown in page, shown
    assert page.count("badge-valid") == 1

    services.agreement_sign(borrower=wanjiru, loan=loan, password=PASSWORD)
    page = client.get(_url("agreement", loan)).content.decode()
    assert page.count("badge-valid") == 2 and "Signed by both parties" in page
    file = client.get(_url("agreement-file", loan))
    assert "attachment" in file["Content-Disposition"]
    assert verify_signed_agreement(json.loads(file.content)).fully_signed

    submitted = apply(UserFactory(full_name="Akinyi Atieno"), goats)
    assert client.get(_url("agreement", submitted)).status_code == 404


# --- the dashboard -----------------------------------------------------------------------------


def test_the_dashboard_sums_up_the_portfolio_and_the_queues(
    client, apply, goats, active_loan, otieno, juma
):
    loan = active_loan()
    apply(otieno, goats)
    client.force_login(juma)
    services.repayment_record(
        actor=juma,
        loan=loan,
        amount="1100.16",
        reference="R1",
        rail="cash",
        paid_on=timezone.localdate(),
    )

    response = client.get(HOME)
    page = response.content.decode()
    assert "Welcome, Juma" in page and "Your team" in page
    assert f'<a href="{HOME}" aria-current="page">Dashboard</a>' in page
    [kes] = response.context["portfolio"]
    assert (kes.currency, kes.disbursed, kes.active_loans) == ("KES", Decimal("12000"), 1)
    assert kes.repaid == Decimal("1100.16")
    assert kes.outstanding_principal == Decimal("12000") - loan.installments.get(number=1).principal
    assert "12,000.00" in page and "1,100.16" in page
    assert f'href="{QUEUE}?state=to_review"' in page
    assert '<span class="stat-value" data-queue="to_review">1</span>' in page
    assert page.count('<svg class="bar-chart"') == 2
    assert "Outstanding principal by arrears bucket" in page
    assert "Disbursed: 12,000.00 KES" in page and "Repaid: 1,100.16 KES" in page


def test_the_dashboard_shows_a_change_at_once_and_costs_less_until_then(client, active_loan, juma):
    loan = active_loan()
    client.force_login(juma)
    assert "Repaid: 0.00 KES" in client.get(HOME).content.decode()
    assert page_queries(client, HOME, cached=True) < page_queries(client, HOME)

    services.repayment_record(
        actor=juma, loan=loan, amount="1100.16", reference="R1", rail="cash",
        paid_on=timezone.localdate(),
    )  # fmt: skip
    assert "Repaid: 1,100.16 KES" in client.get(HOME).content.decode()


def test_a_kept_dashboard_shows_every_kind_of_change_at_once(
    client, settings, goats, credentials_of, juma, amina, otieno, ines
):
    settings.GROWR_CACHE_SHARED = True  # as on a node with Redis, whichever cache tests run on
    client.force_login(juma)
    before = _dashboard_counts(client.get(HOME))
    with CaptureQueriesContext(connection) as kept:
        assert _dashboard_counts(client.get(HOME)) == before
    counted = ("loan", "project", "commitment", "credentialrecord", "staffinvitation")
    assert not [q for q in kept if any(f"_{table}" in q["sql"] for table in counted)]

    project_create(actor=juma, terms=goat_terms(name="Goats for Nakuru"))
    staff_invitation_create(
        invited_by=amina, email="baraka@kijani.example", role=Role.ORIGINATOR_AGENT
    )
    credentials_of(otieno)
    commitment_create(investor=ines, project=goats, amount="1000", request_id="ines-goats-01")

    after = _dashboard_counts(client.get(HOME))
    assert after["drafts"] == before["drafts"] + 1
    assert after["open invitations"] == before["open invitations"] + 1
    assert after["issued"] > before["issued"]
    assert after["funds to confirm"] == before["funds to confirm"] + 1


def _dashboard_counts(response) -> dict[str, int]:
    page = response.content.decode()
    labels = ("staff members", "open invitations", "drafts", "issued", "funds to confirm")
    return {
        label: int(re.search(rf'<span class="stat-value"[^>]*>(\d+)</span> {label}', page)[1])
        for label in labels
    }


def test_the_dashboard_without_loans(client, amina):
    client.force_login(amina)
    page = client.get(HOME).content.decode()
    assert "No loan has been disbursed yet." in page and "<svg" not in page


# --- queries -----------------------------------------------------------------------------------


@pytest.fixture
def open_goats(juma, amina):
    """A goat project with no criteria: applications without credentials, for many borrowers."""
    terms = goat_terms(name="Goats for everyone", eligibility={})
    return project_publish(actor=amina, project=project_create(actor=juma, terms=terms))


def test_the_queue_costs_the_same_queries_for_3_and_30_loans(
    client, apply, open_goats, active_loan, juma
):
    active_loan()
    client.force_login(juma)

    def add(count):
        for _ in range(count):
            apply(UserFactory(), open_goats, amount="6000", duration=6)

    add(2)
    few = page_queries(client, QUEUE)
    add(27)
    assert client.get(QUEUE).context["page"].paginator.count == 30
    assert page_queries(client, QUEUE) == few
    assert page_queries(client, f"{QUEUE}?state=to_review&q=example") == few


def test_the_queue_shows_a_change_at_once(client, apply, open_goats, juma):
    loan = apply(UserFactory(), open_goats, amount="6000", duration=6)
    client.force_login(juma)
    page = client.get(QUEUE).content.decode()
    assert "Submitted, pending approval" in page and 'data-queue="to_review">1<' in page

    services.application_reject(actor=juma, loan=loan, reason="No shed for the goats yet.")
    page = client.get(QUEUE).content.decode()
    assert "Submitted, pending approval" not in page and 'data-queue="to_review">0<' in page


def test_a_kept_queue_runs_no_loan_query_and_shows_a_change_at_once(
    client, settings, apply, open_goats, juma
):
    settings.GROWR_CACHE_SHARED = True  # as on a node with Redis, whichever cache tests run on
    loan = apply(UserFactory(), open_goats, amount="6000", duration=6)
    client.force_login(juma)
    to_review = f"{QUEUE}?state=to_review"
    assert 'data-queue="to_review">1<' in client.get(QUEUE).content.decode()
    assert "Submitted, pending approval" in client.get(to_review).content.decode()
    with CaptureQueriesContext(connection) as kept:
        assert "Submitted, pending approval" in client.get(to_review).content.decode()
    assert not [q for q in kept if "_loan" in q["sql"] or "_project" in q["sql"]]

    services.application_reject(actor=juma, loan=loan, reason="No shed for the goats yet.")

    assert 'data-queue="to_review">0<' in client.get(QUEUE).content.decode()
    assert "Submitted, pending approval" not in client.get(to_review).content.decode()


def test_the_project_filter_offers_the_newest_projects_and_the_one_chosen(client, open_goats, juma):
    Project.objects.bulk_create(
        Project(organization=juma.organization, created_by=juma, **goat_terms(name=f"P{n}"))
        for n in range(FILTER_PROJECTS + 5)
    )
    client.force_login(juma)

    offered = client.get(QUEUE).context["filter_form"].fields["project"].choices
    chosen = client.get(QUEUE, {"project": str(open_goats.pk)})

    assert len(offered) == 1 + FILTER_PROJECTS and str(open_goats.pk) not in dict(offered)
    assert str(open_goats.pk) in dict(chosen.context["filter_form"].fields["project"].choices)
    assert chosen.context["filters"]["project_id"] == str(open_goats.pk)
    detail = client.get(reverse("projects:detail", args=[open_goats.pk])).content.decode()
    assert f'href="{QUEUE}?project={open_goats.pk}"' in detail


def test_pending_payments_cost_the_same_queries_for_3_and_30(client, active_loan, wanjiru, juma):
    loan = active_loan()
    client.force_login(juma)

    def report(numbers):
        for number in numbers:
            services.repayment_report(
                borrower=wanjiru,
                loan=loan,
                amount="10",
                reference=f"R{number}",
                rail="cash",
                paid_on=timezone.localdate(),
            )

    report(range(3))
    few = page_queries(client, PAYMENTS)
    report(range(3, 30))
    assert page_queries(client, PAYMENTS) == few
