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


def new_record(node, seq: int):
    old = node.record
    return sign_record(
        node.key,
        network_id=NETWORK,
        seq=seq,
        role=old.role,
        name=old.name,
        url=f"https://v{seq}.{old.gossip_host}",
        gossip_host=old.gossip_host,
        gossip_port=old.gossip_port,
        books=(),
    )


def test_a_new_record_reaches_every_node_within_the_serf_model_rounds():
    network = VirtualNetwork(seed=40)
    nodes = network.add_converged([f"node-{n}" for n in range(40)])
    network.run_until(2.0)
    publisher, start = nodes[7], network.now
    publisher.update_record(new_record(publisher, 2))

    def everyone_has_it() -> bool:
        return all(n is publisher or n.membership.record(publisher.node_id).seq == 2 for n in nodes)

    # Serf's convergence model gives 9 rounds to 99.99 % of 40 nodes at fanout 3.
    assert network.run_until(start + 9 * network.timers.gossip_interval, stop_when=everyone_has_it)


def test_nodes_joining_through_one_seed_converge():
    network = VirtualNetwork(seed=21)
    seed = network.add_node("seed")
    nodes = [seed, *(network.add_node(f"node-{n}", seeds=[seed.node_id]) for n in range(19))]

    def everyone_knows_everyone() -> bool:
        return all(len(n.membership.members(Status.ALIVE)) == 19 for n in nodes)

    assert network.run_until(30.0, stop_when=everyone_knows_everyone)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_stopped_node_is_dead_everywhere_soon_after_the_suspicion_minimum(seed):
    network = VirtualNetwork(seed=seed)
    nodes = network.add_converged([f"node-{n}" for n in range(30)])
    network.run_until(2.0)
    victim, timers = nodes[seed], network.timers
    live = [n for n in nodes if n is not victim]
    network.stop(victim.node_id)
    start = network.now

    def dead_everywhere() -> bool:
        return all(n.membership.get(victim.node_id).status is Status.DEAD for n in live)

    # Noticed within a few probe periods and confirmed by independent probes (Lifeguard), the
    # suspicion runs its minimum, not its maximum (35 s here), then the death spreads in ~1 s.
    bound = timers.suspicion_min(30) + 5 * timers.probe_interval
    assert network.run_until(start + timers.suspicion_max(30), stop_when=dead_everywhere)
    assert network.now - start <= bound


def test_with_lost_messages_and_a_slow_node_no_live_node_is_declared_dead():
    network = VirtualNetwork(seed=12, loss=0.01)
    nodes = network.add_converged([f"node-{n}" for n in range(30)])
    slow = nodes[5]
    # Every message reaches it a whole probe period late: it cannot answer a probe in time, so
    # it is suspected over and over, and must refute each time.
    network.slow[slow.node_id] = network.timers.probe_interval

    for second in range(1, 121):
        network.run_until(float(second))
        assert not any(n.membership.members(Status.DEAD) for n in nodes), second

    assert slow.counters.refutes > 10
    assert sum(n.counters.suspicions for n in nodes) > 10
