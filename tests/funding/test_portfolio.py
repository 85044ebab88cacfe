"""An investor's positions, totals and statements: what each commitment returned, lost and
still holds, its XIRR, and statements whose closing balance is the opening one plus every line,
to the cent."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from django.utils import timezone

from apps.applications import services as loans
from apps.funding import selectors, services
from apps.funding.models import Commitment

D = Decimal


def funded_loan(active_loan, simple_goats, juma, commit, ines, pablo):
    loan = active_loan(amount="12000", duration=12)
    for investor, amount, reference in ((ines, "1000.00", "B1"), (pablo, "2000.00", "B2")):
        commitment = commit(investor, simple_goats, amount)
        services.commitment_confirm(actor=juma, commitment=commitment, reference=reference)
    return loan


def test_ines_follows_what_her_commitment_returned_and_still_holds(
    active_loan, simple_goats, juma, commit, ines, pablo
):
    loan = funded_loan(active_loan, simple_goats, juma, commit, ines, pablo)
    payment = loans.repayment_record(
        actor=juma, loan=loan, amount="3000", reference="R1", rail="cash",
        paid_on=timezone.localdate(),
    )  # fmt: skip
    [position] = selectors.investor_positions(investor=ines)
    assert position.principal_returned + position.interest_received > 0
    assert abs(position.principal_returned - payment.principal / 3) < D("0.01")
    assert position.outstanding == D("1000.00") - position.principal_returned
    # Invested today, paid back in part today, the rest held: the flows balance to the gain.
    assert sum(amount for _, amount in position.flows) == position.interest_received
    [totals] = selectors.portfolio_totals(selectors.investor_positions(investor=ines))
    assert (totals.currency, totals.invested) == ("KES", D("1000.00"))
    assert totals.outstanding == position.outstanding


def test_a_pending_commitment_is_no_position_yet_and_has_no_return(simple_goats, ines, commit):
    commit(ines, simple_goats, "5000")
    [position] = selectors.investor_positions(investor=ines)
    assert position.flows == () and position.xirr is None and position.outstanding == 0
    assert selectors.portfolio_totals([position]) == []


def test_statements_reconcile_to_the_cent_period_after_period(
    active_loan, simple_goats, juma, amina, commit, ines, pablo
):
    loan = funded_loan(active_loan, simple_goats, juma, commit, ines, pablo)
    today = timezone.localdate()
    for number, amount in enumerate(("1234.56", "777.77", "2000.01")):
        loans.repayment_record(
            actor=juma, loan=loan, amount=amount, reference=f"R{number}", rail="cash",
            paid_on=today,
        )  # fmt: skip
    loans.loan_write_off(actor=amina, loan=loan, reason="moved away")

    statement = selectors.investor_statement(investor=ines, currency="KES", start=today, end=today)
    assert statement.opening == 0
    invested = -statement.total("invested")
    principal = statement.total("principal")
    losses = sum(line.amount for line in statement.lines if line.what == "loss")
    assert statement.closing == invested - principal + losses
    [position] = selectors.investor_positions(investor=ines)
    assert statement.closing == position.outstanding
    assert statement.total("interest") == position.interest_received

    before = selectors.investor_statement(
        investor=ines, currency="KES", start=today - timedelta(days=30), end=today - timedelta(1)
    )
    after = selectors.investor_statement(
        investor=ines, currency="KES", start=today + timedelta(1), end=today + timedelta(30)
    )
    assert before.lines == () and before.closing == 0
    assert after.opening == statement.closing and after.closing == statement.closing


def test_positions_cost_two_queries_whatever_their_number(
    simple_goats, goats, ines, juma, commit, django_assert_num_queries
):
    for project in (simple_goats, goats):
        for _ in range(3):
            services.commitment_confirm(
                actor=juma, commitment=commit(ines, project, "1000"), reference="B"
            )
    assert Commitment.objects.count() == 6
    with django_assert_num_queries(2):
        positions = selectors.investor_positions(investor=ines)
        assert len(positions) == 6
