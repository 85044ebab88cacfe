"""Every move of a loan through its one lifecycle service: what is allowed, what is refused
(with nothing changed), the conversation with the borrower, repayments (idempotent, partial,
early, over-paid), arrears, reminders and write-offs."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from apps.applications import services
from apps.applications.agreement import sign_agreement
from apps.applications.models import Awaiting, Loan, LoanEvent, LoanStatus, Reminder, Repayment
from apps.identity.models import Wallet, WalletEvent
from apps.identity.ssi.didkey import Ed25519Key
from tests.factories import OrganizationFactory, StaffFactory

from .conftest import PASSWORD

TODAY = timezone.localdate


def pay(loan, actor, amount, reference, paid_on=None):
    return services.repayment_record(
        actor=actor,
        loan=loan,
        amount=amount,
        reference=reference,
        rail="mobile_money",
        paid_on=paid_on or TODAY(),
    )


def snapshot(loan):
    loan.refresh_from_db()
    return (loan.status, loan.version, loan.events.count())


# --- applying --------------------------------------------------------------------------------


def test_otieno_who_is_not_kenyan_is_refused_with_the_reason_and_nothing_is_stored(
    apply, goats, otieno, credentials_of
):
    credentials_of(otieno, country="UG")
    with pytest.raises(ValidationError) as refused:
        apply(otieno, goats)
    assert "eligibility" in refused.value.message_dict
    assert not Loan.objects.exists()


def test_an_application_without_the_asked_credentials_is_refused(apply, goats, otieno):
    with pytest.raises(ValidationError):
        apply(otieno, goats, with_credentials=False)
    assert not Loan.objects.exists()


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"amount": "4999.99"}, "amount"),
        ({"amount": "20000.001"}, "amount"),
        ({"amount": "-5"}, "amount"),
        ({"amount": "lots"}, "amount"),
        ({"duration": 19}, "duration"),
        ({"duration": "12"}, "duration"),
        ({"purpose": "   "}, "purpose"),
        ({"purpose": "x" * 1001}, "purpose"),
        ({"consent_version": "2020-01"}, "consent"),
    ],
)
def test_bad_applications_are_refused_by_field(apply, goats, wanjiru, changes, field):
    with pytest.raises(ValidationError) as refused:
        apply(wanjiru, goats, **changes)
    assert field in refused.value.message_dict
    assert not Loan.objects.exists()


def test_a_replayed_presentation_does_not_make_a_second_application(
    apply, goats, wanjiru, credentials_of
):
    from .conftest import present_for

    credentials_of(wanjiru)
    envelope = present_for(wanjiru, goats)
    apply(wanjiru, goats, presentation=envelope)
    with pytest.raises(ValidationError):
        apply(wanjiru, goats, presentation=envelope)
    assert Loan.objects.count() == 1


def test_one_open_application_per_project(apply, goats, wanjiru):
    apply(wanjiru, goats)
    with pytest.raises(ValidationError) as refused:
        apply(wanjiru, goats)
    assert "project" in refused.value.message_dict


def test_staff_and_investors_do_not_apply(apply, goats, juma, ines):
    for person in (juma, ines):
        with pytest.raises(PermissionDenied):
            services.application_submit(
                borrower=person, project=goats, amount="10000", duration=6, purpose="x",
                consent_version="2026-11",
            )  # fmt: skip


# --- review ----------------------------------------------------------------------------------


def test_send_back_for_information_is_a_conversation(
    apply, goats, wanjiru, juma, django_capture_on_commit_callbacks
):
    loan = apply(wanjiru, goats)
    mail.outbox.clear()
    with pytest.raises(ValidationError):
        services.application_request_information(actor=juma, loan=loan, question="  ")
    with django_capture_on_commit_callbacks(execute=True):
        services.application_request_information(
            actor=juma, loan=loan, question="How many goats do you keep now?"
        )
    loan.refresh_from_db()
    assert loan.awaiting == Awaiting.BORROWER and loan.status == LoanStatus.SUBMITTED
    # The borrower hears of it outside the node too (GROWR_NOTIFIERS: e-mail here).
    assert any("How many goats" in m.body for m in mail.outbox)
    services.message_post(author=wanjiru, loan=loan, body="Three, and a shed for two more.")
    loan.refresh_from_db()
    assert loan.awaiting == Awaiting.STAFF
    assert [m.from_staff for m in loan.messages.all()] == [True, False]
    actions = list(loan.events.values_list("action", flat=True))
    assert "information_requested" in actions and "information_given" in actions


def test_otieno_cannot_write_in_wanjirus_thread_nor_withdraw_her_application(
    apply, goats, wanjiru, otieno
):
    loan = apply(wanjiru, goats)
    with pytest.raises(PermissionDenied):
        services.message_post(author=otieno, loan=loan, body="hello")
    with pytest.raises(PermissionDenied):
        services.application_withdraw(borrower=otieno, loan=loan)


def test_staff_of_another_originator_cannot_touch_the_application(apply, goats, wanjiru):
    other = StaffFactory(
        role="originator_admin", organization=OrganizationFactory(name="Other MFI")
    )
    loan = apply(wanjiru, goats)
    for move in (
        lambda: services.application_approve(actor=other, loan=loan),
        lambda: services.application_reject(actor=other, loan=loan, reason="no"),
        lambda: services.message_post(author=other, loan=loan, body="hi"),
    ):
        with pytest.raises(PermissionDenied):
            move()
    assert snapshot(loan)[0] == LoanStatus.SUBMITTED


def test_a_rejection_needs_a_reason_and_is_final(apply, goats, wanjiru, juma):
    loan = apply(wanjiru, goats)
    with pytest.raises(ValidationError):
        services.application_reject(actor=juma, loan=loan, reason=" ")
    services.application_reject(actor=juma, loan=loan, reason="The group guarantee is missing.")
    loan.refresh_from_db()
    assert loan.status == LoanStatus.REJECTED
    assert loan.decision_reason == "The group guarantee is missing."
    before = snapshot(loan)
    for move in (
        lambda: services.application_approve(actor=juma, loan=loan),
        lambda: services.application_withdraw(borrower=wanjiru, loan=loan),
        lambda: services.loan_disburse(actor=juma, loan=loan, rail="cash", reference="C1"),
    ):
        with pytest.raises(ValidationError):
            move()
    assert snapshot(loan) == before


def test_a_withdrawn_application_frees_the_project_for_a_new_one(apply, goats, wanjiru):
    loan = apply(wanjiru, goats)
    services.application_withdraw(borrower=wanjiru, loan=loan, reason="I found a cheaper loan")
    loan.refresh_from_db()
    assert loan.status == LoanStatus.WITHDRAWN
    assert apply(wanjiru, goats).status == LoanStatus.SUBMITTED


def test_the_limit_applies_to_the_currency_it_is_set_for(apply, goats, wanjiru, juma, amina):
    services.approval_limit_set(actor=amina, currency="UGX", amount="1000")
    loan = apply(wanjiru, goats, amount="20000")
    services.application_approve(actor=juma, loan=loan)
    assert snapshot(loan)[0] == LoanStatus.APPROVED


def test_only_an_admin_sets_approval_limits(juma, amina):
    with pytest.raises(PermissionDenied):
        services.approval_limit_set(actor=juma, currency="KES", amount="100")
    for bad in ({"currency": "XYZ", "amount": "100"}, {"currency": "KES", "amount": "-1"}):
        with pytest.raises(ValidationError):
            services.approval_limit_set(actor=amina, **bad)


# --- the agreement ---------------------------------------------------------------------------


def test_a_self_custody_borrower_signs_with_her_own_key(apply, goats, wanjiru, juma):
    loan = apply(wanjiru, goats)
    key = Ed25519Key.generate()  # she moved to self-custody before the approval
    Wallet.objects.filter(user=wanjiru).update(did=key.did, custody="self", sealed_key=None)
    wanjiru = type(wanjiru).objects.get(pk=wanjiru.pk)
    services.application_approve(actor=juma, loan=loan)
    agreement = loan.agreement
    assert agreement.borrower_did == key.did
    with pytest.raises(ValidationError):
        services.agreement_sign(
            borrower=wanjiru,
            loan=loan,
            signature=sign_agreement(
                key=Ed25519Key.generate(), document_hash=agreement.hash, role="borrower"
            ),
        )
    with pytest.raises(ValidationError):  # her key, but the originator's role
        services.agreement_sign(
            borrower=wanjiru,
            loan=loan,
            signature=sign_agreement(key=key, document_hash=agreement.hash, role="originator"),
        )
    services.agreement_sign(
        borrower=wanjiru,
        loan=loan,
        signature=sign_agreement(key=key, document_hash=agreement.hash, role="borrower"),
    )
    agreement.refresh_from_db()
    assert agreement.fully_signed


def test_the_node_signs_for_a_custodial_borrower_only_with_her_password_and_logs_it(
    apply, goats, wanjiru, juma
):
    loan = apply(wanjiru, goats)
    services.application_approve(actor=juma, loan=loan)
    with pytest.raises(ValidationError):
        services.agreement_sign(borrower=wanjiru, loan=loan, password="")
    services.agreement_sign(borrower=wanjiru, loan=loan, password=PASSWORD)
    assert WalletEvent.objects.filter(
        wallet__user=wanjiru, kind=WalletEvent.Kind.AGREEMENT_SIGNED
    ).exists()
    with pytest.raises(ValidationError):
        services.agreement_sign(borrower=wanjiru, loan=loan, password=PASSWORD)


def test_a_borrower_who_moved_to_another_did_gets_the_agreement_made_again(
    apply, goats, wanjiru, juma
):
    loan = apply(wanjiru, goats)
    services.application_approve(actor=juma, loan=loan)
    old_hash = loan.agreement.hash
    key = Ed25519Key.generate()
    Wallet.objects.filter(user=wanjiru).update(did=key.did, custody="self", sealed_key=None)
    wanjiru = type(wanjiru).objects.get(pk=wanjiru.pk)
    agreement = services.agreement_refresh(borrower=wanjiru, loan=loan)
    assert agreement.hash != old_hash and agreement.borrower_did == key.did
    services.agreement_sign(
        borrower=wanjiru,
        loan=loan,
        signature=sign_agreement(key=key, document_hash=agreement.hash, role="borrower"),
    )


# --- disbursement ----------------------------------------------------------------------------


def test_disbursing_twice_with_the_same_reference_is_one_disbursement(active_loan, juma):
    loan = active_loan()
    rows = loan.installments.count()
    again = services.loan_disburse(
        actor=juma, loan=loan, rail="mobile_money", reference=f"MPESA-{loan.pk}"
    )
    assert again.status == LoanStatus.ACTIVE and loan.installments.count() == rows
    with pytest.raises(ValidationError):
        services.loan_disburse(actor=juma, loan=loan, rail="cash", reference="other")


def disbursed_with_code(active_loan, capture):
    mail.outbox.clear()
    with capture(execute=True):
        loan = active_loan()
    return loan, next(m for m in mail.outbox if "disbursed" in m.subject).body.rsplit(" ", 1)[-1]


def test_the_borrower_confirms_receipt_with_the_code_and_five_wrong_codes_lock_it(
    active_loan, wanjiru, django_capture_on_commit_callbacks
):
    loan, code = disbursed_with_code(active_loan, django_capture_on_commit_callbacks)
    for _ in range(5):
        with pytest.raises(ValidationError):
            services.disbursement_confirm(borrower=wanjiru, loan=loan, code="000000x")
    loan.disbursement.refresh_from_db()
    assert loan.disbursement.code_attempts == 5
    with pytest.raises(ValidationError):  # the right code, too late
        services.disbursement_confirm(borrower=wanjiru, loan=loan, code=code)
    assert loan.disbursement.confirmed_at is None


def test_the_right_code_confirms(active_loan, wanjiru, django_capture_on_commit_callbacks):
    loan, code = disbursed_with_code(active_loan, django_capture_on_commit_callbacks)
    services.disbursement_confirm(borrower=wanjiru, loan=loan, code=code)
    loan.disbursement.refresh_from_db()
    assert loan.disbursement.confirmed_at is not None


# --- repayments ------------------------------------------------------------------------------


def test_the_same_payment_reference_twice_is_one_payment(active_loan, juma):
    loan = active_loan()
    first = pay(loan, juma, "1000", "QK7")
    again = pay(loan, juma, "1000", "QK7")
    assert again.pk == first.pk
    loan.refresh_from_db()
    assert loan.repayments.count() == 1
    assert loan.principal_repaid + loan.interest_repaid + loan.fees_repaid == Decimal("1000")
    with pytest.raises(ValidationError) as refused:
        pay(loan, juma, "999", "QK7")
    assert "reference" in refused.value.message_dict


@pytest.mark.parametrize(
    ("amount", "field"),
    [("0", "amount"), ("-3", "amount"), ("1.234", "amount"), ("abc", "amount")],
)
def test_bad_payments_are_refused_and_change_nothing(active_loan, juma, amount, field):
    loan = active_loan()
    before = snapshot(loan)
    with pytest.raises(ValidationError) as refused:
        pay(loan, juma, amount, "R1")
    assert field in refused.value.message_dict
    assert snapshot(loan) == before and not loan.repayments.exists()


def test_a_payment_dated_in_the_future_or_before_disbursement_is_refused(active_loan, juma):
    loan = active_loan()
    for day in (TODAY() + timedelta(days=1), TODAY() - timedelta(days=1)):
        with pytest.raises(ValidationError) as refused:
            pay(loan, juma, "100", "R2", paid_on=day)
        assert "paid_on" in refused.value.message_dict


def test_a_reported_payment_waits_for_staff_and_can_be_refused(active_loan, wanjiru, juma):
    loan = active_loan()
    reported = services.repayment_report(
        borrower=wanjiru, loan=loan, amount="500", reference="QW1", rail="mobile_money",
        paid_on=TODAY(),
    )  # fmt: skip
    assert reported.status == Repayment.Status.REPORTED
    loan.refresh_from_db()
    assert loan.principal_repaid == 0
    services.repayment_confirm(actor=juma, repayment=reported)
    reported.refresh_from_db()
    assert reported.status == Repayment.Status.APPLIED
    # Confirming again, or recording the same reference, applies nothing more.
    services.repayment_confirm(actor=juma, repayment=reported)
    pay(loan, juma, "500", "QW1")
    loan.refresh_from_db()
    assert loan.interest_repaid + loan.principal_repaid == Decimal("500")

    false_claim = services.repayment_report(
        borrower=wanjiru, loan=loan, amount="800", reference="QW2", rail="mobile_money",
        paid_on=TODAY(),
    )  # fmt: skip
    with pytest.raises(ValidationError):
        services.repayment_reject(actor=juma, repayment=false_claim, reason="")
    services.repayment_reject(actor=juma, repayment=false_claim, reason="Not in our statement.")
    false_claim.refresh_from_db()
    assert false_claim.status == Repayment.Status.REJECTED
    with pytest.raises(ValidationError):
        services.repayment_reject(actor=juma, repayment=false_claim, reason="again")


def test_partial_and_early_payments_then_an_over_payment_refunded(active_loan, juma, wanjiru):
    loan = active_loan(amount="12000", duration=12)
    rows = list(loan.installments.all())
    pay(loan, juma, str(rows[0].total_due / 2), "P1")  # half of the first installment
    loan.refresh_from_db()
    first = loan.installments.get(number=rows[0].number)
    assert first.paid_interest == first.interest and first.paid_off_on is None
    owed = sum(r.outstanding for r in loan.installments.all())
    pay(loan, juma, str(owed + Decimal("250")), "P2")  # early, and 250 more than owed
    loan.refresh_from_db()
    assert loan.status == LoanStatus.OVERPAID and loan.overpaid == Decimal("250")
    assert loan.principal_repaid == Decimal("12000")
    with pytest.raises(ValidationError):
        pay(loan, juma, "10", "P3")
    services.overpayment_refund(actor=juma, loan=loan, rail="mobile_money", reference="RF1")
    loan.refresh_from_db()
    assert loan.status == LoanStatus.CLOSED
    # Obligations were met at the over-payment: one repayment history credential, not two.
    assert wanjiru.credentials.filter(credential_type="repayment_history").count() == 1


def test_only_an_admin_writes_a_loan_off_and_a_written_off_loan_takes_no_payment(
    active_loan, juma, amina
):
    loan = active_loan()
    pay(loan, juma, "2000", "W1")
    with pytest.raises(PermissionDenied):
        services.loan_write_off(actor=juma, loan=loan, reason="Moved away")
    services.loan_write_off(actor=amina, loan=loan, reason="Moved away; no contact for 200 days")
    loan.refresh_from_db()
    assert loan.status == LoanStatus.WRITTEN_OFF
    assert loan.written_off_amount == Decimal("12000") - loan.principal_repaid
    with pytest.raises(ValidationError):
        pay(loan, juma, "100", "W2")


# --- arrears and reminders -------------------------------------------------------------------


def test_arrears_move_through_the_buckets_and_back_to_current(active_loan, juma):
    loan = active_loan(days_ago=75)  # installments 1 and 2 are overdue
    assert services.loans_arrears_update() == 1
    loan.refresh_from_db()
    first_due = loan.installments.get(number=1).due_on
    assert loan.days_past_due == (TODAY() - first_due).days
    assert loan.arrears_bucket == "31-60"
    assert services.loans_arrears_update() == 0  # nothing changed: no new version
    overdue = sum(r.outstanding for r in loan.installments.filter(due_on__lt=TODAY()))
    pay(loan, juma, str(overdue), "A1")
    loan.refresh_from_db()
    assert loan.arrears_bucket == "current" and loan.days_past_due == 0
    moves = LoanEvent.objects.filter(loan=loan, action="arrears").values_list("changes", flat=True)
    assert [(m["from"], m["to"]) for m in moves][::-1] == [
        ("current", "31-60"),
        ("31-60", "current"),
    ]


def test_reminders_go_once_before_and_once_after_a_due_date(
    active_loan, settings, django_capture_on_commit_callbacks
):
    settings.GROWR_REMINDER_DAYS_BEFORE = 3
    settings.GROWR_REMINDER_DAYS_AFTER = [1, 7, 30]
    loan = active_loan(duration=6)
    first = loan.installments.get(number=1)
    due = first.due_on
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        sent = [
            services.reminders_send(today=due + timedelta(days=offset))
            for offset in (-5, -2, -1, 10, 11)
        ]
    assert sent == [0, 1, 0, 1, 0]
    # Found 10 days late for the first time: one reminder, not one per step passed.
    assert set(Reminder.objects.filter(installment=first).values_list("kind", flat=True)) == {
        "before", "after_1", "after_7",
    }  # fmt: skip
    assert len(mail.outbox) == 2 and "10 days late" in mail.outbox[1].subject
