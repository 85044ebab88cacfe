"""The virtual network the discovery benchmark runs on: frame sizes counted exactly as the
transport would send them, a converged start that is a real converged cluster, and the protocol's
promises at small sizes (everyone informed, a stopped node dead everywhere within the bound the
timers give, no false deaths with lost messages and slow nodes)."""

from __future__ import annotations

import pytest

from apps.discovery.gossip.claims import Status
from apps.discovery.gossip.records import NodeKey, sign_claim
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
