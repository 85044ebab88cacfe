"""The real protocol code on a virtual network: nodes started from one seed find each other,
a killed node is declared dead everywhere, a false suspicion is refuted, and lost messages do not
kill anyone."""

from __future__ import annotations

from apps.discovery.gossip.claims import Status
from apps.discovery.gossip.dissemination import Broadcasts
from apps.discovery.gossip.records import sign_claim
from apps.discovery.gossip.simulation import NETWORK, VirtualNetwork
from apps.discovery.gossip.wire import Gossip, Update


def start(network: VirtualNetwork, count: int):
    seed = network.add_node("kijani")
    others = [network.add_node(f"node-{n}", seeds=[seed.node_id]) for n in range(count - 1)]
    return [seed, *others]


def everyone_sees(nodes, status=Status.ALIVE, *, about=None):
    def check() -> bool:
        for node in nodes:
            for other in nodes if about is None else [about]:
                if other is node:
                    continue
                member = node.membership.get(other.node_id)
                if member is None or member.status is not status or member.record is None:
                    return False
        return True

    return check


def test_eight_nodes_started_from_one_seed_all_know_each_other():
    network = VirtualNetwork(seed=8)
    nodes = start(network, 8)

    assert network.run_until(30.0, stop_when=everyone_sees(nodes))
    assert network.now < 10.0
    assert {bytes(n.record.name, "utf-8") for n in nodes} >= {b"kijani", b"node-6"}


def test_a_killed_node_is_declared_dead_by_every_other_within_the_suspicion_bound():
    network = VirtualNetwork(seed=3)
    nodes = start(network, 8)
    network.run_until(30.0, stop_when=everyone_sees(nodes))
    victim = nodes[3]
    survivors = [n for n in nodes if n is not victim]

    network.stop(victim.node_id)
    killed_at = network.now
    victim_dead_for_all = everyone_sees([*survivors, victim], Status.DEAD, about=victim)

    assert network.run_until(killed_at + 120.0, stop_when=victim_dead_for_all)
    # Noticed within one round of probes, then confirmed suspicions run out early.
    one_probe_round = network.timers.probe_interval * len(survivors)
    assert network.now - killed_at <= one_probe_round + network.timers.suspicion_max(8)
    assert everyone_sees(survivors)()


def test_a_falsely_suspected_node_refutes_and_stays_alive_everywhere():
    network = VirtualNetwork(seed=5)
    nodes = start(network, 6)
    network.run_until(30.0, stop_when=everyone_sees(nodes))
    accuser, accused = nodes[1], nodes[4]

    suspicion = sign_claim(
        accuser.key,
        network_id=NETWORK,
        status=Status.SUSPECT,
        subject=accused.node_id,
        incarnation=0,
    )
    accused_view = accused.receive(accuser.record, Gossip((Update.of(suspicion),)), now=network.now)
    network._send_all(accused, accused_view)
    network.run_until(network.now + 30.0)

    assert accused.membership.incarnation == 1
    for node in nodes:
        if node is not accused:
            member = node.membership.get(accused.node_id)
            assert (member.status, member.incarnation) == (Status.ALIVE, 1)


def test_with_one_percent_of_messages_lost_nobody_is_declared_dead():
    network = VirtualNetwork(seed=11, loss=0.01)
    nodes = start(network, 10)
    network.run_until(30.0, stop_when=everyone_sees(nodes))

    network.run_until(network.now + 180.0)

    assert everyone_sees(nodes)()
    assert not any(m.status is Status.DEAD for n in nodes for m in n.membership.members())


def test_a_ping_to_a_suspect_carries_the_suspicion_so_it_refutes_at_once():
    network = VirtualNetwork(seed=6)
    prober, suspect, accuser = network.add_converged(["kijani", "amani", "ines"])
    suspicion = sign_claim(
        accuser.key,
        network_id=NETWORK,
        status=Status.SUSPECT,
        subject=suspect.node_id,
        incarnation=0,
    )
    prober.receive(accuser.record, Gossip((Update.of(suspicion),)), now=network.now)
    prober.broadcasts = Broadcasts()  # nothing queued: the suspicion rides only as the buddy
    prober._probe_order = [suspect.node_id]

    (ping,) = prober._next_probe(network.now)

    assert ping.node_id == suspect.node_id and ping.message.piggyback == (Update.of(suspicion),)
    (ack,) = suspect.receive(prober.record, ping.message, now=network.now)
    assert suspect.membership.incarnation == 1
    prober.receive(suspect.record, ack.message, now=network.now)
    assert prober.membership.get(suspect.node_id).status is Status.ALIVE
