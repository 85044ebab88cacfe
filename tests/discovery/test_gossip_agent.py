"""The agent runs the engine over real TCP on loopback: nodes that join through one seed find
each other, hand what they learn to their store, announce a new record when the store says
so, and say goodbye when stopped. A store that fails loses nothing: the changes come again."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from dataclasses import dataclass, field

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from apps.discovery.gossip.agent import AgentSettings, GossipAgent, PeerView
from apps.discovery.gossip.claims import BookAnnouncement, NodeRecord, Role, Status
from apps.discovery.gossip.codec import uint
from apps.discovery.gossip.engine import GossipNode
from apps.discovery.gossip.membership import Timers
from apps.discovery.gossip.records import NodeKey, network_id_for
from apps.discovery.gossip.transport import Reason
from apps.discovery.gossip.wire import (
    WIRE_VERSION,
    FrameType,
    Hello,
    HelloAck,
    HelloFin,
    encode_frame,
    frame_of,
    new_nonce,
    read_frame,
    sign_hello_fin,
)
from tests.discovery.records import signed_record

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
    return signed_record(
        key, network_id=NETWORK, name=name, role=Role.INVESTOR, seq=seq, port=port, books=books
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
        probes = amani.agent.node.counters.probes
        await _until(lambda: amani.agent.node.counters.probes >= probes + 5)
        assert amani.agent.node.membership.get(chen.node_id) is None  # not heard of again
        assert baraka.store.status_of(chen.node_id) is Status.ALIVE
    finally:
        for agent in (amani, baraka, chen):
            await agent.stop()


MALLORY = NodeKey.from_seed(b"mallory".ljust(32, b"\0"))


async def _mallory_connects(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A hostile but well-configured node: she passes the handshake with her own key."""
    reader, writer = await asyncio.open_connection(HOST, port)
    nonce = new_nonce()
    hello = Hello(NETWORK, WIRE_VERSION, nonce, _record(MALLORY, "Mallory", _free_port()).raw)
    writer.write(encode_frame(frame_of(hello)))
    frame = await read_frame(reader, timeout=2, expect=(FrameType.HELLO_ACK,))
    ack = HelloAck.decode(frame.body)
    fin = sign_hello_fin(MALLORY, network_id=NETWORK, their_nonce=ack.nonce, own_nonce=nonce)
    writer.write(encode_frame(frame_of(HelloFin(fin))))
    await writer.drain()
    return reader, writer


def _hostile_chunks():
    frame_types = st.sampled_from([int(t) for t in FrameType] + [0, 99, 255])
    framed = st.builds(
        lambda length, kind, flags, body: uint(length, 4) + uint(kind, 1) + uint(flags, 1) + body,
        st.one_of(st.integers(0, 300), st.just(2**32 - 1)),
        frame_types,
        st.integers(0, 255),
        st.binary(max_size=300),
    )
    return st.lists(st.one_of(framed, st.binary(min_size=1, max_size=200)), min_size=1, max_size=8)


def _probed_since(prober: RunningAgent, target: RunningAgent, since: float) -> bool:
    trip = prober.agent.node.round_trips.get(target.node_id)
    return trip is not None and trip.at > since


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_hostile_chunks())
def test_whatever_bytes_a_verified_peer_sends_the_agent_keeps_serving_honest_peers(chunks):
    async def scenario() -> None:
        ines, amani = await _network("Ines", "Amani")
        try:
            await _until(lambda: _everyone_knows_everyone([ines, amani]))
            _, writer = await _mallory_connects(ines.agent.transport.port)
            with contextlib.suppress(OSError):
                for chunk in chunks:
                    writer.write(chunk)
                    await writer.drain()
            writer.close()

            probed_at = clock()
            await _until(
                lambda: (
                    _probed_since(amani, ines, probed_at) and _probed_since(ines, amani, probed_at)
                )
            )
            assert not ines.task.done()
            assert ines.agent.node.membership.get(amani.node_id).status is Status.ALIVE
        finally:
            await ines.stop()
            await amani.stop()

    clock = time.monotonic
    asyncio.run(scenario())
