"""In a real browser, Amina opens the Network page, watches a node turn suspect without
reloading (the WebSocket feed), and follows the projects book it announces."""

from __future__ import annotations

import pytest

from apps.discovery import services
from apps.discovery.gossip.agent import AgentStatus, PeerState, PeerView
from apps.discovery.gossip.claims import BookAnnouncement, Status
from apps.discovery.gossip.records import network_id_for
from apps.ledger.models import Follow
from tests.discovery.records import node_key, signed_record

from .test_portals_in_browser import _sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
STATUS = AgentStatus(b"n" * 32, 1, 0, 1, {}, 0, 0, {}, 0)


def _heard(records=(), states=()) -> None:
    services.agent_view_save(view=PeerView(list(records), list(states), [], STATUS))


def test_amina_watches_a_node_turn_suspect_and_follows_its_projects(
    page, node_url, screenshot, amina
):
    services.node_identity_start()
    amani = signed_record(
        node_key("amani"),
        network_id=network_id_for("growr"),
        name="Amani Microfinance",
        port=7001,
        books=(BookAnnouncement(b"p" * 32, "projects", 12),),
    )
    _heard([amani], [PeerState(amani.node_id, Status.ALIVE, 1)])

    _sign_in(page, node_url, amina.email)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Network").click()
    nodes = page.get_by_role("region", name="Nodes")
    row = nodes.get_by_role("row").filter(has_text="Amani Microfinance")
    assert "alive" in row.inner_text()
    page.wait_for_selector("#network-live[data-connected]")
    screenshot("alive")

    _heard(states=[PeerState(amani.node_id, Status.SUSPECT, 1)])

    page.wait_for_selector("#network-live .badge-suspect", timeout=10_000)
    assert page.locator("#network-summary").inner_text() == "1 other node known: 1 suspect."
    screenshot("suspect")

    page.get_by_role("button", name="Follow Amani Microfinance's projects book").click()

    assert "now follows the projects book" in page.locator(".messages").inner_text()
    assert Follow.objects.get().chosen_by == amina
    screenshot("followed")
