"""Every repayment of a loan under a funded project is split among its funders to the cent, and
a written-off loan's principal is taken by the originator's first-loss cover before the
investors'."""

from __future__ import annotations

from decimal import Decimal

from django.utils import timezone

from apps.applications import services as loans
from apps.funding import services
from apps.funding.models import Distribution, FirstLossUse
from tests.factories import UserFactory

D = Decimal


def fund(project, juma, commit, *investors_and_amounts):
    for investor, amount in investors_and_amounts:
        commitment = commit(investor, project, amount)
        services.commitment_confirm(actor=juma, commitment=commitment, reference=f"B{amount}")


def test_a_repayment_is_split_pro_rata_to_the_cent(active_loan, simple_goats, juma, ines, pablo,
                                                   commit):  # fmt: skip
    loan = active_loan(amount="12000", duration=12)
    fund(simple_goats, juma, commit, (ines, "1000.00"), (pablo, "2000.00"))
    payment = loans.repayment_record(
        actor=juma, loan=loan, amount="1234.57", reference="R1", rail="cash",
        paid_on=timezone.localdate(),
    )  # fmt: skip
    parts = Distribution.objects.filter(payment_public_id=payment.public_id)
    assert sum(p.principal for p in parts) == payment.principal
    assert sum(p.interest for p in parts) == payment.interest
    ines_part = parts.get(commitment__investor=ines)
    # Ines put in a third.
    assert abs(ines_part.principal - payment.principal / 3) < D("0.01")


def test_a_repayment_of_an_unfunded_project_is_nobodys(active_loan, juma):
    loan = active_loan()
    loans.repayment_record(
        actor=juma, loan=loan, amount="500", reference="R2", rail="cash",
        paid_on=timezone.localdate(),
    )  # fmt: skip
    assert not Distribution.objects.exists()


def test_a_loss_hits_the_first_loss_cover_before_the_investors(
    active_loan, simple_goats, juma, amina, ines, pablo, commit
):
    # First-loss share 10%: the cover of 60,000 KES of funding is 6,000 KES.
    fund(simple_goats, juma, commit, (ines, "40000.00"), (pablo, "20000.00"))
    first = active_loan(amount="5000", duration=6)
    loans.loan_write_off(actor=amina, loan=first, reason="left the district")
    assert FirstLossUse.objects.get().amount == D("5000.00")
    assert not any(d.loss for d in Distribution.objects.filter(kind="loss"))

    second = active_loan(borrower=UserFactory(role="borrower"), amount="7000", duration=6)
    loans.loan_write_off(actor=amina, loan=second, reason="crop failure")
    # 1,000 left of the cover; the other 6,000 split 2:1.
    assert sum(u.amount for u in FirstLossUse.objects.all()) == D("6000.00")
    losses = {
        d.commitment.investor.email: d.loss
        for d in Distribution.objects.filter(kind="loss", loss__gt=0)
    }
    assert losses == {ines.email: D("4000.00"), pablo.email: D("2000.00")}
