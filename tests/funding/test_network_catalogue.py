"""Ines browses the projects of the network: this node's own and those of the books it follows,
with where each comes from and a verified badge. Borrowers and staff do not see the page."""

from __future__ import annotations

import json
import uuid

import pytest

from apps.discovery import services as discovery_services
from apps.discovery.gossip.agent import AgentStatus, PeerView
from apps.discovery.gossip.claims import BookAnnouncement
from apps.discovery.gossip.records import network_id_for
from apps.ledger.follow_services import follow_index, follow_pull, follow_start
from apps.ledger.services import book_publish, outbox_flush
from tests.discovery.records import node_key, signed_record
from tests.ledger.replica_sources import HonestSource, MemoryBook
from tests.queries import page_queries

pytestmark = pytest.mark.django_db


def _project(title: str, amount: str) -> dict:
    return {
        "project": str(uuid.uuid5(uuid.NAMESPACE_URL, title)),
        "version": 1,
        "status": "published",
        "terms": {"title": title, "amount": amount, "currency": "KES"},
        "eligibility": None,
    }


def _entry(title: str, amount: str) -> bytes:
    value = _project(title, amount)
    return json.dumps(
        {"type": "growr/project", "v": 1, "key": f"project:{value['project']}", "value": value}
    ).encode()


def _publish(*titles: str) -> None:
    """Kijani publishes projects in this node's own projects book."""
    for title in titles:
        value = _project(title, "250000.00")
        book_publish(
            book="projects",
            entry_type="growr/project",
            version=1,
            key=f"project:{value['project']}",
            value=value,
        )
    outbox_flush(book="projects")


@pytest.fixture
def kijani_projects(db):
    _publish("Kijani dairy goats", "Kijani solar kiosks")


@pytest.fixture
def amani_projects(db):
    """Amani's node, known through gossip, whose projects book this node follows."""
    book = MemoryBook()
    book.append([_entry(f"Amani boda-boda {n}", "80000.00") for n in range(3)])
    record = signed_record(
        node_key("Amani Microfinance"),
        network_id=network_id_for("growr"),
        name="Amani Microfinance",
        books=(BookAnnouncement(book.key, "projects", 3),),
    )
    discovery_services.node_identity_start()
    status = AgentStatus(b"n" * 32, 1, 0, 1, {}, 0, 0, {}, 0)
    discovery_services.agent_view_save(view=PeerView([record], [], [], status))
    follow = follow_start(
        key=book.key, kind="projects", sources=[record.url], publisher=record.node_id
    )
    follow_pull(follow_id=follow.pk, source_factory=lambda url: HonestSource(book, url))
    follow_index(follow_id=follow.pk)
    return book


def test_ines_sees_own_and_followed_projects_with_their_origin(
    client, ines, kijani_projects, amani_projects
):
    client.force_login(ines)

    page = client.get("/invest/projects/").content.decode()

    assert "5 projects" in page
    assert "Kijani dairy goats" in page and "(this node)" in page
    assert "Amani boda-boda 2" in page and "Amani Microfinance" in page
    assert page.count('badge-alive">verified') == 5
    assert f"/api/books/{amani_projects.key.hex()}/entry/?key=project:" in page
    # Each project links to its page on the node it comes from.
    amani_id = uuid.uuid5(uuid.NAMESPACE_URL, "Amani boda-boda 2")
    assert f'href="https://amani-microfinance.example/projects/{amani_id}/"' in page


def test_the_catalogue_costs_the_same_queries_for_few_and_many_projects(
    client, ines, kijani_projects
):
    client.force_login(ines)

    few = page_queries(client, "/invest/projects/")
    _publish(*(f"Kijani project {n}" for n in range(20)))
    assert page_queries(client, "/invest/projects/") == few


def test_an_empty_network_says_where_projects_come_from(client, pablo, db):
    client.force_login(pablo)

    page = client.get("/invest/projects/?page=oops").content.decode()

    assert "No project yet" in page


def test_borrowers_and_staff_cannot_open_it(client, wanjiru, amina):
    for person in (wanjiru, amina):
        client.force_login(person)
        assert client.get("/invest/projects/").status_code == 403
    client.logout()
    assert client.get("/invest/projects/").status_code == 302
