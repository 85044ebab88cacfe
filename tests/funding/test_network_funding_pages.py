"""Ines, on this node, funds a project of Amani's node from the network catalogue: the page
shows the terms this node verified and sends her signed commitment there. A node that does not
answer, or refuses, is a form error, never a 500; borrowers and staff cannot open the page."""

from __future__ import annotations

import uuid

import pytest

from apps.funding.models import RemoteCommitment
from apps.ledger.replication import HttpSource, ReplicationError

from .network_books import project_value

pytestmark = pytest.mark.django_db

BOOK = "cd" * 32  # the key of the funding book Amani's node names in its answers


def fund_url(book, title: str) -> str:
    return f"/invest/network/{book.key.hex()}/{project_value(title, '')['project']}/"


def test_the_catalogue_offers_to_fund_another_nodes_project_from_here(
    client,
    ines,
    amani_projects,
    kijani_projects,
):
    client.force_login(ines)
    page = client.get("/invest/projects/").content.decode()
    assert fund_url(amani_projects, "Amani boda-boda 0") in page
    assert page.count("Fund from this node") == 3  # Amani's three, not this node's own


def test_an_unreachable_originator_is_a_form_error_and_nothing_is_stored(
    client,
    ines,
    amani_projects,
    monkeypatch,
):
    def down(self, path, payload):
        raise ReplicationError("unreachable", "connection refused")

    monkeypatch.setattr(HttpSource, "post_json", down)
    client.force_login(ines)
    url = fund_url(amani_projects, "Amani boda-boda 1")
    assert "Commit from this node" in client.get(url).content.decode()
    answer = client.post(url, {"amount": "5000", "request_id": "ines-page-0001"})
    assert answer.status_code == 200
    assert "did not answer" in answer.content.decode()
    assert not RemoteCommitment.objects.exists()


def test_a_refusal_by_the_originator_says_why(client, ines, amani_projects, monkeypatch):
    def refuse(self, path, payload):
        fields = {"amount": ["The minimum ticket is 1000.00 KES."]}
        return 400, {"error": {"code": "invalid", "message": "x", "fields": fields}}

    monkeypatch.setattr(HttpSource, "post_json", refuse)
    client.force_login(ines)
    answer = client.post(fund_url(amani_projects, "Amani boda-boda 1"),
                         {"amount": "10", "request_id": "ines-page-0002"})  # fmt: skip
    assert "The minimum ticket is 1000.00 KES." in answer.content.decode()
    assert not RemoteCommitment.objects.exists()


def test_an_accepted_commitment_is_listed_with_the_originators_answer(
    client,
    ines,
    amani_projects,
    monkeypatch,
):
    sent = {}

    def accept(self, path, payload):
        sent["path"], sent["token"] = path, payload["token"]
        return 201, {"commitment": str(uuid.uuid4()), "status": "pending", "funding_book": BOOK}

    monkeypatch.setattr(HttpSource, "post_json", accept)
    client.force_login(ines)
    answer = client.post(fund_url(amani_projects, "Amani boda-boda 2"),
                         {"amount": "5000", "request_id": "ines-page-0003"})  # fmt: skip
    assert answer.status_code == 302 and answer.url == "/invest/network/commitments/"
    assert sent["path"] == "/api/remote-commitments/" and sent["token"].count(".") == 2
    listed = client.get("/invest/network/commitments/").content.decode()
    assert "data-state>pending<" in listed
    assert 'rel="nofollow noopener">Amani Microfinance</a>' in listed  # its node, by name
    stored = RemoteCommitment.objects.get()
    assert stored.answered_status == "pending" and bytes(stored.funding_book_key).hex() == BOOK


@pytest.mark.parametrize(
    ("funding_book", "stored_key"), [(None, b""), ("ab" * 31, None), ("not hex", None)]
)
def test_the_originators_funding_book_is_kept_when_named_and_nonsense_is_refused(
    client, ines, amani_projects, monkeypatch, funding_book, stored_key
):
    """An older originator's node names no book: the commitment shows its answer only. A book
    that is no 32-byte key is nonsense, and nothing is stored."""
    answer = {"commitment": str(uuid.uuid4()), "status": "pending"}
    if funding_book is not None:
        answer["funding_book"] = funding_book
    monkeypatch.setattr(HttpSource, "post_json", lambda self, path, payload: (201, answer))
    client.force_login(ines)

    page = client.post(fund_url(amani_projects, "Amani boda-boda 2"),
                       {"amount": "5000", "request_id": "ines-page-0004"})  # fmt: skip

    if stored_key is None:
        assert "answered nonsense" in page.content.decode()
        assert not RemoteCommitment.objects.exists()
    else:
        assert page.status_code == 302
        assert bytes(RemoteCommitment.objects.get().funding_book_key) == stored_key


def test_own_or_unknown_projects_are_not_found(client, ines, kijani_projects, amani_projects):
    from apps.ledger.services import log_for_book

    client.force_login(ines)
    own_key = bytes(log_for_book(book="projects").key).hex()
    own = f"/invest/network/{own_key}/{project_value('Kijani dairy goats', '')['project']}/"
    assert client.get(own).status_code == 404
    assert client.get(f"/invest/network/{'ab' * 32}/{uuid.uuid4()}/").status_code == 404


def test_borrowers_and_staff_cannot_fund(client, wanjiru, juma, amani_projects):
    for person in (wanjiru, juma):
        client.force_login(person)
        assert client.get(fund_url(amani_projects, "Amani boda-boda 0")).status_code == 403


def test_her_share_of_repayments_comes_from_the_replicated_funding_book(ines, client, db):
    """What her node holds of the originator's funding book gives her remote position: state,
    returns and XIRR. Here the book is this node's own, standing in for the followed one the
    commitment names."""
    from datetime import date, timedelta
    from decimal import Decimal

    from apps.funding import selectors
    from apps.ledger.services import book_publish, log_for_book, outbox_flush

    commitment_id = uuid.uuid4()
    RemoteCommitment.objects.create(
        investor=ines, origin_url="http://amani.example", project_id=uuid.uuid4(),
        project_name="Amani boda-boda", request_id="ines-remote-1", commitment_id=commitment_id,
        currency="KES", amount=Decimal("10000.00"), answered_status="pending",
        funding_book_key=log_for_book(book="funding").key,
    )  # fmt: skip
    start = date.today() - timedelta(days=365)
    book_publish(
        book="funding", entry_type="growr/funding-event", version=1,
        key=f"commitment:{commitment_id}",
        value={"commitment": str(commitment_id), "project": str(uuid.uuid4()),
               "investor": "ab" * 32, "event": "confirmed", "amount": "10000.00",
               "currency": "KES", "at": f"{start.isoformat()}T09:00:00Z"},
    )  # fmt: skip
    for n, (principal, interest) in enumerate((("5000.00", "600.00"), ("5000.00", "300.00"))):
        payment = uuid.uuid4()
        book_publish(
            book="funding", entry_type="growr/distribution", version=1,
            key=f"distribution:{commitment_id}:{payment}",
            value={"commitment": str(commitment_id), "project": str(uuid.uuid4()),
                   "payment": str(payment), "loan": str(uuid.uuid4()), "kind": "repayment",
                   "on": (start + timedelta(days=180 * (n + 1))).isoformat(), "currency": "KES",
                   "principal": principal, "interest": interest, "loss": "0.00"},
        )  # fmt: skip
    outbox_flush(book="funding")

    [position] = selectors.remote_commitments(investor=ines)
    assert position.status == "confirmed"
    assert (position.principal_returned, position.interest_received) == (
        Decimal("10000.00"),
        Decimal("900.00"),
    )
    assert position.outstanding == 0
    # -10,000, then +5,600 after 180 days and +5,300 after 360: 12.54 % a year.
    assert position.xirr == Decimal("0.1254")
    client.force_login(ines)
    page = client.get("/invest/network/commitments/").content.decode()
    assert "900.00" in page and "confirmed" in page
