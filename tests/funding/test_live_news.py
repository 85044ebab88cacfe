"""Investors hear of their money. On Kijani's node, Ines and Pablo are told when Juma confirms
the funds they sent and, at every repayment or write-off of a loan under the project, of their
own share.
Ines also runs her own investor node: what she committed there to Amani's project she learns
from Amani's funding book, which her node follows and pulls in its worker; each piece of news
once, however often the book is indexed."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest
from django.utils import timezone

from apps.applications import services as loans
from apps.funding import services
from apps.funding.models import Commitment, CommitmentStatus, Distribution, RemoteCommitment
from apps.identity.models import Notification
from apps.ledger.entries import encode_entry
from apps.ledger.follow_services import follow_index, follow_pull, follow_start
from apps.ledger.models import BookEntry
from tests.factories import UserFactory
from tests.ledger.replica_sources import HonestSource, MemoryBook

CENT = Decimal("0.01")


def news_of(person, kind: str) -> list[Notification]:
    return list(Notification.objects.filter(user=person, kind=kind).order_by("id"))


def fund(project, juma, commit, *investors_and_amounts) -> dict:
    commitments = {}
    for investor, amount in investors_and_amounts:
        commitment = commit(investor, project, amount)
        services.commitment_confirm(actor=juma, commitment=commitment, reference=f"B{amount}")
        commitments[investor] = commitment
    return commitments


def test_ines_and_pablo_hear_their_funds_are_confirmed_and_their_share_of_a_repayment(
    active_loan, simple_goats, juma, ines, pablo, commit
):
    loan = active_loan(amount="12000", duration=12)
    commitments = fund(simple_goats, juma, commit, (ines, "1000.00"), (pablo, "2000.00"))
    [confirmed] = news_of(ines, "commitment")
    assert confirmed.text == (
        f"Your commitment of 1000.00 KES to {simple_goats.name} is confirmed: the originator "
        "received the funds."
    )

    payment = loans.repayment_record(
        actor=juma, loan=loan, amount="1234.57", reference="R1", rail="cash",
        paid_on=timezone.localdate(),
    )  # fmt: skip

    for investor in (ines, pablo):
        commitment = commitments[investor]
        share = Distribution.objects.get(commitment=commitment, payment_public_id=payment.public_id)
        [news] = news_of(investor, "repayment")
        assert news.text == (
            f"Repayment received on {simple_goats.name}: principal "
            f"{share.principal.quantize(CENT)}, interest {share.interest.quantize(CENT)} KES"
        )
        assert news.link == f"/invest/commitments/{commitment.pk}/"


def test_ines_and_pablo_hear_of_their_share_of_a_write_off_the_cover_did_not_take(
    active_loan, simple_goats, juma, amina, ines, pablo, commit
):
    # First-loss share 10%: 6,000 KES of cover for 60,000 KES of funding.
    commitments = fund(simple_goats, juma, commit, (ines, "40000.00"), (pablo, "20000.00"))
    covered = active_loan(amount="5000", duration=6)
    loans.loan_write_off(actor=amina, loan=covered, reason="left the district")
    assert not news_of(ines, "loss") and not news_of(pablo, "loss")

    lost = active_loan(borrower=UserFactory(role="borrower"), amount="7000", duration=6)
    loans.loan_write_off(actor=amina, loan=lost, reason="crop failure")

    for investor, share in ((ines, "4000.00"), (pablo, "2000.00")):
        [news] = news_of(investor, "loss")
        assert news.text == (
            f"A loan under {simple_goats.name} was written off: your share of the loss is "
            f"{share} KES"
        )
        assert news.link == f"/invest/commitments/{commitments[investor].pk}/"


def test_a_funder_from_another_node_is_not_notified_here(
    active_loan, simple_goats, juma, ines, commit
):
    loan = active_loan(amount="12000", duration=12)
    fund(simple_goats, juma, commit, (ines, "1000.00"))
    Commitment.objects.create(
        project=simple_goats, investor=None, investor_did="did:key:z6MkAmaniInvestor",
        pseudonym="ab" * 32, request_id="other-node-0001", currency="KES",
        amount=Decimal("1000.00"), status=CommitmentStatus.CONFIRMED,
    )  # fmt: skip

    loans.repayment_record(
        actor=juma, loan=loan, amount="1000", reference="R2", rail="cash",
        paid_on=timezone.localdate(),
    )  # fmt: skip

    assert Distribution.objects.count() == 2
    assert Notification.objects.filter(kind="repayment").count() == 1


# --- on Ines's own investor node ----------------------------------------------------------------


def funding_entry(entry_type: str, key: str, value: dict) -> bytes:
    return encode_entry(book="funding", entry_type=entry_type, version=1, key=key, value=value)


def commitment_event(commitment: RemoteCommitment, event: str) -> bytes:
    return funding_entry(
        "growr/funding-event",
        f"commitment:{commitment.commitment_id}",
        {
            "commitment": str(commitment.commitment_id),
            "project": str(commitment.project_id),
            "investor": "ab" * 32,
            "event": event,
            "amount": "10000.00",
            "currency": "KES",
            "at": "2026-01-05T09:00:00Z",
        },
    )


def share(commitment_id, principal: str, interest: str, kind: str = "repayment") -> bytes:
    payment = uuid.uuid4()
    return funding_entry(
        "growr/distribution",
        f"distribution:{commitment_id}:{payment}",
        {
            "commitment": str(commitment_id), "project": str(uuid.uuid4()),
            "payment": str(payment), "loan": str(uuid.uuid4()), "kind": kind,
            "on": "2026-02-05", "currency": "KES", "principal": principal,
            "interest": interest, "loss": "0.00" if kind == "repayment" else principal,
        },
    )  # fmt: skip


def followed_funding_book(name: str):
    """NAME's funding book, as NAME's node serves it, followed by this (Ines's) node: call it
    with entries to have NAME append them and the worker pull and index them."""
    book = MemoryBook(seed=f"{name}-funding".encode().ljust(32, b"\0"))
    follow = follow_start(key=book.key, kind="funding", sources=[f"http://{name}.example"])

    def pull(*entries: bytes) -> None:
        """Amani appends ENTRIES; the worker pulls and indexes them."""
        book.append(list(entries))
        follow_pull(follow_id=follow.pk, source_factory=lambda url: HonestSource(book, url))
        follow_index(follow_id=follow.pk)

    pull.follow = follow
    pull.key = book.key
    return pull


@pytest.fixture
def amani_funding(db):
    return followed_funding_book("amani")


@pytest.fixture
def ines_remote(ines, amani_funding):
    """Ines's commitment to Amani's project, which Amani's node answered naming its book."""
    return RemoteCommitment.objects.create(
        investor=ines, origin_url="http://amani.example", project_id=uuid.uuid4(),
        project_name="Amani boda-boda", request_id="ines-remote-1",
        commitment_id=uuid.uuid4(), currency="KES", amount=Decimal("10000.00"),
        answered_status="pending", funding_book_key=amani_funding.key,
    )  # fmt: skip


def test_ines_hears_from_the_followed_funding_book_of_her_remote_commitment(
    ines, pablo, ines_remote, amani_funding
):
    someone_elses = uuid.uuid4()

    amani_funding(
        commitment_event(ines_remote, "committed"),
        commitment_event(ines_remote, "confirmed"),
        share(someone_elses, "900.00", "80.00"),
    )

    [confirmed] = news_of(ines, "commitment")
    assert confirmed.text == (
        "Your commitment of 10000.00 KES to Amani boda-boda is confirmed: the originator "
        "received the funds."
    )
    assert confirmed.link == "/invest/network/commitments/"
    assert not news_of(ines, "repayment")

    amani_funding(
        share(ines_remote.commitment_id, "5000.00", "600.00"),
        share(ines_remote.commitment_id, "0.00", "0.00"),  # nothing to tell
        share(ines_remote.commitment_id, "1000.00", "0.00", kind="loss"),
    )

    [repaid] = news_of(ines, "repayment")
    assert (
        repaid.text
        == "Repayment received on Amani boda-boda: principal 5000.00, interest 600.00 KES"
    )
    assert repaid.link == "/invest/network/commitments/"
    [lost] = news_of(ines, "loss")
    assert lost.text == (
        "A loan under Amani boda-boda was written off: your share of the loss is 1000.00 KES"
    )
    assert not Notification.objects.filter(user=pablo).exists()


def test_indexing_the_book_again_tells_nothing_twice(ines, ines_remote, amani_funding):
    amani_funding(
        commitment_event(ines_remote, "confirmed"),
        share(ines_remote.commitment_id, "5000.00", "600.00"),
    )
    assert Notification.objects.filter(user=ines).count() == 2
    rows = [
        (e.block_index, e.key, e.entry_type, e.is_deletion)
        for e in BookEntry.objects.filter(log=amani_funding.follow.log_id)
    ]

    made = services.remote_funding_indexed(log_id=amani_funding.follow.log_id, rows=rows)

    assert made == 0
    assert Notification.objects.filter(user=ines).count() == 2


def test_this_nodes_own_funding_book_does_not_count_as_news_from_the_originator(ines, ines_remote):
    """Only a followed book speaks for another node: an entry in this node's own book, which
    no originator signed, tells Ines nothing."""
    from apps.ledger.services import book_publish, outbox_flush

    book_publish(
        book="funding", entry_type="growr/funding-event", version=1,
        key=f"commitment:{ines_remote.commitment_id}",
        value={"commitment": str(ines_remote.commitment_id), "project": str(uuid.uuid4()),
               "investor": "ab" * 32, "event": "confirmed", "amount": "10000.00",
               "currency": "KES", "at": "2026-01-05T09:00:00Z"},
    )  # fmt: skip
    outbox_flush(book="funding")

    assert not Notification.objects.filter(user=ines).exists()


def test_a_malformed_amount_in_a_followed_book_is_passed_over_and_indexing_goes_on(
    ines, ines_remote, amani_funding
):
    odd = share(ines_remote.commitment_id, "5000.00", "600.00").replace(b'"600.00"', b'"1e999"')

    amani_funding(odd, commitment_event(ines_remote, "confirmed"))

    assert [n.kind for n in Notification.objects.filter(user=ines)] == ["commitment"]
    assert BookEntry.objects.filter(log=amani_funding.follow.log_id).count() == 2


def test_another_nodes_book_cannot_speak_for_her_commitment(ines, ines_remote, amani_funding):
    """The commitment's id is public (Amani's book lists it): a node that writes it into a book
    of its own, which Ines's node follows, neither notifies her nor changes her position."""
    from apps.funding import selectors

    mischief = followed_funding_book("mischief")
    mischief(
        commitment_event(ines_remote, "confirmed"),
        share(ines_remote.commitment_id, "10000.00", "5000.00"),
    )

    assert not Notification.objects.filter(user=ines).exists()
    [position] = selectors.remote_commitments(investor=ines)
    assert position.status == "pending" and position.interest_received == 0

    amani_funding(share(ines_remote.commitment_id, "5000.00", "600.00"))

    [repaid] = news_of(ines, "repayment")
    assert "principal 5000.00, interest 600.00 KES" in repaid.text
    [position] = selectors.remote_commitments(investor=ines)
    assert (position.principal_returned, position.interest_received) == (
        Decimal("5000.00"),
        Decimal("600.00"),
    )
