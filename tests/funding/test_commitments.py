"""Commitments to a project: within the ticket and the target, idempotent, confirmed by staff,
funding the project at its target, refunded when it closes unfunded; and the public funding book
sees only a pseudonym of each investor, another one in every project."""

from __future__ import annotations

import json
import threading
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection

from apps.funding import services
from apps.funding.models import Commitment, CommitmentStatus
from apps.identity.models import Wallet
from apps.ledger.models import Book, OutboxEntry
from apps.projects.models import ProjectStatus
from apps.projects.services import project_close
from tests.factories import UserFactory

D = Decimal


def funding_book() -> list[dict]:
    entries = OutboxEntry.objects.filter(book=Book.FUNDING).order_by("id")
    return [json.loads(bytes(e.data))["value"] for e in entries]


def test_ines_commits_within_the_ticket_and_the_target(goats, ines, pablo, commit):
    # Target 500,000 KES, minimum ticket 1,000.
    first = commit(ines, goats, "300000")
    assert first.status == CommitmentStatus.PENDING and first.amount == D("300000")
    with pytest.raises(ValidationError) as small:
        commit(pablo, goats, "999.99")
    assert "minimum ticket" in small.value.message_dict["amount"][0]
    with pytest.raises(ValidationError) as large:
        commit(pablo, goats, "200000.01")
    assert large.value.message_dict["amount"] == ["Only 200000.00 KES of the target is left."]
    assert commit(pablo, goats, "200000").amount == D("200000")
    assert Commitment.objects.count() == 2


@pytest.mark.parametrize("amount", ["0", "-5", "12.345", "lots", "1e30"])
def test_bad_amounts_are_refused(goats, ines, commit, amount):
    with pytest.raises(ValidationError) as refused:
        commit(ines, goats, amount)
    assert "amount" in refused.value.message_dict
    assert not Commitment.objects.exists()


def test_the_same_request_is_the_same_commitment(goats, ines, commit):
    first = commit(ines, goats, "5000", request_id="page-load-7f3a")
    again = commit(ines, goats, "5000", request_id="page-load-7f3a")
    assert again.pk == first.pk and Commitment.objects.count() == 1
    with pytest.raises(ValidationError):
        commit(ines, goats, "6000", request_id="page-load-7f3a")


def test_only_investors_commit_and_only_to_open_projects(goats, wanjiru, juma, ines, amina, commit):
    for person in (wanjiru, juma):
        with pytest.raises(PermissionDenied):
            commit(person, goats, "5000")
    project_close(actor=amina, project=goats, reason="enough for this season")
    goats.refresh_from_db()
    with pytest.raises(ValidationError) as closed:
        commit(ines, goats, "5000")
    assert "project" in closed.value.message_dict


def test_confirmed_funds_reaching_the_target_fund_and_close_the_project(
    goats, ines, pablo, juma, commit
):
    first, second = commit(ines, goats, "300000"), commit(pablo, goats, "200000")
    with pytest.raises(PermissionDenied):
        services.commitment_confirm(actor=ines, commitment=first, reference="BANK-1")
    services.commitment_confirm(actor=juma, commitment=first, reference="BANK-1")
    # Confirming again with the same reference is the same confirmation.
    services.commitment_confirm(actor=juma, commitment=first, reference="BANK-1")
    goats.refresh_from_db()
    assert goats.status == ProjectStatus.PUBLISHED
    services.commitment_confirm(actor=juma, commitment=second, reference="BANK-2")
    goats.refresh_from_db()
    assert goats.status == ProjectStatus.CLOSED and goats.close_reason == "target"
    events = [(e["event"], e["amount"]) for e in funding_book()]
    assert events == [
        ("committed", "300000.00"),
        ("committed", "200000.00"),
        ("confirmed", "300000.00"),
        ("confirmed", "200000.00"),
    ]


def test_a_project_closed_unfunded_cancels_pending_commitments_and_refunds_confirmed_ones(
    goats, ines, pablo, juma, amina, commit
):
    paid, promised = commit(ines, goats, "100000"), commit(pablo, goats, "50000")
    services.commitment_confirm(actor=juma, commitment=paid, reference="BANK-9")
    project_close(actor=amina, project=goats, reason="the season is over")
    paid.refresh_from_db()
    promised.refresh_from_db()
    assert (paid.status, promised.status) == (CommitmentStatus.REFUND_DUE, "cancelled")
    services.commitment_refund(actor=juma, commitment=paid, reference="BANK-BACK-9")
    paid.refresh_from_db()
    assert paid.status == CommitmentStatus.REFUNDED
    assert [e["event"] for e in funding_book()][-2:] == ["cancelled", "refunded"]


def test_an_investor_cancels_only_her_own_pending_commitment(goats, ines, pablo, juma, commit):
    mine = commit(ines, goats, "5000")
    with pytest.raises(PermissionDenied):
        services.commitment_cancel(investor=pablo, commitment=mine)
    services.commitment_confirm(actor=juma, commitment=mine, reference="B1")
    with pytest.raises(ValidationError):
        services.commitment_cancel(investor=ines, commitment=mine)


def test_the_book_names_investors_by_a_pseudonym_that_differs_per_project(
    goats, simple_goats, ines, commit
):
    commit(ines, goats, "5000")
    commit(ines, simple_goats, "5000")
    pseudonyms = {e["investor"] for e in funding_book()}
    assert len(pseudonyms) == 2
    did = Wallet.objects.get(user=ines).did
    text = json.dumps(funding_book())
    assert did not in text and ines.email not in text and ines.full_name not in text


@pytest.mark.django_db(transaction=True)
def test_concurrent_commitments_never_oversubscribe_the_target(goats):
    if connection.vendor != "postgresql":
        pytest.skip("row locks and parallel transactions need PostgreSQL")
    investors = [UserFactory(role="investor") for _ in range(8)]
    results: list[str] = []

    def race(investor):
        try:
            services.commitment_create(
                investor=investor,
                project=goats,
                amount="100000",
                request_id=f"race-{investor.pk:04d}",
            )
            results.append("ok")
        except ValidationError as refusal:
            results.append(refusal.messages[0])
        finally:
            connection.close()

    threads = [threading.Thread(target=race, args=(i,)) for i in investors]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == ["Only 0.00 KES of the target is left."] * 3 + ["ok"] * 5
    total = sum(c.amount for c in Commitment.objects.filter(project=goats))
    assert total == goats.target_amount


def test_one_investor_puts_in_at_most_the_cap(juma, amina, ines, pablo, commit):
    from apps.projects.services import project_create, project_publish
    from tests.projects.conftest import goat_terms

    capped = project_publish(
        actor=amina,
        project=project_create(
            actor=juma, terms=goat_terms(name="Capped goats", max_ticket=D("50000.00"))
        ),
    )
    commit(ines, capped, "30000")
    with pytest.raises(ValidationError) as refused:
        commit(ines, capped, "20000.01")
    assert refused.value.message_dict["amount"] == [
        "One investor puts in at most 50000.00 KES here."
    ]
    commit(ines, capped, "20000")
    commit(pablo, capped, "50000")


def test_a_cap_below_the_minimum_ticket_is_refused(juma):
    from apps.projects.services import project_create
    from tests.projects.conftest import goat_terms

    with pytest.raises(ValidationError) as refused:
        project_create(actor=juma, terms=goat_terms(max_ticket=D("500.00")))
    assert "max_ticket" in refused.value.message_dict
