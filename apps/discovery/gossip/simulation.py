"""A virtual network for the gossip engine: simulated time, latency and message loss, with the
real protocol code on every node (engine.GossipNode). Tests and the discovery benchmark use it.

Events run in time order from one heap: a node's wake-up (its `next_wakeup`) or a message
arriving. A stopped node neither wakes nor receives, as a killed process.
"""

from __future__ import annotations

import heapq
import itertools
import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from .claims import NodeRecord, Role
from .engine import GossipNode, Outbound, VerifiedUpdates
from .membership import Timers
from .records import NodeKey, network_id_for, sign_record
from .wire import encode_frame, frame_of

NETWORK = network_id_for("growr-simulation")
PORT = 7946


@dataclass
class Traffic:
    messages: int = 0
    dropped: int = 0
    bytes: int = 0
    by_node: Counter[bytes] = field(default_factory=Counter)


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
        self.traffic = Traffic()
        self._by_address: dict[tuple[str, int], bytes] = {}
        self._events: list[tuple[float, int, Callable[[], None]]] = []
        self._order = itertools.count()
        self._wakeups: dict[bytes, float] = {}
        # Verifying is a pure function of the bytes: one cache for every simulated node keeps
        # thousands of nodes affordable without changing what any node accepts.
        self.verified = VerifiedUpdates(network_id=NETWORK, size=1_000_000)

    def add_node(self, name: str, *, seeds: list[bytes] = ()) -> GossipNode:
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
        addresses = [(self.nodes[s].record.gossip_host, PORT) for s in seeds]
        self._send_all(node, node.join(addresses, now=self.now))
        self._wake(node)
        return node

    def stop(self, node_id: bytes) -> None:
        self.stopped.add(node_id)

    def run_until(self, until: float, *, stop_when: Callable[[], bool] | None = None) -> bool:
        """Run events up to virtual time UNTIL, or until STOP_WHEN() holds; return whether it
        did."""
        while self._events and self._events[0][0] <= until:
            at, _, action = heapq.heappop(self._events)
            self.now = at
            action()
            if stop_when is not None and stop_when():
                return True
        self.now = until
        return stop_when is not None and stop_when()

    def _schedule(self, at: float, action: Callable[[], None]) -> None:
        heapq.heappush(self._events, (at, next(self._order), action))

    def _wake(self, node: GossipNode) -> None:
        at = max(node.next_wakeup(), self.now)
        if self._wakeups.get(node.node_id) == at:
            return
        self._wakeups[node.node_id] = at
        self._schedule(at, lambda: self._tick(node, at))

    def _tick(self, node: GossipNode, at: float) -> None:
        if self._wakeups.get(node.node_id) != at or node.node_id in self.stopped:
            return  # superseded by an earlier wake-up, or the node was stopped
        del self._wakeups[node.node_id]
        self._send_all(node, node.tick(now=self.now))
        self._wake(node)

    def _send_all(self, sender: GossipNode, outbound: list[Outbound]) -> None:
        for out in outbound:
            size = len(encode_frame(frame_of(out.message)))
            self.traffic.messages += 1
            self.traffic.bytes += size
            self.traffic.by_node[sender.node_id] = (
                self.traffic.by_node.get(sender.node_id, 0) + size
            )
            if self.rng.random() < self.loss:
                self.traffic.dropped += 1
                continue
            receiver = self._by_address.get((out.host, out.port))
            if receiver is None:
                continue
            delay = self.rng.uniform(*self.latency)
            self._schedule(self.now + delay, _delivery(self, sender.record, receiver, out))

    def _deliver(self, sender: NodeRecord, receiver_id: bytes, out: Outbound) -> None:
        # What a stopped node sent before it stopped still arrives; it receives nothing more.
        if receiver_id in self.stopped:
            return
        receiver = self.nodes[receiver_id]
        self._send_all(receiver, receiver.receive(sender, out.message, now=self.now))
        self._wake(receiver)


def _delivery(network: VirtualNetwork, sender: NodeRecord, receiver: bytes, out: Outbound):
    return lambda: network._deliver(sender, receiver, out)


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
