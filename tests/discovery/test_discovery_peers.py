"""The durable peer table only ever moves forward: a late or replayed write never replaces a
newer record or a newer state, whatever order the writes come in."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from apps.discovery.gossip.claims import BookAnnouncement, Role, Status
from apps.discovery.gossip.records import NodeKey, network_id_for, sign_record
from apps.discovery.models import Peer, PeerStatus
from apps.discovery.services import peer_records_save, peer_states_save

pytestmark = pytest.mark.django_db
NETWORK = network_id_for("growr-test")
AMANI = NodeKey.from_seed(b"a" * 32)  # an originator's node
INES = NodeKey.from_seed(b"i" * 32)  # an investor's node
NOW = dt.datetime(2026, 11, 25, 12, 0, tzinfo=dt.UTC)
FOR_EACH_ORDER = settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def amani_record(seq: int, name: str = "Amani Microfinance"):
    return sign_record(
        AMANI,
        network_id=NETWORK,
        seq=seq,
        role=Role.ORIGINATOR,
        name=name,
        url="https://amani.example",
        gossip_host="amani.example",
        gossip_port=7946,
        books=[BookAnnouncement(b"p" * 32, "projects", seq)],
    )


def test_a_newly_heard_node_is_stored_with_its_signed_record():
    record = amani_record(3)

    peer_records_save(records=[record], seen_at=NOW)

    peer = Peer.objects.get()
    assert bytes(peer.node_id) == AMANI.node_id
    assert bytes(peer.record) == record.raw
    assert (peer.seq, peer.role, peer.name, peer.status) == (
        3,
        "originator",
        "Amani Microfinance",
        PeerStatus.ALIVE,
    )
    assert peer.books == [{"key": ("70" * 32), "kind": "projects", "length": 3}]


@FOR_EACH_ORDER
@given(st.permutations([1, 2, 3, 4, 5]))
def test_the_record_with_the_highest_seq_wins_in_any_order(seqs):
    Peer.objects.all().delete()

    for seq in seqs:
        peer_records_save(records=[amani_record(seq, name=f"Amani v{seq}")], seen_at=NOW)

    peer = Peer.objects.get()
    assert (peer.seq, peer.name) == (5, "Amani v5")
    assert bytes(peer.record) == amani_record(5, name="Amani v5").raw


@FOR_EACH_ORDER
@given(
    st.lists(
        st.tuples(st.sampled_from(list(Status)), st.integers(min_value=0, max_value=3)),
        min_size=1,
        max_size=8,
    )
)
def test_the_state_with_the_highest_incarnation_then_status_wins_in_any_order(states):
    Peer.objects.all().delete()
    peer_records_save(records=[amani_record(1)], seen_at=NOW)

    peer_states_save(states=[(AMANI.node_id, s, i) for s, i in states], seen_at=NOW)

    peer = Peer.objects.get()
    as_stored = [(0, Status.ALIVE), *((incarnation, status) for status, incarnation in states)]
    assert (peer.incarnation, peer.status) == max(as_stored)


def test_a_state_about_a_node_never_heard_of_stores_nothing():
    peer_states_save(states=[(INES.node_id, Status.DEAD, 4)], seen_at=NOW)

    assert not Peer.objects.exists()
