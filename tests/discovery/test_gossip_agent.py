"""The agent runs the engine over real TCP on loopback: nodes that join through one seed find
each other, hand what they learn to their store, announce a new record when the store says
so, and say goodbye when stopped. A store that fails loses nothing: the changes come again."""

from __future__ import annotations

import asyncio
import socket
from dataclasses import dataclass, field

from apps.discovery.gossip.agent import AgentSettings, GossipAgent, PeerView
from apps.discovery.gossip.claims import BookAnnouncement, NodeRecord, Role, Status
from apps.discovery.gossip.engine import GossipNode
from apps.discovery.gossip.membership import Timers
from apps.discovery.gossip.records import NodeKey, network_id_for, sign_record
from apps.discovery.gossip.transport import Reason

HOST = "127.0.0.1"
NETWORK = network_id_for("growr-agent-test")
FAST = Timers(probe_interval=0.2, probe_timeout=0.1, gossip_interval=0.05, suspicion_mult=2)
SETTLE_SECONDS = 10.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


@dataclass
class MemoryStore:
    """What a database would keep, and a switch to make the next save fail."""

    key: NodeKey
    records: dict[bytes, NodeRecord] = field(default_factory=dict)
    states: dict[bytes, tuple[int, Status]] = field(default_factory=dict)
    round_trips: dict[bytes, float] = field(default_factory=dict)
    failing: bool = False
    failed_saves: int = 0
    next_books: tuple[BookAnnouncement, ...] | None = None
    bans: frozenset[bytes] = frozenset()

    def save(self, view: PeerView) -> None:
        if self.failing:
            self.failed_saves += 1
            raise ConnectionError("the database went away")
        for record in view.records:
            if record.node_id not in self.records or self.records[record.node_id].seq < record.seq:
                self.records[record.node_id] = record
        for state in view.states:
            rank = (state.incarnation, state.status)
            if rank > self.states.get(state.node_id, (-1, Status.ALIVE)):
                self.states[state.node_id] = rank
        for trip in view.round_trips:
            self.round_trips[trip.node_id] = trip.seconds

    def next_record(self, current: NodeRecord) -> NodeRecord | None:
        if self.next_books is None or self.next_books == current.books:
            return None
        seq = current.seq + 1
        return _record(self.key, current.name, current.gossip_port, seq, self.next_books)

    def banned(self) -> frozenset[bytes]:
        return self.bans

    def status_of(self, node: bytes) -> Status | None:
        state = self.states.get(node)
        return None if state is None else state[1]


def _record(key, name, port, seq=1, books=()) -> NodeRecord:
    return sign_record(
        key,
        network_id=NETWORK,
        seq=seq,
        role=Role.INVESTOR,
        name=name,
        url=f"https://{name.lower()}.example",
        gossip_host=HOST,
        gossip_port=port,
        books=books,
    )


@dataclass
class RunningAgent:
    name: str
    agent: GossipAgent
    store: MemoryStore
    stopping: asyncio.Event
    task: asyncio.Task

    @property
    def node_id(self) -> bytes:
        return self.agent.node.node_id

    async def stop(self) -> None:
        self.stopping.set()
        await self.task


async def _start(name: str, seeds: list[tuple[str, int]]) -> RunningAgent:
    key = NodeKey.from_seed(name.encode().ljust(32, b"\0"))
    port = _free_port()
    store = MemoryStore(key)
    node = GossipNode(key=key, network_id=NETWORK, record=_record(key, name, port), timers=FAST)
    agent = GossipAgent(
        node=node,
        store=store,
        settings=AgentSettings(seeds=seeds, flush_interval=0.1, record_interval=0.2),
    )
    stopping = asyncio.Event()
    task = asyncio.create_task(agent.run(host=HOST, port=port, stopping=stopping))
    while agent.transport.port is None:
        await asyncio.sleep(0.01)
    return RunningAgent(name, agent, store, stopping, task)


async def _until(condition, *, seconds: float = SETTLE_SECONDS) -> None:
    async with asyncio.timeout(seconds):
        while not condition():
            await asyncio.sleep(0.05)


async def _network(*names: str) -> list[RunningAgent]:
    seed = await _start(names[0], [])
    seed_address = (HOST, seed.agent.transport.port)
    return [seed] + [await _start(name, [seed_address]) for name in names[1:]]


def _everyone_knows_everyone(agents: list[RunningAgent]) -> bool:
    return all(
        other.node_id in agent.store.records
        and agent.store.status_of(other.node_id) is Status.ALIVE
        for agent in agents
        for other in agents
        if other is not agent
    )


async def test_nodes_that_join_through_one_seed_all_store_each_other():
    agents = await _network("Amani", "Baraka", "Chen")
    try:
        await _until(lambda: _everyone_knows_everyone(agents))
        await _until(lambda: all(len(a.store.round_trips) == 2 for a in agents))
        baraka = agents[1]
        assert baraka.agent.status().members == 2
        assert all(0 < rtt < 1 for rtt in baraka.store.round_trips.values())
    finally:
        for agent in agents:
            await agent.stop()


async def test_a_stopped_agent_says_goodbye_and_the_others_store_that_it_left():
    amani, baraka, chen = await _network("Amani", "Baraka", "Chen")
    try:
        await _until(lambda: _everyone_knows_everyone([amani, baraka, chen]))
        await chen.stop()
        await _until(
            lambda: (
                amani.store.status_of(chen.node_id) is Status.LEFT
                and baraka.store.status_of(chen.node_id) is Status.LEFT
            )
        )
    finally:
        await amani.stop()
        await baraka.stop()


async def test_a_new_record_from_the_store_reaches_every_peer():
    amani, baraka = await _network("Amani", "Baraka")
    try:
        await _until(lambda: _everyone_knows_everyone([amani, baraka]))
        book = BookAnnouncement(key=b"\x07" * 32, kind="projects", length=3)
        amani.store.next_books = (book,)
        await _until(lambda: baraka.store.records[amani.node_id].books == (book,))
        assert baraka.store.records[amani.node_id].seq == 2
    finally:
        await amani.stop()
        await baraka.stop()


async def test_changes_a_failed_save_held_are_saved_by_a_later_one():
    amani = await _start("Amani", [])
    amani.store.failing = True
    baraka = await _start("Baraka", [(HOST, amani.agent.transport.port)])
    try:
        await _until(lambda: amani.agent.node.membership.get(baraka.node_id) is not None)
        failed_before = amani.store.failed_saves
        await _until(lambda: amani.store.failed_saves > failed_before)
        assert baraka.node_id not in amani.store.records

        amani.store.failing = False

        await _until(lambda: _everyone_knows_everyone([amani, baraka]))
    finally:
        await amani.stop()
        await baraka.stop()


async def test_a_node_banned_in_the_store_is_refused_and_no_longer_heard():
    amani, baraka, chen = await _network("Amani", "Baraka", "Chen")
    try:
        await _until(lambda: _everyone_knows_everyone([amani, baraka, chen]))

        amani.store.bans = frozenset({chen.node_id})

        def refused() -> int:
            transport = amani.agent.transport
            return transport.stats[Reason.BANNED] + transport.send_failures[Reason.BANNED]

        await _until(lambda: refused() > 0)
        assert amani.agent.node.membership.get(chen.node_id) is None
        await asyncio.sleep(1.0)  # many probe periods: Chen is not heard of again
        assert amani.agent.node.membership.get(chen.node_id) is None
        assert baraka.store.status_of(chen.node_id) is Status.ALIVE
    finally:
        for agent in (amani, baraka, chen):
            await agent.stop()
