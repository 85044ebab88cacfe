"""A virtual network for the gossip engine: simulated time, latency and message loss, with the
real protocol code on every node (engine.GossipNode). Tests and the discovery benchmark use it.

Events run in time order from one heap: a node's wake-up (its `next_wakeup`) or a message
arriving. A stopped node neither wakes nor receives, as a killed process; a slow node (`slow`)
gets every message late by its extra delay, as a node whose receive path is stalled. Traffic
counts each message's encoded frame size as the transport would send it (`frame_size`).

`add_converged` starts nodes as a cluster that has already converged, without the join traffic:
each node's membership merges every other node's record and self-signed ALIVE claim (the merge a
received update goes through), its piggy-back queue starts empty (the join-time gossip is over),
and its probe, gossip and anti-entropy clocks start at random phases instead of in lockstep.
"""

from __future__ import annotations

import heapq
import itertools
import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from .claims import NodeRecord, Role
from .dissemination import Broadcasts
from .engine import GossipNode, Outbound, VerifiedUpdates
from .membership import Timers
from .records import NodeKey, network_id_for, sign_record
from .wire import (
    HEADER_BYTES,
    Ack,
    Gossip,
    Message,
    Nack,
    Ping,
    PingReq,
    Sync,
    SyncAck,
    SyncDeltas,
    Update,
    encode_frame,
    frame_of,
    max_frame_length,
)

NETWORK = network_id_for("growr-simulation")
PORT = 7946


_WAKE, _DELIVER = 0, 1


@dataclass
class Traffic:
    messages: int = 0
    dropped: int = 0
    bytes: int = 0
    by_node: Counter[bytes] = field(default_factory=Counter)
    by_type: Counter[str] = field(default_factory=Counter)


class VirtualNetwork:
    def __init__(
        self,
        *,
        seed: int = 1,
        latency: tuple[float, float] = (0.001, 0.010),
        loss: float = 0.0,
        timers: Timers | None = None,
        sync_interval: float = 30.0,
    ) -> None:
        self.rng = random.Random(seed)  # noqa: S311 - a reproducible simulation
        self.latency = latency
        self.loss = loss
        self.timers = timers or Timers()
        self.sync_interval = sync_interval
        self.now = 0.0
        self.nodes: dict[bytes, GossipNode] = {}
        self.stopped: set[bytes] = set()
        # Extra delay (seconds) of every message to a node: a slow node.
        self.slow: dict[bytes, float] = {}
        self.traffic = Traffic()
        self._by_address: dict[tuple[str, int], bytes] = {}
        self._events: list[tuple[float, int, int, GossipNode, object, object]] = []
        self._order = itertools.count()
        self._wakeups: dict[bytes, float] = {}
        # Verifying is a pure function of the bytes: one cache for every simulated node keeps
        # thousands of nodes affordable without changing what any node accepts.
        self.verified = VerifiedUpdates(network_id=NETWORK, size=1_000_000)

    def add_node(self, name: str, *, seeds: list[bytes] = ()) -> GossipNode:
        node = self._new_node(name)
        addresses = [(self.nodes[s].record.gossip_host, PORT) for s in seeds]
        self._send_all(node, node.join(addresses, now=self.now))
        self._wake(node)
        return node

    def add_converged(self, names: list[str]) -> list[GossipNode]:
        """Start NAMES as one cluster that has already converged (see the module docstring):
        every node knows every other's record and ALIVE claim, nothing waits to be gossiped."""
        nodes = [self._new_node(name) for name in names]
        known = [(node.record, node._alive) for node in nodes]
        for node in nodes:
            membership = node.membership
            for record, alive in known:
                if record.node_id != node.node_id:
                    membership.apply_record(record)
                    membership.apply_claim(alive, now=self.now)
            node.broadcasts = Broadcasts()
            schedule = node._schedule
            schedule.probe = self.now + node.rng.uniform(0, self.timers.probe_interval)
            schedule.gossip = self.now + node.rng.uniform(0, self.timers.gossip_interval)
            schedule.sync = self.now + node.rng.uniform(0, node._sync_period())
            self._wake(node)
        return nodes

    def _new_node(self, name: str) -> GossipNode:
        key = NodeKey.from_seed(_seed_of(name))
        host = f"{name}.sim"
        record = _record(key, name, host)
        node = GossipNode(
            key=key,
            network_id=NETWORK,
            record=record,
            timers=self.timers,
            rng=random.Random(self.rng.random()),  # noqa: S311
            sync_interval=self.sync_interval,
            verified=self.verified,
        )
        self.nodes[key.node_id] = node
        self._by_address[(host, PORT)] = key.node_id
        return node

    def stop(self, node_id: bytes) -> None:
        self.stopped.add(node_id)

    def run_until(self, until: float, *, stop_when: Callable[[], bool] | None = None) -> bool:
        """Run events up to virtual time UNTIL, or until STOP_WHEN() holds; return whether it
        did."""
        events, pop = self._events, heapq.heappop
        while events and events[0][0] <= until:
            at, _, kind, node, a, b = pop(events)
            self.now = at
            if kind == _WAKE:
                self._tick(node, a)
            else:
                self._deliver(a, node, b)
            if stop_when is not None and stop_when():
                return True
        self.now = until
        return stop_when is not None and stop_when()

    def _wake(self, node: GossipNode) -> None:
        at = max(node.next_wakeup(), self.now)
        if self._wakeups.get(node.node_id) == at:
            return
        self._wakeups[node.node_id] = at
        heapq.heappush(self._events, (at, next(self._order), _WAKE, node, at, None))

    def _tick(self, node: GossipNode, at: float) -> None:
        if self._wakeups.get(node.node_id) != at or node.node_id in self.stopped:
            return  # superseded by an earlier wake-up, or the node was stopped
        del self._wakeups[node.node_id]
        self._send_all(node, node.tick(now=self.now))
        self._wake(node)

    def _send_all(self, sender: GossipNode, outbound: list[Outbound]) -> None:
        traffic, rng = self.traffic, self.rng
        for out in outbound:
            size = frame_size(out.message)
            traffic.messages += 1
            traffic.bytes += size
            traffic.by_node[sender.node_id] += size
            traffic.by_type[type(out.message).__name__] += size
            if rng.random() < self.loss:
                traffic.dropped += 1
                continue
            receiver_id = self._by_address.get((out.host, out.port))
            if receiver_id is None:
                continue
            delay = rng.uniform(*self.latency) + self.slow.get(receiver_id, 0.0)
            receiver = self.nodes[receiver_id]
            event = (self.now + delay, next(self._order), _DELIVER, receiver, sender.record, out)
            heapq.heappush(self._events, event)

    def _deliver(self, sender: NodeRecord, receiver: GossipNode, out: Outbound) -> None:
        # What a stopped node sent before it stopped still arrives; it receives nothing more.
        if receiver.node_id in self.stopped:
            return
        self._send_all(receiver, receiver.receive(sender, out.message, now=self.now))
        self._wake(receiver)


def _updates_size(updates: tuple[Update, ...]) -> int:
    # u16 count, then per update: u8 kind, u16 length, the raw bytes.
    return 2 + sum(3 + len(update.raw) for update in updates)


_BODY_SIZES: dict[type, Callable[..., int]] = {
    Ping: lambda m: 4 + len(m.target) + _updates_size(m.piggyback),
    Ack: lambda m: 4 + _updates_size(m.piggyback),
    PingReq: lambda m: 4 + len(m.target) + 2 + 1 + len(m.host.encode("ascii")),
    Nack: lambda m: 4,
    Gossip: lambda m: _updates_size(m.updates),
    Sync: lambda m: len(m.digest_hash) + 1 + (0 if m.digest is None else 2 + 48 * len(m.digest)),
    SyncAck: lambda m: 2 + 32 * len(m.want) + _updates_size(m.deltas),
    SyncDeltas: lambda m: _updates_size(m.deltas),
}


def frame_size(message: Message) -> int:
    """len(encode_frame(frame_of(MESSAGE))), computed from the message's fields for the
    messages the engine sends (encoding every frame was most of a large simulation's time)."""
    body_size = _BODY_SIZES.get(type(message))
    if body_size is None:
        return len(encode_frame(frame_of(message)))
    size = HEADER_BYTES + body_size(message)
    if size - 4 > max_frame_length(message.FRAME_TYPE):
        encode_frame(frame_of(message))  # raises WireError, as the transport's send would
    return size


def _seed_of(name: str) -> bytes:
    return name.encode().ljust(32, b".")[:32]


def _record(key: NodeKey, name: str, host: str) -> NodeRecord:
    return sign_record(
        key,
        network_id=NETWORK,
        seq=1,
        role=Role.INVESTOR,
        name=name[:64],
        url=f"https://{host}",
        gossip_host=host,
        gossip_port=PORT,
        books=(),
    )
