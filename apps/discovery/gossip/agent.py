"""The discovery agent: one node's gossip engine (engine.py) driven by real time over TCP
(transport.py), with write-behind to a durable store.

The engine decides; the agent only moves bytes and time. It ticks the engine when it asks to be
woken (or when a message arrived, which may bring a deadline closer), sends what the engine says
to send without waiting for it, and every `flush_interval` hands the members that changed to the
store, in a thread of its own so a slow database never delays a probe. Every `record_interval`
it asks the store whether this node's record should change (its books grew, its URL moved) and
announces the new one, and which nodes an operator banned. A node that knows no live member
rejoins through its seeds.

Nothing here imports Django: the store is any object with `save`, `next_record` and `banned`
(apps/discovery/runner.py keeps it in the database).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Protocol

from .claims import NodeRecord, Status
from .engine import GossipNode, Outbound
from .transport import Address, Limits, Transport
from .wire import Message

logger = logging.getLogger(__name__)

MAX_PENDING_SENDS = 512
FAREWELL_SECONDS = 1.0
REJOIN_FIRST_SECONDS = 1.0


@dataclass(frozen=True)
class PeerState:
    node_id: bytes
    status: Status
    incarnation: int


@dataclass(frozen=True)
class RoundTripSeen:
    """A member answered a direct probe in SECONDS, at wall-clock time SEEN_AT (Unix seconds)."""

    node_id: bytes
    seconds: float
    seen_at: float


@dataclass(frozen=True)
class AgentStatus:
    """How the agent itself is doing, for the operator's page."""

    node_id: bytes
    incarnation: int
    health: int
    members: int
    refused: dict[str, int]
    refused_updates: int
    stale_updates: int
    send_failures: dict[str, int]
    dropped_sends: int


@dataclass(frozen=True)
class PeerView:
    """What changed since the last flush: newer records, newer states, fresh round trips."""

    records: list[NodeRecord]
    states: list[PeerState]
    round_trips: list[RoundTripSeen]
    status: AgentStatus


class AgentStore(Protocol):
    def save(self, view: PeerView) -> None:
        """Keep VIEW durably; may raise, and the agent offers the same changes again later."""

    def next_record(self, current: NodeRecord) -> NodeRecord | None:
        """A newer record of this node if what it should say differs from CURRENT, else None."""

    def banned(self) -> frozenset[bytes]:
        """The node ids an operator banned."""

    # Optional: `close()`, called in the store's thread when the agent stops.


@dataclass
class AgentSettings:
    seeds: list[Address]
    limits: Limits = field(default_factory=Limits)
    flush_interval: float = 2.0
    record_interval: float = 5.0
    rejoin_interval: float = 15.0


class GossipAgent:
    def __init__(
        self,
        *,
        node: GossipNode,
        store: AgentStore,
        settings: AgentSettings,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.node = node
        self.store = store
        self.settings = settings
        self.clock = clock
        self.wall_clock = wall_clock
        self.transport = Transport(
            key=node.key,
            network_id=node.network_id,
            record=lambda: self.node.record,
            deliver=self._deliver,
            limits=settings.limits,
            clock=clock,
            banned=lambda node_id: node_id in self.node.banned,
        )
        self.dropped_sends = 0
        self._wake = asyncio.Event()
        self._sends: set[asyncio.Task[bool]] = set()
        self._unsaved: set[bytes] = set()
        self._round_trips_flushed_at = 0.0
        # One thread for the store: a database connection per thread, and writes in order.
        self._store_thread = concurrent.futures.ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="gossip-store"
        )

    async def run(self, *, host: str, port: int, stopping: asyncio.Event) -> None:
        """Serve until STOPPING is set, then say goodbye, close and save what is left."""
        await self._refresh_from_store()
        await self.transport.start(host, port)
        self._join()
        loops = [
            asyncio.create_task(self._ticking()),
            asyncio.create_task(self._every(self.settings.flush_interval, self._flush)),
            asyncio.create_task(
                self._every(self.settings.record_interval, self._refresh_from_store)
            ),
            asyncio.create_task(self._rejoining()),
        ]
        try:
            await stopping.wait()
        finally:
            for loop in loops:
                loop.cancel()
            await asyncio.gather(*loops, return_exceptions=True)
            await self._say_goodbye()
            await self.transport.close()
            try:
                await self._flush()
            finally:
                # The store may hold resources of its thread (a database connection).
                close = getattr(self.store, "close", None)
                if close is not None:
                    await self._in_store_thread(close)
                self._store_thread.shutdown(wait=True)

    # Time.

    async def _ticking(self) -> None:
        while True:
            self._wake.clear()
            self._dispatch(self.node.tick(now=self.clock()))
            delay = max(self.node.next_wakeup() - self.clock(), 0.0)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(delay):
                    await self._wake.wait()

    async def _every(self, interval: float, action: Callable[[], object]) -> None:
        while True:
            await asyncio.sleep(interval)
            try:
                await action()
            except Exception:
                # The store being down must not stop gossip; the next round tries again.
                logger.exception("gossip agent: %s failed", action.__name__)

    # Messages.

    def _deliver(self, sender: NodeRecord, message: Message) -> None:
        self._dispatch(self.node.receive(sender, message, now=self.clock()))
        self._wake.set()

    def _dispatch(self, outbound: Iterable[Outbound]) -> None:
        for out in outbound:
            if len(self._sends) >= MAX_PENDING_SENDS:
                # Peers that do not read are not worth a growing backlog; SWIM tolerates loss.
                self.dropped_sends += 1
                continue
            task = asyncio.create_task(
                self.transport.send(
                    out.host, out.port, out.message, expect_node_id=out.node_id or None
                )
            )
            self._sends.add(task)
            task.add_done_callback(self._sends.discard)

    def _join(self) -> None:
        own = (self.node.record.gossip_host, self.node.record.gossip_port)
        seeds = [seed for seed in self.settings.seeds if seed != own]
        self._dispatch(self.node.join(seeds, now=self.clock()))

    async def _rejoining(self) -> None:
        """Join again while no member is alive: soon after a start (the seeds may be starting
        too), then less and less often, up to every `rejoin_interval`."""
        delay = REJOIN_FIRST_SECONDS
        while True:
            await asyncio.sleep(delay)
            if self.node.membership.members(Status.ALIVE, Status.SUSPECT):
                delay = REJOIN_FIRST_SECONDS
                continue
            self._join()
            delay = min(delay * 2, self.settings.rejoin_interval)

    async def _say_goodbye(self) -> None:
        self._dispatch(self.node.farewell(now=self.clock()))
        if self._sends:
            await asyncio.wait(set(self._sends), timeout=FAREWELL_SECONDS)

    # The store.

    async def _flush(self) -> None:
        """Save what changed, and the agent's status, which doubles as its heartbeat."""
        self._unsaved |= self.node.take_changes()
        flushed_at = self.clock()
        view = self._view()
        changed, self._unsaved = self._unsaved, set()
        try:
            await self._in_store_thread(self.store.save, view)
        except BaseException:
            self._unsaved |= changed
            raise
        self._round_trips_flushed_at = flushed_at

    def _view(self) -> PeerView:
        membership = self.node.membership
        records = [r for r in map(membership.record, self._unsaved) if r is not None]
        states = [
            PeerState(m.node_id, m.status, m.incarnation)
            for m in map(membership.get, self._unsaved)
            if m is not None
        ]
        offset = self.wall_clock() - self.clock()
        round_trips = [
            RoundTripSeen(node_id, trip.seconds, trip.at + offset)
            for node_id, trip in self.node.round_trips.items()
            if trip.at > self._round_trips_flushed_at
        ]
        return PeerView(records, states, round_trips, self.status())

    def status(self) -> AgentStatus:
        return AgentStatus(
            node_id=self.node.node_id,
            incarnation=self.node.membership.incarnation,
            health=self.node.health,
            members=len(self.node.membership.members(Status.ALIVE, Status.SUSPECT)),
            refused=dict(self.transport.stats),
            refused_updates=self.node.refused_updates,
            stale_updates=self.node.counters.stale_updates,
            send_failures=dict(self.transport.send_failures),
            dropped_sends=self.dropped_sends,
        )

    async def _refresh_from_store(self) -> None:
        """Announce a newer record of this node if there is one, and take up new bans."""
        record = await self._in_store_thread(self.store.next_record, self.node.record)
        if record is not None and record.seq > self.node.record.seq:
            self.node.update_record(record)
            logger.info("gossip agent: announcing record seq %s", record.seq)
        self.node.ban(await self._in_store_thread(self.store.banned))

    async def _in_store_thread(self, function, *args):
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._store_thread, function, *args)
