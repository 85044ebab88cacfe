"""Projects books for the network stories: Kijani's own projects on this node, and Amani's on
another node, known through gossip and followed."""

from __future__ import annotations

import json
import uuid

import pytest

from apps.discovery import services as discovery_services
from apps.discovery.gossip.agent import AgentStatus, PeerView
from apps.discovery.gossip.claims import BookAnnouncement
from apps.discovery.gossip.records import network_id_for
from apps.ledger.follow_services import follow_index, follow_pull, follow_start
from apps.ledger.models import Follow
from apps.ledger.services import book_publish, outbox_flush
from tests.discovery.records import node_key, signed_record
from tests.ledger.replica_sources import HonestSource, MemoryBook


def project_value(title: str, amount: str) -> dict:
    return {
        "project": str(uuid.uuid5(uuid.NAMESPACE_URL, title)),
        "version": 1,
        "status": "published",
        "terms": {"title": title, "amount": amount, "currency": "KES"},
        "eligibility": None,
    }


def project_entry(title: str, amount: str) -> bytes:
    value = project_value(title, amount)
    return json.dumps(
        {"type": "growr/project", "v": 1, "key": f"project:{value['project']}", "value": value}
    ).encode()


def publish_projects(*titles: str) -> None:
    """Kijani publishes projects in this node's own projects book."""
    for title in titles:
        value = project_value(title, "250000.00")
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
    publish_projects("Kijani dairy goats", "Kijani solar kiosks")


def follow_projects_of(name: str, book: MemoryBook) -> tuple[Follow, bytes]:
    """NAME's node, heard of through gossip, whose projects BOOK this node follows and has
    pulled: the follow, and the node's id."""
    record = signed_record(
        node_key(name),
        network_id=network_id_for("growr"),
        name=name,
        books=(BookAnnouncement(book.key, "projects", book.tree.length),),
    )
    discovery_services.node_identity_start()
    status = AgentStatus(b"n" * 32, 1, 0, 1, {}, 0, 0, {}, 0)
    discovery_services.agent_view_save(view=PeerView([record], [], [], status))
    follow = follow_start(
        key=book.key, kind="projects", sources=[record.url], publisher=record.node_id
    )
    follow_pull(follow_id=follow.pk, source_factory=lambda url: HonestSource(book, url))
    follow_index(follow_id=follow.pk)
    return follow, record.node_id


@pytest.fixture
def amani_projects(db):
    """Amani's node, known through gossip, whose projects book this node follows."""
    book = MemoryBook()
    book.append([project_entry(f"Amani boda-boda {n}", "80000.00") for n in range(3)])
    follow_projects_of("Amani Microfinance", book)
    return book
