"""This node's side of discovery in the database: a key created once and sealed, an incarnation
raised on every start, a record re-signed (with a higher seq) only when what it says changes,
the agent's flushes into the peer table, stored seeds, and settings checked up front."""

from __future__ import annotations

import time

import pytest
from django.core.checks import run_checks
from django.core.exceptions import ValidationError
from django.test import override_settings

from apps.discovery import selectors, services
from apps.discovery.gossip.agent import AgentStatus, PeerState, PeerView, RoundTripSeen
from apps.discovery.gossip.claims import Role, Status
from apps.discovery.gossip.records import NodeKey, network_id_for, open_record
from apps.discovery.models import NodeIdentity, Peer, PeerStatus, Seed
from apps.ledger.services import log_append, log_for_book
from tests.discovery.records import signed_record

pytestmark = pytest.mark.django_db
NETWORK = network_id_for("growr-test")
AMANI = NodeKey.from_seed(b"a" * 32)  # an originator's node
INES = NodeKey.from_seed(b"i" * 32)  # an investor's node


def _peer_record(key: NodeKey, name: str, port: int, seq: int = 1):
    return signed_record(key, network_id=NETWORK, name=name, port=port, seq=seq)


def _status(**overrides) -> AgentStatus:
    fields = dict(
        node_id=b"n" * 32,
        incarnation=1,
        health=0,
        members=0,
        refused={},
        refused_updates=0,
        stale_updates=0,
        send_failures={},
        dropped_sends=0,
    )
    return AgentStatus(**(fields | overrides))


def test_the_node_key_is_created_once_sealed_and_each_start_raises_the_incarnation():
    key, first = services.node_identity_start()
    again, second = services.node_identity_start()

    assert again.node_id == key.node_id
    assert first.incarnation >= int(time.time()) - 5
    assert second.incarnation > first.incarnation
    stored = bytes(NodeIdentity.objects.get().sealed_seed)
    assert key.seed not in stored  # sealed, not plain


@override_settings(
    GROWR_NODE_NAME="Kijani Microfinance",
    GROWR_PUBLIC_URL="https://kijani.example",
    GROWR_NODE_ROLE="originator",
    GROWR_GOSSIP_BIND="0.0.0.0:7946",
    GROWR_GOSSIP_ADVERTISE="kijani.example:7946",
)
def test_the_record_announces_settings_and_books_and_is_re_signed_only_on_change():
    key, _ = services.node_identity_start()
    log_append(log=log_for_book(book="projects"), blocks=[b"{}"])

    record = services.own_record_next(key=key, network_id=NETWORK, current=None)

    assert open_record(record.raw, network_id=NETWORK) == record
    assert (record.seq, record.role, record.name) == (1, Role.ORIGINATOR, "Kijani Microfinance")
    assert (record.url, record.gossip_host, record.gossip_port) == (
        "https://kijani.example",
        "kijani.example",
        7946,
    )
    [book] = record.books
    assert (book.kind, book.length) == ("projects", 1)
    assert services.own_record_next(key=key, network_id=NETWORK, current=record) is None

    log_append(log=log_for_book(book="projects"), blocks=[b"{}"])
    newer = services.own_record_next(key=key, network_id=NETWORK, current=record)

    assert newer.seq == 2 and newer.books[0].length == 2
    assert NodeIdentity.objects.get().record_seq == 2


def test_a_flush_stores_records_states_round_trips_and_the_agent_heartbeat():
    services.node_identity_start()
    amani, ines = _peer_record(AMANI, "Amani", 7001), _peer_record(INES, "Ines", 7002)
    view = PeerView(
        records=[amani, ines],
        states=[PeerState(AMANI.node_id, Status.ALIVE, 1), PeerState(INES.node_id, Status.DEAD, 2)],
        round_trips=[RoundTripSeen(AMANI.node_id, 0.0123, 1_800_000_000.0)],
        status=_status(members=1, refused={"wrong network": 3}),
    )

    services.agent_view_save(view=view)

    peers = {bytes(p.node_id): p for p in Peer.objects.all()}
    assert peers[AMANI.node_id].round_trip_ms == pytest.approx(12.3)
    assert peers[INES.node_id].status == PeerStatus.DEAD
    identity = NodeIdentity.objects.get()
    assert identity.heartbeat_at is not None
    assert identity.counters["refused"] == {"wrong network": 3}


def test_a_round_trip_older_than_what_is_stored_does_not_move_last_seen_back():
    services.node_identity_start()
    services.agent_view_save(view=PeerView([_peer_record(AMANI, "Amani", 7001)], [], [], _status()))
    last_seen = Peer.objects.get().last_seen
    late = RoundTripSeen(AMANI.node_id, 0.5, last_seen.timestamp() - 60)

    services.agent_view_save(view=PeerView([], [], [late], _status()))

    peer = Peer.objects.get()
    assert (peer.last_seen, peer.round_trip_ms) == (last_seen, None)


@override_settings(GROWR_GOSSIP_SEEDS=["seed.growr.example:7946"])
def test_joining_uses_configured_seeds_stored_seeds_and_recently_alive_peers(amina):
    services.node_identity_start()
    services.seed_add(address="[2001:db8::1]:7946", added_by=amina)
    services.seed_add(address="[2001:db8::1]:7946", added_by=amina)  # twice is once
    services.agent_view_save(
        view=PeerView(
            [_peer_record(AMANI, "Amani", 7001), _peer_record(INES, "Ines", 7002)],
            [PeerState(INES.node_id, Status.DEAD, 1)],
            [],
            _status(),
        )
    )

    assert selectors.gossip_seed_addresses() == [
        ("seed.growr.example", 7946),
        ("2001:db8::1", 7946),
        ("127.0.0.1", 7001),
    ]


@pytest.mark.parametrize("address", ["", "no-port", "host:0", "host:70000", "bad host:1", "[::1]"])
def test_a_seed_that_is_not_host_and_port_is_refused_with_the_reason(amina, address):
    with pytest.raises(ValidationError, match=r"HOST:PORT|port|host"):
        services.seed_add(address=address, added_by=amina)
    assert not Seed.objects.exists()


@pytest.mark.parametrize(
    ("overrides", "error_id"),
    [
        ({"GROWR_GOSSIP_BIND": "127.0.0.1"}, "discovery.E001"),
        ({"GROWR_GOSSIP_SEEDS": ["seed.example:99999"]}, "discovery.E001"),
        ({"GROWR_GOSSIP_BIND": "0.0.0.0:7946", "GROWR_GOSSIP_ADVERTISE": ""}, "discovery.E002"),
        ({"GROWR_NETWORK": ""}, "discovery.E003"),
    ],
)
def test_bad_gossip_settings_fail_the_system_checks(overrides, error_id):
    with override_settings(**overrides):
        ids = [message.id for message in run_checks()]

    assert error_id in ids


def test_the_record_also_announces_whole_copies_of_followed_books_as_many_as_fit():
    from apps.ledger.follow_services import follow_start
    from apps.ledger.models import Log

    key, _ = services.node_identity_start()
    own = services.own_record_next(key=key, network_id=NETWORK, current=None)
    whole = follow_start(key=b"w" * 32, kind="projects", sources=["http://amani.example"])
    sparse = follow_start(
        key=b"s" * 32, kind="projects", sources=["http://amani.example"], keep_latest=5
    )
    empty = follow_start(key=b"e" * 32, kind="projects", sources=["http://amani.example"])
    Log.objects.filter(pk__in=[whole.log_id, sparse.log_id]).update(length=7)
    for n in range(30):  # far more than a record holds
        other = follow_start(key=bytes([n]) * 32, kind="loans", sources=["http://b.example"])
        Log.objects.filter(pk=other.log_id).update(length=1)

    record = services.own_record_next(key=key, network_id=NETWORK, current=own)

    keys = [book.key for book in record.books]
    assert keys[: len(own.books)] == [book.key for book in own.books]  # own books first
    kinds = {book.key: book.kind for book in record.books}
    assert kinds[b"w" * 32] == "projects@copy"  # a copy: it names no publisher
    assert b"s" * 32 not in keys and empty.log_id and b"e" * 32 not in keys
    assert 12 <= len(record.books) <= 16 and len(record.raw) <= 1024  # as many as fit
