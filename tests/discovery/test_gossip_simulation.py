"""The virtual network the discovery benchmark runs on: frame sizes counted exactly as the
transport would send them, a converged start that is a real converged cluster, and the protocol's
promises at small sizes (everyone informed, a stopped node dead everywhere within the bound the
timers give, no false deaths with lost messages and slow nodes)."""

from __future__ import annotations

import pytest

from apps.discovery.gossip.claims import Status
from apps.discovery.gossip.dissemination import Broadcasts
from apps.discovery.gossip.records import NodeKey, sign_claim, sign_record
from apps.discovery.gossip.simulation import NETWORK, VirtualNetwork, _record, frame_size
from apps.discovery.gossip.wire import (
    Ack,
    Gossip,
    Nack,
    Ping,
    PingReq,
    Sync,
    SyncAck,
    SyncDeltas,
    Update,
    encode_frame,
    frame_of,
)

KEY = NodeKey.from_seed(b"k" * 32)
RECORD = Update.of(_record(KEY, "kijani", "kijani.sim"))
CLAIM = Update.of(
    sign_claim(KEY, network_id=NETWORK, status=Status.ALIVE, subject=KEY.node_id, incarnation=3)
)
DIGEST = [(bytes([n]) * 32, n, 2 * n) for n in range(1, 30)]


@pytest.mark.parametrize(
    "message",
    [
        Ping(7, KEY.node_id, ()),
        Ping(2**32 - 1, KEY.node_id, (RECORD, CLAIM, CLAIM)),
        Ack(1, ()),
        Ack(9, (CLAIM,)),
        PingReq(5, KEY.node_id, "node-17.sim", 7946),
        PingReq(5, KEY.node_id, "2001:db8::1", 1),
        Nack(3),
        Gossip((RECORD,)),
        Gossip(()),
        Sync.of(DIGEST, with_digest=False),
        Sync.of(DIGEST, with_digest=True),
        SyncAck((KEY.node_id, bytes(32)), (RECORD, CLAIM)),
        SyncAck((), ()),
        SyncDeltas((CLAIM, RECORD)),
    ],
    ids=lambda message: type(message).__name__,
)
def test_frame_sizes_are_those_of_the_encoded_frames(message):
    assert frame_size(message) == len(encode_frame(frame_of(message)))


def test_a_converged_start_is_a_cluster_where_everyone_knows_everyone():
    network = VirtualNetwork(seed=2)
    nodes = network.add_converged([f"node-{n}" for n in range(12)])

    for node in nodes:
        assert len(node.membership) == 11
        assert not len(node.broadcasts)
        for other in nodes:
            if other is not node:
                member = node.membership.get(other.node_id)
                assert (member.status, member.record) == (Status.ALIVE, other.record)
    # Nothing to reconcile: the first anti-entropy rounds find equal digests.
    network.run_until(network.timers.probe_interval * 5)
    assert all(not len(node.broadcasts) for node in nodes)
    assert network.traffic.by_type.keys() <= {"Ping", "Ack", "Sync"}


def test_periodic_anti_entropy_sends_the_hash_and_reconciles_only_when_views_differ():
    network = VirtualNetwork(seed=4)
    informed, behind, publisher = network.add_converged([f"node-{n}" for n in range(3)])
    old = publisher.record
    new = sign_record(
        publisher.key,
        network_id=NETWORK,
        seq=2,
        role=old.role,
        name=old.name,
        url="https://v2.node-2.sim",
        gossip_host=old.gossip_host,
        gossip_port=old.gossip_port,
        books=(),
    )
    publisher.update_record(new)
    informed.receive(new, Gossip(()), now=network.now)  # the handshake carries the record
    network.stop(publisher.node_id)
    for node in (informed, behind):
        node.broadcasts = Broadcasts()  # the news can only travel by anti-entropy

    periodic = next(
        o for _ in range(50) for o in informed._sync_round() if o.node_id == behind.node_id
    )
    assert isinstance(periodic.message, Sync) and periodic.message.digest is None
    answer = behind.receive(informed.record, periodic.message, now=network.now)
    assert [type(o.message) for o in answer] == [Sync] and answer[0].message.digest

    assert behind.membership.record(publisher.node_id).seq == 1
    network.run_until(3 * behind._sync_period())
    assert behind.membership.record(publisher.node_id).seq == 2
    assert network.traffic.by_type["SyncAck"] > 0
    # Once they agree, a hash meets silence.
    hashed = Sync.of(behind._digest(), with_digest=False)
    assert informed.receive(behind.record, hashed, now=network.now) == []
